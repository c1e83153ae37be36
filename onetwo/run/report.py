"""What a run ends with: ``summary.json``, a one-screen summary, and ``report.html``.

All three are computed from the rows in ``results.jsonl`` (so a resumed run reports the
examples of every session): per backend, the examples and errors, each metric's mean with
its standard error (sample standard deviation / √n), tokens, cache hits and the cache hit
rate, and the mean latency. ``report.html`` opens with that table (``id="summary"``),
then shows the examples side by side (``ot.HTMLRenderer`` on a ``Comparison`` rebuilt
from the rows) and, one click away, each example's traces from ``traces.jsonl``.

Example:
    >>> stats = backend_stats(rows)                      # doctest: +SKIP
    >>> stats["fake"]["metrics"]["exact"]                # doctest: +SKIP
    {'mean': 0.75, 'stderr': 0.25, 'n': 4}
"""

from __future__ import annotations

import json
import math
import operator
import os
from collections.abc import Iterable, Sequence
from typing import Any

from onetwo import ot
from onetwo.core import rendering
from onetwo.core.tracing import Trace
from onetwo.evaluation.evaluation import Comparison, EvaluationSummary, ExampleResult
from onetwo.run.results import read_traces

__all__ = [
    "REPORT",
    "SHOWN",
    "SUMMARY",
    "backend_stats",
    "latest_rows",
    "render_report",
    "screen",
    "write_summary",
]

SUMMARY = "summary.json"
SHOWN = 200  # examples shown side by side, with their traces (the first ones)
_PAGE_STYLE = "body{font-family:system-ui,sans-serif;margin:1.5em}h1{font-size:1.4em}"
REPORT = "report.html"


def latest_rows(
    earlier: Sequence[dict[str, Any]], rows: Iterable[dict[str, Any]]
) -> list[dict[str, Any]]:
    """One row per (id, backend, sample), the last written, in dataset order.

    Args:
        earlier: the rows of the sessions before (``--resume``), oldest first.
        rows: this session's, each written once: a row of ``earlier`` they repeat is
            dropped.
    """
    rows = [*earlier, *rows]
    if earlier:
        rows = list({(str(r["id"]), r["backend"], r["sample"]): r for r in rows}.values())
    return sorted(rows, key=operator.itemgetter("index", "sample"))


def _mean_and_stderr(values: list[float]) -> dict[str, Any]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return {"mean": mean, "stderr": None, "n": n}
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return {"mean": mean, "stderr": math.sqrt(variance / n), "n": n}


def backend_stats(rows: list[dict[str, Any]], backends: Iterable[str]) -> dict[str, Any]:
    """Per backend: counts, metric means with standard errors, tokens, cache, latency."""
    by_backend: dict[str, list[dict[str, Any]]] = {backend: [] for backend in backends}
    for row in rows:
        group = by_backend.get(row["backend"])
        if group is not None:
            group.append(row)
    stats: dict[str, Any] = {}
    for backend, mine in by_backend.items():
        values: dict[str, list[float]] = {}
        for row in mine:
            for name, value in row["metrics"].items():
                values.setdefault(name, []).append(value)
        hits, misses = _total(mine, "cache_hits"), _total(mine, "cache_misses")
        latencies = [r["latency_s"] for r in mine if r["latency_s"] is not None]
        stats[backend] = {
            "rows": len(mine),
            "errors": sum(r["error"] is not None for r in mine),
            "metrics": {name: _mean_and_stderr(v) for name, v in values.items()},
            "model_calls": _total(mine, "model_calls"),
            "prompt_tokens": _total(mine, "prompt_tokens"),
            "completion_tokens": _total(mine, "completion_tokens"),
            "tokens": _total(mine, "tokens"),
            "cache_hits": hits,
            "cache_misses": misses,
            "cache_hit_rate": hits / (hits + misses) if hits + misses else None,
            "mean_latency_s": sum(latencies) / len(latencies) if latencies else None,
        }
    return stats


def _total(rows: list[dict[str, Any]], field: str) -> int:
    return sum(map(operator.itemgetter(field), rows))


def write_summary(folder: str, summary: dict[str, Any]) -> None:
    with open(os.path.join(folder, SUMMARY), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2, default=repr)
        f.write("\n")


def _metric_text(value: dict[str, Any]) -> str:
    if value["stderr"] is None:
        return f"{value['mean']:.3f}"
    return f"{value['mean']:.3f} ± {value['stderr']:.3f}"


def _table_rows(stats: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    names = list(dict.fromkeys(m for s in stats.values() for m in s["metrics"]))
    headers = ["backend", "examples", "errors", *names, "tokens", "cache hit rate", "latency"]
    rows = []
    for backend, s in stats.items():
        rate = s["cache_hit_rate"]
        latency = s["mean_latency_s"]
        rows.append(
            [
                backend,
                str(s["rows"]),
                str(s["errors"]),
                *(_metric_text(s["metrics"][m]) if m in s["metrics"] else "-" for m in names),
                str(s["tokens"]),
                "-" if rate is None else f"{rate:.0%}",
                "-" if latency is None else f"{latency * 1000:.1f} ms",
            ]
        )
    return headers, rows


def screen(summary: dict[str, Any], folder: str) -> str:
    """The end-of-run text: a line of totals, a table per backend, where the files are."""
    headers, rows = _table_rows(summary["backends"])
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)) for line in [headers, *rows]]
    head = f"onetwo.run {_counts_text(summary)}"
    where = ", ".join(os.path.join(folder, n) for n in ("results.jsonl", SUMMARY, REPORT))
    return "\n".join([head, *lines, where])


