"""HTML for notebooks: traces, evaluation summaries and comparisons.

Traces and evaluation results display in Jupyter and Colab through ``_repr_html_``,
which calls :class:`HTMLRenderer`: everything from a run escaped (``<script>`` shows as
text), nested parts in collapsible ``<details>``, long values cut. It reads objects
through the small protocols below, so it imports neither tracing nor evaluation.

Example:
    >>> from onetwo import ot
    >>> html = ot.HTMLRenderer().render(trace)   # doctest: +SKIP
    >>> open("trace.html", "w").write(html)      # doctest: +SKIP

:func:`escape`, :func:`pre`, :func:`details` and :func:`table` serve other display code.
"""

from __future__ import annotations

import html
import pprint
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from onetwo.core.content import ChunkList, Message

__all__ = [
    "ComparisonLike",
    "ExampleLike",
    "HTMLRenderer",
    "StatsLike",
    "SummaryLike",
    "TraceLike",
    "details",
    "escape",
    "pre",
    "table",
]


# What the renderer reads of each object; ``render`` tells them apart by these attributes.


class StatsLike(Protocol):
    """Totals of a run (``onetwo.core.tracing.TraceStats``)."""

    calls: int
    model_calls: int
    cache_hits: int
    tokens: int


@runtime_checkable
class TraceLike(Protocol):
    """A trace node (``onetwo.core.tracing.Trace``)."""

    name: str
    kind: str
    inputs: dict[str, Any]
    outputs: Any
    error: BaseException | None
    end: float | None
    duration: float | None
    details: dict[str, Any]
    children: Sequence[TraceLike]

    def stats(self) -> StatsLike: ...


@runtime_checkable
class ExampleLike(Protocol):
    """One example's result (``onetwo.evaluation.evaluation.ExampleResult``)."""

    index: int
    inputs: dict[str, Any]
    target: Any
    prediction: Any
    metrics: dict[str, float]
    error: BaseException | None
    trace: TraceLike | None
    latency: float | None

    def stats(self) -> StatsLike: ...


@runtime_checkable
class SummaryLike(Protocol):
    """An evaluation's results (``onetwo.evaluation.evaluation.EvaluationSummary``)."""

    name: str
    results: Sequence[ExampleLike]
    errors: Sequence[ExampleLike]
    metrics: dict[str, float]
    counts: dict[str, int]
    duration: float

    def stats(self) -> StatsLike: ...


@runtime_checkable
class ComparisonLike(Protocol):
    """Summaries side by side (``onetwo.evaluation.evaluation.Comparison``)."""

    summaries: Mapping[str, SummaryLike]

    def overview(self) -> list[dict[str, Any]]: ...


_STYLE = (
    "<style>.onetwo{font-family:system-ui,sans-serif;font-size:13px}"
    ".onetwo details{margin:2px 0 2px 1.2em}.onetwo summary{cursor:pointer}"
    ".onetwo table{border-collapse:collapse;margin:4px 0}"
    ".onetwo th,.onetwo td{border:1px solid #8886;padding:2px 6px;text-align:left;"
    "vertical-align:top}.onetwo pre{white-space:pre-wrap;word-break:break-word;margin:0;"
    "font-size:12px}.onetwo .ot-dim{opacity:.65}.onetwo .ot-err{color:#d33}</style>"
)
# Shown in a node's headline rather than in its details table.
_HEADLINE_DETAILS = frozenset(
    {"backend", "model", "prompt_tokens", "completion_tokens", "cache_hit"}
)


def escape(value: Any) -> str:
    """``value`` as text safe to put in HTML (``<``, ``>``, ``&`` and quotes escaped)."""
    return html.escape(value if isinstance(value, str) else str(value), quote=True)


def _text(value: Any, limit: int) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, ChunkList):
        text = str(value)
    elif isinstance(value, BaseException):
        text = f"{type(value).__name__}: {value}"
    else:
        text = pprint.pformat(value, width=100, sort_dicts=False)
    if len(text) > limit:
        text = f"{text[:limit]}… ({len(text) - limit} more characters)"
    return text


def pre(value: Any, limit: int = 2000) -> str:
    """``value`` (a string as is, anything else pretty-printed), cut, escaped, in ``<pre>``."""
    return f"<pre>{escape(_text(value, limit))}</pre>"


