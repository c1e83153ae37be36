"""HTML for evaluation results: summaries, comparisons and one example's result.

:class:`HTMLRenderer` is the core's renderer (``onetwo.core.rendering``: traces, values)
extended with the evaluation's results; it is ``ot.HTMLRenderer``, and what the results'
``_repr_html_`` calls in a notebook. It reads them through the small protocols below
(``onetwo.evaluation.results`` imports this module, so this one cannot import it).

Example:
    >>> from onetwo import ot
    >>> summary = ot.evaluate(strategy, examples, metric_functions=metrics)  # doctest: +SKIP
    >>> html = ot.HTMLRenderer().render(summary)                            # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from onetwo.core import rendering
from onetwo.core.rendering import details, error_block, escape, pre, seconds, table
from onetwo.core.tracing import Trace, TraceStats

__all__ = ["ComparisonLike", "ExampleLike", "HTMLRenderer", "SummaryLike"]


@runtime_checkable
class ExampleLike(Protocol):
    """One example's result (``onetwo.evaluation.evaluation.ExampleResult``)."""

    index: int
    inputs: dict[str, Any]
    target: Any
    prediction: Any
    metrics: dict[str, float]
    error: BaseException | None
    trace: Trace | None
    latency: float | None

    def stats(self) -> TraceStats: ...


@runtime_checkable
class SummaryLike(Protocol):
    """An evaluation's results (``onetwo.evaluation.evaluation.EvaluationSummary``)."""

    name: str
    results: Sequence[ExampleLike]
    errors: Sequence[ExampleLike]
    metrics: dict[str, float]
    counts: dict[str, int]
    duration: float

    def stats(self) -> TraceStats: ...


@runtime_checkable
class ComparisonLike(Protocol):
    """Summaries side by side (``onetwo.evaluation.evaluation.Comparison``)."""

    summaries: Mapping[str, SummaryLike]

    def overview(self) -> list[dict[str, Any]]: ...


def _number(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else escape(value)


class HTMLRenderer(rendering.HTMLRenderer):
    """Renders evaluation results, traces and plain values as escaped HTML.

    Takes the arguments of ``onetwo.core.rendering.HTMLRenderer`` (``levels_to_expand``,
    ``max_chars``, ``max_rows``, ``open_depth``); ``max_rows`` also caps table rows.
    """

    def body(self, obj: Any) -> str:
        if isinstance(obj, Trace):  # first: the checks against protocols below are slow
            return self.trace(obj)
        if isinstance(obj, ComparisonLike):
            return self.comparison(obj)
        if isinstance(obj, SummaryLike):
            return self.summary(obj)
        if isinstance(obj, ExampleLike):
            return self.example(obj)
        return super().body(obj)

    def example(self, result: ExampleLike) -> str:
        """One example: inputs, target, prediction or error, metrics, and its trace."""
        rows = [
            ("inputs", self.value(result.inputs)),
            ("target", pre(result.target, self.max_chars)),
            ("prediction", pre(result.prediction, self.max_chars)),
            ("metrics", self.value(result.metrics)),
        ]
        if result.error is not None:
            rows.append(("error", error_block(result.error)))
        body = table(["", ""], [(escape(k), v) for k, v in rows])
        if result.trace is not None:
            body += self.trace(result.trace, depth=self.open_depth)
        return details(f"<b>example {result.index}</b>", body, open=True)

    def summary(self, summary: SummaryLike) -> str:
        """Metrics and totals on top; examples and errors in collapsible tables."""
        stats = summary.stats()
        title = (
            f"<b>Evaluation {escape(summary.name)}</b> · {len(summary.results)} examples · "
            f"{len(summary.errors)} errors · {seconds(summary.duration)} · "
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
            f'<span class="ot-err">{self.short(result.error)}</span>'
            if result.error is not None
            else self.short(result.prediction, 200)
        )
        return [
            escape(result.index),
            self.short(result.inputs, 200),
            self.short(result.target, 200),
            prediction,
            *(_number(result.metrics.get(m, "")) for m in metric_names),
            seconds(result.latency),
            escape(stats.tokens),
            escape(stats.cache_hits),
        ]

    def _errors(self, summary: SummaryLike) -> str:
        if not summary.errors:
            return ""
        rows = [(escape(r.index), error_block(r.error)) for r in summary.errors[: self.max_rows]]
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
