"""The folder an embedding index is saved to, and read back from.

Three files, no numpy:

* ``docs-<save>.jsonl``: one ``Document.to_json()`` per line, in index order;
* ``embeddings-<save>.f64``: the embeddings as they came from ``llm.embed``, row after
  row, little-endian float64 (exact: a Python float is one);
* ``index.json``: the format, the corpus name, the counts and the two files' names.

A save writes its two data files under names of its own, then replaces ``index.json``
(atomically), then deletes the previous save's files: a crash or an error at any point
leaves the previous save loadable, and everything is encoded before the folder is
touched (a document whose metadata JSON cannot hold is refused first).

Example:
    >>> import tempfile
    >>> from onetwo.stdlib.retrieval.retrieval_data_structures import Document
    >>> folder = tempfile.mkdtemp()
    >>> write(folder, "zoo", [Document(doc_id="lion")], [[0.5, 1.0]])
    >>> corpus_name, docs, embeddings = read(folder)
    >>> corpus_name, docs[0].doc_id, [list(e) for e in embeddings]
    ('zoo', 'lion', [[0.5, 1.0]])
"""

from __future__ import annotations

import array
import json
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from onetwo.core.files import atomic_open
from onetwo.errors import InvalidArgumentError
from onetwo.stdlib.retrieval import _vectors
from onetwo.stdlib.retrieval.retrieval_data_structures import Document

__all__ = ["FORMAT", "read", "write"]

FORMAT = "onetwo.EmbeddingBasedDocumentIndex/1"
_MANIFEST = "index.json"


def _folder(base_path: str | os.PathLike[str], doing: str) -> Path:
    path = Path(base_path)
    if path.exists() and not path.is_dir():
        raise InvalidArgumentError(
            f"Cannot {doing} the index at {str(path)!r}: it is a file, and an index is a "
            "folder of files. Give the path of a folder (it is created if missing)."
        )
    return path


def _encoded_docs(docs: Sequence[Document]) -> bytes:
    lines = []
    for position, doc in enumerate(docs):
        try:
            lines.append(doc.to_json() + "\n")
        except (TypeError, ValueError) as e:
            raise InvalidArgumentError(
                f"Cannot save document {position} ({doc.doc_id!r}): its metadata does not fit "
                f"in JSON ({e}). Keep metadata values to str, numbers, bools, None, lists and "
                "dicts (e.g. a date as its isoformat())."
            ) from None
    return "".join(lines).encode("utf-8")


def write(
    base_path: str | os.PathLike[str],
    corpus_name: str,
    docs: Sequence[Document],
    embeddings: Sequence[Sequence[float]],
) -> None:
    """Save ``docs`` and their ``embeddings`` (one per document) in the folder ``base_path``."""
    path = _folder(base_path, "save")
    docs_bytes = _encoded_docs(docs)
    values = array.array("d")
    for row in embeddings:  # an array('d') row extends as one copy, a list as numbers
        values.extend(row)
    if sys.byteorder == "big":
        values.byteswap()
    save = uuid.uuid4().hex[:12]
    docs_name, embeddings_name = f"docs-{save}.jsonl", f"embeddings-{save}.f64"
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "corpus_name": corpus_name,
        "num_docs": len(docs),
        "embedding_size": len(embeddings[0]) if embeddings else 0,
        "docs": docs_name,
        "embeddings": embeddings_name,
    }
    path.mkdir(parents=True, exist_ok=True)
    previous = _previous_files(path)
    try:  # names of this save's own: no one reads them before index.json says so
        (path / docs_name).write_bytes(docs_bytes)
        (path / embeddings_name).write_bytes(values.tobytes())
        with atomic_open(path / _MANIFEST, "w") as f:  # from here on: this save
            json.dump(manifest, f, indent=1)
    except BaseException:
        for name in (docs_name, embeddings_name):  # a failed save leaves nothing behind
            (path / name).unlink(missing_ok=True)
        raise
    for name in previous - {docs_name, embeddings_name}:
        (path / name).unlink(missing_ok=True)


def _previous_files(path: Path) -> set[str]:
    """The data files the folder's current ``index.json`` names (none if unreadable)."""
    try:
        old = _json_file(path, _MANIFEST)
        names = {str(old["docs"]), str(old["embeddings"])}
    except (InvalidArgumentError, OSError, KeyError, TypeError):
        return set()
    return {n for n in names if Path(n).name == n}  # a plain name in this folder


def _broken(path: Path, problem: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{str(path)!r} does not hold a saved index: {problem}. Give the folder an index "
        "was saved to with index.save(base_path)."
    )


def read(base_path: str | os.PathLike[str]) -> tuple[str, list[Document], list[_vectors.Vector]]:
    """``(corpus_name, docs, embeddings)`` as :func:`write` saved them in ``base_path``."""
    path = _folder(base_path, "load")
    manifest = _json_file(path, _MANIFEST)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _broken(path, f"{_MANIFEST} is not of the format {FORMAT!r}")
    docs_name, embeddings_name = manifest.get("docs"), manifest.get("embeddings")
    if not (isinstance(docs_name, str) and isinstance(embeddings_name, str)) or any(
        Path(n).name != n for n in (docs_name, embeddings_name)
    ):
        raise _broken(path, f"{_MANIFEST} names no data files of this folder")
    try:
        lines = (path / docs_name).read_text(encoding="utf-8").splitlines()
        raw = (path / embeddings_name).read_bytes()
    except FileNotFoundError as e:
        raise _broken(path, f"{Path(e.filename or '').name} is missing") from None
    except UnicodeDecodeError as e:
        raise _broken(path, f"{docs_name} is not UTF-8 text ({e})") from None
    count, size = manifest.get("num_docs"), manifest.get("embedding_size")
    docs = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                docs.append(Document.from_json(line))
            except (ValueError, TypeError, InvalidArgumentError) as e:
                raise _broken(path, f"line {number} of {docs_name} is no document ({e})") from None
    values = array.array("d")
    if len(raw) % values.itemsize == 0:
        values.frombytes(raw)
    if sys.byteorder == "big":
        values.byteswap()
    if (
        not isinstance(count, int)
        or not isinstance(size, int)
        or len(docs) != count
        or len(values) != count * size
    ):
        raise _broken(
            path,
            f"{_MANIFEST} announces {count} documents of embedding size {size}, the files "
            f"hold {len(docs)} documents and {len(values)} numbers",
        )
    rows = [values[i * size : (i + 1) * size] for i in range(count)]
    return str(manifest.get("corpus_name", "unnamed")), docs, rows


def _json_file(path: Path, name: str) -> Any:
    try:
        return json.loads((path / name).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _broken(path, f"{name} is missing") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise _broken(path, f"{name} is not JSON ({e})") from None
