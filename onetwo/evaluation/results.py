"""What :func:`~onetwo.evaluation.evaluation.evaluate` and ``compare`` return.

:class:`ExampleResult` (one example), :class:`EvaluationSummary` (one evaluation, with
averaged metrics) and :class:`Comparison` (one summary per backend). Each converts to
plain rows (``to_dict``/``to_dicts``, e.g. for ``pandas.DataFrame``) and displays as an
escaped HTML table in a notebook. Import them from ``onetwo.evaluation.evaluation``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from onetwo.core import tracing
from onetwo.core.tracing import TraceStats
from onetwo.evaluation.rendering import HTMLRenderer

__all__ = ["Comparison", "EvaluationSummary", "ExampleResult"]


class _Displayed:
    """Displays as an escaped HTML table in a notebook."""

    def _repr_html_(self) -> str:
        return HTMLRenderer().render(self)


@dataclasses.dataclass(eq=False)
class ExampleResult(_Displayed):
    """What happened on one example.

    Attributes:
        index: the example's position in the dataset.
        example: the example itself.
        inputs: the arguments the strategy got, by name.
        target: what ``target_extractor`` returned (``None`` without one).
        prediction: what the strategy returned (``None`` if it failed).
        metrics: metric name → value, for the metrics that returned one.
        info: extra information returned by metric functions as ``(value, info)``.
        error: the exception raised by the strategy, an extractor or a metric.
        trace: the trace of the strategy's run on this example.
    """

    index: int
    example: Any
    inputs: dict[str, Any] = dataclasses.field(default_factory=dict)
    target: Any = None
    prediction: Any = None
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    error: BaseException | None = None
    trace: tracing.Trace | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def latency(self) -> float | None:
        """Seconds the strategy took on this example."""
        return None if self.trace is None else self.trace.duration

    def stats(self) -> TraceStats:
        """Model calls, tokens and cache hits of this example's run."""
        return TraceStats() if self.trace is None else self.trace.stats()

    def to_dict(self) -> dict[str, Any]:
        """A flat row: inputs, target, prediction, metrics, latency, tokens, cache hits."""
        stats = self.stats()
        return {
            "index": self.index,
            "inputs": self.inputs,
            "target": self.target,
            "prediction": self.prediction,
            **self.metrics,
            "latency_s": self.latency,
            "model_calls": stats.model_calls,
            "tokens": stats.tokens,
            "cache_hits": stats.cache_hits,
            "error": None if self.error is None else repr(self.error),
        }

    def __repr__(self) -> str:
        outcome = (
            f"error={self.error!r:.80}" if self.error else f"prediction={self.prediction!r:.80}"
        )
        return f"ExampleResult({self.index}, {outcome}, metrics={self.metrics})"


@dataclasses.dataclass(eq=False)
class EvaluationSummary(_Displayed):
    """The results of :func:`evaluate`: averaged metrics and every example's result.

    Attributes:
        results: one :class:`ExampleResult` per example, in dataset order.
        metrics: metric name → mean over the examples that have a value for it
            (failed examples have none).
        counts: metric name → how many examples the mean is over.
        name: a label (the strategy's, or the backend's in a :class:`Comparison`).
        duration: wall-clock seconds for the whole evaluation.
    """

    results: list[ExampleResult]
    metrics: dict[str, float]
    counts: dict[str, int]
    name: str = ""
    duration: float = 0.0

    @classmethod
    def of(
        cls, results: list[ExampleResult], metric_names: Iterable[str], name: str, duration: float
    ) -> EvaluationSummary:
        metrics, counts = {}, {}
        for metric in metric_names:
            values = [r.metrics[metric] for r in results if metric in r.metrics]
            counts[metric] = len(values)
            if values:
                metrics[metric] = sum(values) / len(values)
        return cls(results, metrics, counts, name, duration)

    @property
    def errors(self) -> list[ExampleResult]:
        """The examples that failed."""
        return [r for r in self.results if r.error is not None]

    @property
    def predictions(self) -> list[Any]:
        return [r.prediction for r in self.results]

    def stats(self) -> TraceStats:
        """Model calls, tokens, cache hits and errors over all examples."""
        return sum((r.stats() for r in self.results), TraceStats())

    def to_dicts(self) -> list[dict[str, Any]]:
        """One flat dict per example (e.g. for ``pandas.DataFrame``)."""
        return [r.to_dict() for r in self.results]

    def __repr__(self) -> str:
        metrics = ", ".join(f"{k}={v:.3g}" for k, v in self.metrics.items())
        name = f"{self.name!r}, " if self.name else ""
        return (
            f"EvaluationSummary({name}{len(self.results)} examples, {len(self.errors)} errors, "
            f"metrics={{{metrics}}}, {self.duration:.2f} s)"
        )


@dataclasses.dataclass(eq=False)
class Comparison(_Displayed):
    """The results of :func:`compare`: one :class:`EvaluationSummary` per registry.

    ``to_dicts()``: one row per example, the backends side by side; ``overview()``: one
    row per backend with its totals.
    """

    summaries: dict[str, EvaluationSummary]

    @property
    def names(self) -> list[str]:
        return list(self.summaries)

    @property
    def metrics(self) -> dict[str, dict[str, float]]:
        """Backend name → its averaged metrics."""
        return {name: s.metrics for name, s in self.summaries.items()}

    def overview(self) -> list[dict[str, Any]]:
        """One row per backend: metrics, errors, mean latency, tokens, cache hits."""
        rows = []
        for name, summary in self.summaries.items():
            stats = summary.stats()
            latencies = [r.latency for r in summary.results if r.latency is not None]
            rows.append(
                {
                    "backend": name,
                    **summary.metrics,
                    "examples": len(summary.results),
                    "errors": len(summary.errors),
                    "mean_latency_s": sum(latencies) / len(latencies) if latencies else None,
                    "model_calls": stats.model_calls,
                    "tokens": stats.tokens,
                    "cache_hits": stats.cache_hits,
                    "wall_s": summary.duration,
                }
            )
        return rows

    def to_dicts(self) -> list[dict[str, Any]]:
        """One row per example: its inputs and target, then ``"<backend>/<column>"`` cells."""
        shared = ("index", "inputs", "target")
        rows = []
        for results in zip(*(s.results for s in self.summaries.values())):
            row = {key: value for key, value in results[0].to_dict().items() if key in shared}
            for name, result in zip(self.summaries, results):
                cells = result.to_dict().items()
                row.update({f"{name}/{k}": v for k, v in cells if k not in shared})
            rows.append(row)
        return rows

    def __repr__(self) -> str:
        parts = [
            f"{name}: {len(s.results)} examples, {len(s.errors)} errors, "
            + ", ".join(f"{k}={v:.3g}" for k, v in s.metrics.items())
            for name, s in self.summaries.items()
        ]
        return f"Comparison({'; '.join(parts)})"
