"""Files written whole or not at all.

:func:`write_atomically` writes to a temporary file of its own in the same folder, then
renames it over the target: a reader, another process writing the same file at the same
moment, or a crash mid-write never sees half a file, and a failed write leaves no
temporary file behind. The dataset page cache and the retrieval index's manifest use it.
(``CallCache.export_jsonl`` streams its lines the same way in the core, below this layer.)

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "page.json"
    >>> write_atomically(path, b'{"rows": []}')
    >>> path.read_bytes()
    b'{"rows": []}'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` by a file holding ``data`` in one step (its folder is made).

    Raises:
        OSError: the folder or the file cannot be written; ``path`` is as it was.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
