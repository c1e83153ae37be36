"""The folder an embedding index is saved to, and read back from.

Three files, no numpy:

* ``docs.jsonl``: one ``Document.to_json()`` per line, in index order;
* ``embeddings.f64``: the embeddings as they came from ``llm.embed``, row after row,
  little-endian float64 (exact: a Python float is one);
* ``index.json``: the format, the corpus name, the counts; written last, so a folder
  with it holds a complete save.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from onetwo.errors import InvalidArgumentError
from onetwo.stdlib.retrieval import _vectors
from onetwo.stdlib.retrieval.retrieval_data_structures import Document

__all__ = ["FORMAT", "read", "write"]

FORMAT = "onetwo.EmbeddingBasedDocumentIndex/1"
_MANIFEST, _DOCS, _EMBEDDINGS = "index.json", "docs.jsonl", "embeddings.f64"


def _folder(base_path: str | os.PathLike[str], doing: str) -> Path:
    path = Path(base_path)
    if path.exists() and not path.is_dir():
        raise InvalidArgumentError(
            f"Cannot {doing} the index at {str(path)!r}: it is a file, and an index is a "
            "folder of files. Give the path of a folder (it is created if missing)."
        )
    return path


def _replace(path: Path, data: bytes) -> None:
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def write(
    base_path: str | os.PathLike[str],
    corpus_name: str,
    docs: Sequence[Document],
    embeddings: Sequence[Sequence[float]],
) -> None:
    """Save ``docs`` and their ``embeddings`` (one per document) in the folder ``base_path``."""
    path = _folder(base_path, "save")
    path.mkdir(parents=True, exist_ok=True)
    (path / _MANIFEST).unlink(missing_ok=True)  # the folder is incomplete until the end
    _replace(path / _DOCS, "".join(d.to_json() + "\n" for d in docs).encode())
    values = array.array("d", (x for row in embeddings for x in row))
    if sys.byteorder == "big":
        values.byteswap()
    _replace(path / _EMBEDDINGS, values.tobytes())
    manifest = {
        "format": FORMAT,
        "corpus_name": corpus_name,
        "num_docs": len(docs),
        "embedding_size": len(embeddings[0]) if embeddings else 0,
    }
    _replace(path / _MANIFEST, json.dumps(manifest, indent=1).encode())


def _broken(path: Path, problem: str) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{str(path)!r} does not hold a saved index: {problem}. Give the folder an index "
        "was saved to with index.save(base_path)."
    )


def read(base_path: str | os.PathLike[str]) -> tuple[str, list[Document], list[_vectors.Vector]]:
    """``(corpus_name, docs, embeddings)`` as :func:`write` saved them in ``base_path``."""
    path = _folder(base_path, "load")
    try:
        manifest: dict[str, Any] = json.loads((path / _MANIFEST).read_text())
        lines = (path / _DOCS).read_text().splitlines()
        raw = (path / _EMBEDDINGS).read_bytes()
    except FileNotFoundError as e:
        raise _broken(path, f"{Path(e.filename or '').name} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _broken(path, f"{_MANIFEST} is not JSON ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _broken(path, f"{_MANIFEST} is not of the format {FORMAT!r}")
    count, size = manifest.get("num_docs"), manifest.get("embedding_size")
    docs = [Document.from_json(line) for line in lines if line.strip()]
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