def details(summary: str, body: str, *, open: bool = False) -> str:
    """A collapsible block; ``summary`` and ``body`` are HTML already."""
    return f"<details{' open' if open else ''}><summary>{summary}</summary>{body}</details>"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table; ``headers`` are plain text (escaped here), cells are HTML already."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _seconds(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _error(error: BaseException | None) -> str:
    return f'<div class="ot-err">{pre(error)}</div>'


def _number(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else escape(value)


class HTMLRenderer:
    """Renders onetwo objects (and plain values) as self-contained, escaped HTML.

    Args:
        max_chars: longer values are cut to this many characters.
        max_rows: at most this many children of a trace node / rows of a table.
        open_depth: trace nodes this deep or shallower start expanded.
    """

    def __init__(self, *, max_chars: int = 2000, max_rows: int = 200, open_depth: int = 1):
        self.max_chars = max_chars
        self.max_rows = max_rows
        self.open_depth = open_depth

    def render(self, obj: Any) -> str:
        """The HTML of ``obj``: a trace, a summary, a comparison, an example's result, or
        any value (pretty-printed)."""
        return f'<div class="onetwo">{_STYLE}{self._body(obj)}</div>'

    def _body(self, obj: Any) -> str:
        if isinstance(obj, ComparisonLike):
            return self.comparison(obj)
        if isinstance(obj, SummaryLike):
            return self.summary(obj)
        if isinstance(obj, ExampleLike):
            return self.example(obj)
        if isinstance(obj, TraceLike):
            return self.trace(obj)
        return self.value(obj)

    # --- values ------------------------------------------------------------------

    def value(self, value: Any) -> str:
        """A value: chat messages by role, dicts as key/value rows, the rest in ``<pre>``."""
        if isinstance(value, list | tuple) and value and all(isinstance(m, Message) for m in value):
            rows = [(f"<b>{escape(m.role)}</b>", pre(m.content, self.max_chars)) for m in value]
            return table(["role", "content"], rows)
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            rows = [(escape(k), pre(v, self.max_chars)) for k, v in value.items()]
            return table(["name", "value"], rows)
        return pre(value, self.max_chars)

    def _short(self, value: Any, limit: int = 80) -> str:
        return escape(_text(value, limit).replace("\n", " ⏎ "))

    # --- traces --------------------------------------------------------------------

    def trace(self, node: TraceLike, depth: int = 0) -> str:
        """A trace node and its children, as nested collapsible blocks."""
        parts = []
        if node.inputs:
            parts.append(self._labelled("inputs", self.value(node.inputs)))
        if node.error is not None:
            parts.append(self._labelled("error", _error(node.error)))
        elif node.end is not None or node.outputs is not None:
            parts.append(self._labelled("output", self.value(node.outputs)))
        extra = {k: v for k, v in node.details.items() if k not in _HEADLINE_DETAILS}
        if extra:
            parts.append(self._labelled("details", self.value(extra)))
        children = node.children[: self.max_rows]
        parts.extend(self.trace(child, depth + 1) for child in children)
        if len(node.children) > len(children):
            more = len(node.children) - len(children)
            parts.append(f'<div class="ot-dim">… {more} more calls</div>')
        return details(self._headline(node), "".join(parts), open=depth < self.open_depth)

    def _labelled(self, label: str, body: str) -> str:
        return f'<div><span class="ot-dim">{escape(label)}</span>{body}</div>'

    def _headline(self, node: TraceLike) -> str:
        bits = [f"<b>{escape(node.name)}</b>"]
        d = node.details
        if "backend" in d:
            bits.append(escape(f"{d['backend']}:{d.get('model', '')}"))
        bits.append("running…" if node.duration is None else _seconds(node.duration))
        if d.get("prompt_tokens") is not None or d.get("completion_tokens") is not None:
            tokens = f"{d.get('prompt_tokens', '?')}+{d.get('completion_tokens', '?')} tokens"
            bits.append(escape(tokens))
        if d.get("cache_hit") is not None:
            bits.append("cache hit" if d["cache_hit"] else "cache miss")
        if node.kind != "builtin":
            stats = node.stats()
            if stats.calls:
                bits.append(f"{stats.calls} calls")
        if node.error is not None:
            bits.append(f'<span class="ot-err">{self._short(node.error)}</span>')
        elif node.end is not None:
            bits.append(f'<span class="ot-dim">→ {self._short(node.outputs)}</span>')
        return " · ".join(bits)

    # --- evaluation ----------------------------------------------------------------

    def example(self, result: ExampleLike) -> str:
        """One example: inputs, target, prediction or error, metrics, and its trace."""
        rows = [
            ("inputs", self.value(result.inputs)),
            ("target", pre(result.target, self.max_chars)),
            ("prediction", pre(result.prediction, self.max_chars)),
            ("metrics", self.value(result.metrics)),
        ]
        if result.error is not None:
            rows.append(("error", _error(result.error)))
        body = table(["", ""], [(escape(k), v) for k, v in rows])
        if result.trace is not None:
            body += self.trace(result.trace, depth=self.open_depth)
        return details(f"<b>example {result.index}</b>", body, open=True)

    def summary(self, summary: SummaryLike) -> str:
        """Metrics and totals on top; examples and errors in collapsible tables."""
        stats = summary.stats()
        title = (
            f"<b>Evaluation {escape(summary.name)}</b> · {len(summary.results)} examples · "
            f"{len(summary.errors)} errors · {_seconds(summary.duration)} · "
            f"{stats.model_calls} model calls · {stats.tokens} tokens · "
            f"{stats.cache_hits} cache hits"
        )
        metrics = table(
            ["metric", "mean", "examples"],
            [
                (escape(k), _number(v), escape(summary.counts[k]))
                for k, v in summary.metrics.items()
            ],
        )
        names = list(summary.counts)
        rows = [self._example_row(r, names) for r in summary.results[: self.max_rows]]
        headers = ["#", "inputs", "target", "prediction", *names, "latency", "tokens", "cache"]
        examples = details("examples", table(headers, rows) + self._cut(len(summary.results)))
        return f"<div>{title}</div>{metrics}{examples}{self._errors(summary)}"

    def _example_row(self, result: ExampleLike, metric_names: list[str]) -> list[str]:
        stats = result.stats()
        prediction = (
            f'<span class="ot-err">{self._short(result.error)}</span>'
            if result.error is not None
            else self._short(result.prediction, 200)
        )
        return [
            escape(result.index),
            self._short(result.inputs, 200),
            self._short(result.target, 200),
            prediction,
            *(_number(result.metrics.get(m, "")) for m in metric_names),
            _seconds(result.latency),
            escape(stats.tokens),
            escape(stats.cache_hits),
        ]

    def _errors(self, summary: SummaryLike) -> str:
        if not summary.errors:
            return ""
        rows = [(escape(r.index), _error(r.error)) for r in summary.errors[: self.max_rows]]
        return details(f"{len(summary.errors)} errors", table(["#", "error"], rows))

    def _cut(self, total: int) -> str:
        if total <= self.max_rows:
            return ""
        return f'<div class="ot-dim">… {total - self.max_rows} more rows</div>'

    def comparison(self, comparison: ComparisonLike) -> str:
        """Backends' totals, then one row per example with the backends side by side."""
        overview = comparison.overview()
        headers = list(dict.fromkeys(k for row in overview for k in row))
        top = table(headers, [[_number(row.get(h, "")) for h in headers] for row in overview])
        summaries = comparison.summaries
        metric_names = list(dict.fromkeys(m for s in summaries.values() for m in s.counts))
        columns = ["prediction", *metric_names, "latency", "tokens", "cache"]
        headers = ["#", "inputs", "target", *(f"{n}: {c}" for n in summaries for c in columns)]
        rows = []
        for results in zip(*(s.results[: self.max_rows] for s in summaries.values())):
            row = self._example_row(results[0], metric_names)[:3]
            for result in results:
                row += self._example_row(result, metric_names)[3:]
            rows.append(row)
        total = len(next(iter(summaries.values())).results)
        side_by_side = details(
            "examples, side by side", table(headers, rows) + self._cut(total), open=True
        )
        return f"<div><b>Comparison</b> of {len(summaries)} backends</div>{top}{side_by_side}"
