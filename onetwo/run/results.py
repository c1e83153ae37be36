"""``results.jsonl`` and ``traces.jsonl``: one line per finished sample, written at once.

Each finished example (with all its samples, on one backend) is appended to
``results.jsonl`` and flushed to the operating system before the next one is counted, so
a run that is killed loses only the examples in flight. A row holds the example's
``id``, the ``backend``, the ``sample`` number, the ``output``, ``target``, ``metrics``,
``error``, ``latency_s``, tokens and cache hits. The traces of the examples the report
shows (the first ones) go to ``traces.jsonl`` under the same keys; rerun one example with
``--ids`` (its calls replayed from the cache) to see its trace in the report.

:func:`read_rows` reads them back for ``--resume``: a last line cut short by a kill is
dropped, and cut off the files before they are appended to again.

Example:
    >>> with ResultsWriter("out") as writer:           # doctest: +SKIP
    ...     writer.write([row], [trace_row])
    >>> read_rows("out/results.jsonl")                 # doctest: +SKIP
    [{'id': 'q1', 'backend': 'fake', 'sample': 0, 'output': '4', ...}]
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from typing import Any

from onetwo.evaluation.evaluation import ExampleResult

__all__ = [
    "RESULTS",
    "ROW_FIELDS",
    "TRACES",
    "ResultsWriter",
    "cut_partial_line",
    "encode_row",
    "read_rows",
    "read_traces",
    "row_of",
    "unit_key",
]

RESULTS = "results.jsonl"
TRACES = "traces.jsonl"


def unit_key(example_id: Any, backend: str) -> tuple[str, str]:
    """How a row names the unit of work it belongs to: (example id, backend)."""
    return str(example_id), backend


ROW_FIELDS = (
    "id",
    "index",
    "backend",
    "sample",
    "output",
    "target",
    "metrics",
    "error",
    "latency_s",
    "model_calls",
    "prompt_tokens",
    "completion_tokens",
    "tokens",
    "cache_hits",
    "cache_misses",
)


def row_of(example_id: Any, backend: str, sample: int, result: ExampleResult) -> dict[str, Any]:
    """The ``results.jsonl`` row of one sample's :class:`ExampleResult` (``ROW_FIELDS``)."""
    stats = result.stats()
    return {
        "id": example_id,
        "index": result.index,
        "backend": backend,
        "sample": sample,
        "output": result.prediction,
        "target": result.target,
        "metrics": result.metrics,
        "error": None if result.error is None else f"{type(result.error).__name__}: {result.error}",
        "latency_s": result.latency,
        "model_calls": stats.model_calls,
        "prompt_tokens": stats.prompt_tokens,
        "completion_tokens": stats.completion_tokens,
        "tokens": stats.tokens,
        "cache_hits": stats.cache_hits,
        "cache_misses": stats.cache_misses,
    }


# --- encoding: what json.dumps(row, ensure_ascii=False, default=repr) gives, at half its cost

_ENCODER = json.JSONEncoder(ensure_ascii=False, default=repr)
_text = json.encoder.encode_basestring  # what _ENCODER quotes text with
_ROW = "{" + ", ".join(f"{_text(name)}: %s" for name in ROW_FIELDS) + "}\n"


def _json(value: Any) -> str:
    """``_ENCODER.encode(value)``, without its set-up for text, None, ints, finite floats."""
    kind = type(value)
    if kind is str:
        return _text(value)
    if value is None:
        return "null"
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    return _ENCODER.encode(value)


def _row_line(row: dict[str, Any]) -> str:
    """A ``row_of`` row's line: the constant keys in a template, each value encoded alone
    (JSON is the same in parts); ``TypeError`` on what the template does not take."""
    id_, index, backend, sample, output, target, metrics, error, latency, *counts = row.values()
    calls, prompt, completion, tokens, hits, misses = counts
    if not (int is type(index) is type(sample) is type(calls) is type(prompt)):
        raise TypeError("not an int")
    if not (int is type(completion) is type(tokens) is type(hits) is type(misses)):
        raise TypeError("not an int")
    if type(metrics) is not dict:
        raise TypeError("not a dict")
    metrics_text = ", ".join([f"{_text(name)}: {_json(v)}" for name, v in metrics.items()])
    return _ROW % (
        _json(id_),
        index,
        _text(backend),
        sample,
        _json(output),
        _json(target),
        f"{{{metrics_text}}}",
        _json(error),
        _json(latency),
        *counts,
    )


def encode_row(row: dict[str, Any]) -> bytes:
    """One line of ``results.jsonl`` (or ``traces.jsonl``): ``row`` as JSON, its newline.

    A row as :func:`row_of` makes it (its keys ``ROW_FIELDS``, in order) takes a faster
    path to the same bytes.
    """
    if tuple(row) == ROW_FIELDS:
        try:
            return _row_line(row).encode()
        except TypeError:  # a count that is not an int, a metric name that is not text...
            pass
    return (_ENCODER.encode(row) + "\n").encode()


class ResultsWriter:
    """Writes rows to ``results.jsonl`` and traces to ``traces.jsonl`` in ``folder``.

    Args:
        folder: where the files are.
        append: continue the files (``--resume``), after cutting off a last line a kill
            left unfinished; otherwise start them empty.
    """

    def __init__(self, folder: str, *, append: bool = False) -> None:
        paths = [os.path.join(folder, name) for name in (TRACES, RESULTS)]
        if append:
            for path in paths:
                cut_partial_line(path)
        # Unbuffered: each write() is one system call, in the file when it returns.
        self._traces, self._results = (
            open(p, "ab" if append else "wb", buffering=0) for p in paths
        )

    def write(self, rows: Sequence[dict[str, Any]], traces: Sequence[dict[str, Any]]) -> None:
        """Append one unit's rows (and their traces), handed to the operating system."""
        # Traces first: a row in results.jsonl means its trace (if kept) is there too.
        if traces:
            self._traces.write(b"".join(map(encode_row, traces)))
        self._results.write(b"".join(map(encode_row, rows)))

    def close(self) -> None:
        self._traces.close()
        self._results.close()

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def cut_partial_line(path: str) -> None:
    """Cut off the end of ``path`` after its last newline (what a kill mid-write leaves)."""
    if not os.path.exists(path):
        return
    with open(path, "r+b") as f:
        end = f.seek(0, os.SEEK_END)
        position = end
        while position > 0:
            step = min(position, 1 << 16)
            f.seek(position - step)
            newline = f.read(step).rfind(b"\n")
            if newline >= 0:
                position = position - step + newline + 1
                break
            position -= step
        if position < end:
            f.truncate(position)


def read_rows(path: str) -> list[dict[str, Any]]:
    """The rows of a JSONL file (none if it is missing), without a cut-short last line."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    complete = data[: data.rfind(b"\n") + 1]
    return [json.loads(line) for line in complete.decode("utf-8").splitlines() if line.strip()]


def read_traces(path: str, wanted: set[tuple[str, str, int]]) -> dict[tuple[str, str, int], Any]:
    """The traces of the ``(id, backend, sample)`` keys in ``wanted``, read from
    ``traces.jsonl`` until all are found (the report shows the first examples only)."""
    found: dict[tuple[str, str, int], Any] = {}
    if not wanted or not os.path.exists(path):
        return found
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # cut short by a kill
            data = json.loads(line)
            key = (str(data["id"]), data["backend"], data["sample"])
            if key in wanted:
                found[key] = data["trace"]
                if len(found) == len(wanted):
                    break
    return found
