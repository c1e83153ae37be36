"""Files written whole or not at all.

:func:`atomic_open` hands out a temporary file of its own in the target's folder and, when
the block ends without an error, renames it over the target: a reader, another process
writing the same file at the same moment, or a crash mid-write never sees half a file,
and a failed write leaves the target as it was and no temporary file behind. The cache
export, the dataset page cache and the retrieval index's manifest write through it.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "page.json"
    >>> with atomic_open(path, "w") as f:
    ...     _ = f.write('{"rows": []}')
    >>> path.read_text()
    '{"rows": []}'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[IO[Any]]:
    """A file to write ``path``'s new content to (``mode`` ``"w"``: UTF-8 text, ``"wb"``:
    bytes); it replaces ``path`` in one step when the block ends (its folder is made).

    Raises:
        OSError: the folder or the file cannot be written; ``path`` is as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