def _counts_text(summary: dict[str, Any]) -> str:
    counts = summary["counts"]
    return (
        f"{summary['status']}: {counts['examples']} examples × {counts['backends']} backends × "
        f"{counts['samples']} samples, {counts['errors']} errors, {summary['wall_time_s']:.1f} s "
        f"({counts['run_now']} run now, {counts['resumed']} from before)"
    )


def _shown_note(total: int, shown: int) -> str:
    if shown >= total:
        return ""
    return f"<p>The first {shown} of {total} results; every one is in results.jsonl.</p>"


class _RecordedError(Exception):
    """An error read back from a file; shows as it was written."""

    def __repr__(self) -> str:
        return str(self)


def _recorded(text: str, opening: str = ": ") -> _RecordedError:
    """``"CacheMiss: no entry"`` (a row's error; a trace's is ``"CacheMiss('no entry')"``,
    ``opening="("``) as an error of that name, so the renderer shows it as it was."""
    name, sep, message = text.partition(opening)
    if not (sep and name.isidentifier()):
        return _RecordedError(text)
    if opening == "(":
        message = message.removesuffix(")")
    return type(name, (_RecordedError,), {})(message)


def _trace_of(data: dict[str, Any] | None) -> Trace | None:
    if data is None:
        return None
    return Trace(
        data["name"],
        data["kind"],
        data["inputs"],
        data["outputs"],
        None if data["error"] is None else _recorded(data["error"], "("),
        data["start"],
        data["end"],
        data["details"],
        [t for t in map(_trace_of, data["children"]) if t is not None],
    )


def _result_of(
    row: dict[str, Any] | None, trace: Trace | None, index: int, key: tuple[str, int]
) -> ExampleResult:
    """One sample's result; ``key`` (id, sample) keeps the samples of an example apart."""
    if row is None:  # this backend has not run this example (an interrupted run)
        missing = _RecordedError("not run yet (interrupted)")
        return ExampleResult(index, None, error=missing, key=key)
    error = None if row["error"] is None else _recorded(row["error"])
    inputs = {"id": row["id"], **(trace.inputs if trace is not None else {})}
    return ExampleResult(
        index, None, inputs, row["target"], row["output"], row["metrics"], {}, error, trace, key
    )


def render_report(summary: dict[str, Any], rows: list[dict[str, Any]], traces_path: str) -> str:
    """``report.html``: the summary table, the examples side by side, their traces.

    Args:
        summary: what ``summary.json`` holds.
        rows: the results, in dataset order (:func:`latest_rows`).
        traces_path: ``traces.jsonl``, where the traces of the examples shown are read.
    """
    headers, table_rows = _table_rows(summary["backends"])
    table = rendering.table(headers, ([rendering.escape(c) for c in r] for r in table_rows))
    # The first examples only: the renderer shows at most that many rows, and the totals of
    # every row are in the summary table above it. Rows are in dataset order: theirs first.
    shown: dict[tuple[str, int, int], None] = {}
    by_row = {}
    for r in rows:
        if (key := (str(r["id"]), r["sample"], r["index"])) not in shown:
            if len(shown) == SHOWN:
                break
            shown[key] = None
        by_row[(key[0], r["backend"], key[1])] = r
    keys, backends = list(shown), list(summary["backends"])
    by_key = {k: _trace_of(t) for k, t in read_traces(traces_path, set(by_row)).items()}
    comparison = Comparison(
        {
            b: EvaluationSummary.of(
                [
                    _result_of(by_row.get((i, b, s)), by_key.get((i, b, s)), n, (i, s))
                    for i, s, n in keys
                ],
                list(summary["backends"][b]["metrics"]),
                b,
                summary["wall_time_s"],
            )
            for b in backends
        }
    )
    renderer = ot.HTMLRenderer(max_rows=SHOWN)
    trace_blocks = []
    for i, s, _ in keys:
        parts = [
            rendering.details(rendering.escape(b), renderer.trace(trace))
            for b in backends
            if (trace := by_key.get((i, b, s))) is not None
        ]
        label = f"example {i}" + (f", sample {s}" if summary["counts"]["samples"] > 1 else "")
        trace_blocks.append(rendering.details(rendering.escape(label), "".join(parts)))
    title = rendering.escape(f"onetwo.run: {summary['fingerprint']['strategy']['spec']}")
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{title}</title><style>{_PAGE_STYLE}</style></head><body>"
        f"<h1>{title}</h1><p>{rendering.escape(_counts_text(summary))}</p>"
        f'<div class="onetwo" id="summary"><h2>Summary</h2>{table}</div>'
        f"<h2>Examples</h2>{_shown_note(len(rows), len(keys) * len(backends))}"
        f"{renderer.render(comparison)}"
        f"<h2>Traces</h2><div class=onetwo>{''.join(trace_blocks)}</div>"
        "</body></html>\n"
    )
