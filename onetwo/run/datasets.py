"""Datasets: examples read from JSONL, JSON or CSV, each with its id, and the file's digest.

An example's id is its ``id`` field when it has one, else its line number (JSONL: the
line in the file, counting from 1) or its position (JSON list, CSV rows: from 1). Ids
must be unique: ``results.jsonl`` and ``--resume`` know examples by them.

Example:
    >>> dataset = load_dataset("questions.jsonl")            # doctest: +SKIP
    >>> dataset.entries[0].id, dataset.entries[0].example    # doctest: +SKIP
    ('q1', {'id': 'q1', 'question': '2+2=', 'answer': '4'})
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
from collections.abc import Sequence
from typing import Any

from onetwo.run.errors import InputError

__all__ = ["Dataset", "Entry", "load_dataset", "select"]


@dataclasses.dataclass(frozen=True, slots=True)
class Entry:
    """One example: its id (as written to ``results.jsonl``), position and content."""

    id: Any
    index: int
    example: dict[str, Any]

    @property
    def key(self) -> str:
        """The id as a string: how ``--ids`` and ``--resume`` match examples."""
        return str(self.id)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """The examples of one file and the SHA-256 of its bytes."""

    path: str
    entries: list[Entry]
    sha256: str


def _where(path: str, n: int, jsonl: bool) -> str:
    return f"{path}, line {n}" if jsonl else f"{path}, example {n}"


_DECODER = json.JSONDecoder()


def _loads(line: str) -> Any:
    """``json.loads(line)``, at less than half its cost on a line holding one value alone."""
    try:
        value, end = _DECODER.raw_decode(line)
        if end == len(line):
            return value
    except json.JSONDecodeError:
        pass
    return json.loads(line)  # whitespace around the value, or the error to report


def _parse_jsonl(path: str, text: str) -> list[tuple[int, Any]]:
    rows = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line or line.isspace():
            continue
        try:
            rows.append((n, _loads(line)))
        except json.JSONDecodeError as e:
            raise InputError(
                f"{path}, line {n}: not valid JSON ({e.msg} at column {e.colno}): "
                f"{line[:80]!r}. Each line holds one JSON object, e.g. "
                '{"id": "q1", "question": "2+2=", "answer": "4"}.'
            ) from None
    return rows


def _parse_json(path: str, text: str) -> list[tuple[int, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(
            f"{path}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno}). A .json "
            "dataset is one list of objects; for one object a line, name the file .jsonl."
        ) from None
    if not isinstance(data, list):
        raise InputError(
            f"{path}: a .json dataset is a list of objects, got a {type(data).__name__}. "
            'Write [{"question": ...}, ...], or use .jsonl.'
        )
    return list(enumerate(data, start=1))


def _parse_csv(path: str, text: str) -> list[tuple[int, Any]]:
    return list(enumerate(csv.DictReader(io.StringIO(text, newline="")), start=1))


_PARSERS = {".jsonl": _parse_jsonl, ".json": _parse_json, ".csv": _parse_csv}


def load_dataset(path: str) -> Dataset:
    """Read ``path`` (``.jsonl``, ``.json`` or ``.csv``); bad input raises ``InputError``."""
    extension = os.path.splitext(path)[1].lower()
    parser = _PARSERS.get(extension)
    if parser is None:
        raise InputError(
            f"--dataset={path}: unknown format {extension or '(no extension)'!r}; use a "
            ".jsonl (one JSON object a line), .json (a list of objects) or .csv file."
        )
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(
            f"--dataset={path}: cannot read it ({e.strerror}). Check the path."
        ) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InputError(f"--dataset={path}: not UTF-8 text ({e}). Save it as UTF-8.") from None
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    jsonl = extension == ".jsonl"
    for index, (n, example) in enumerate(parser(path, text)):
        if not isinstance(example, dict):
            raise InputError(
                f"{_where(path, n, jsonl)}: an example is a JSON object, got "
                f"{type(example).__name__} {example!r:.60}. Write e.g. "
                '{"question": "2+2=", "answer": "4"}.'
            )
        entry = Entry(example.get("id", n), index, example)
        key = entry.key
        if key in seen:
            raise InputError(
                f"{_where(path, n, jsonl)}: id {entry.id!r} is already the id of "
                f"{_where(path, seen[key], jsonl)}. Ids must be unique: results and "
                "--resume know examples by them."
            )
        seen[key] = n
        entries.append(entry)
    return Dataset(path, entries, hashlib.sha256(data).hexdigest())


def select(entries: list[Entry], ids: Sequence[str], limit: int | None) -> list[Entry]:
    """The entries named by ``ids`` (all if empty), then the first ``limit`` of them."""
    if ids:
        known = {e.key for e in entries}
        missing = [i for i in ids if i not in known]
        if missing:
            raise InputError(
                f"--ids names examples that are not in the dataset: {missing[:10]}. The "
                f"dataset's first ids: {[e.key for e in entries[:5]]}."
            )
        wanted = set(ids)
        entries = [e for e in entries if e.key in wanted]
    return entries if limit is None else entries[:limit]
