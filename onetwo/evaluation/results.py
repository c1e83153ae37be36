"""What :func:`~onetwo.evaluation.evaluation.evaluate` and ``compare`` return.

:class:`ExampleResult` (one example), :class:`EvaluationSummary` (one evaluation, with
averaged metrics, counters and timing) and :class:`Comparison` (one summary per backend).
Each converts to plain rows (``to_dict``/``to_dicts``, e.g. for ``pandas.DataFrame``) and
displays as an escaped HTML table in a notebook. Import them from
``onetwo.evaluation.evaluation``.

As in OneTwo, ``summary.results`` maps each example's key (its index, unless
``example_key_function`` says otherwise) to its result, and a result answers
``outputs["output"]``, ``targets["target"]``, ``metrics`` and ``info``.

Example:
    >>> summary = ot.evaluate(solve, examples, metric_functions={"exact": exact})  # doctest: +SKIP
    >>> summary.results[0].outputs["output"], summary.counters["total_count"]  # doctest: +SKIP
    (' 4', 4)
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import math
from collections.abc import Hashable, Iterable
from typing import Any, overload

from onetwo.core import tracing
from onetwo.core.tracing import TraceStats
from onetwo.evaluation.rendering import HTMLRenderer

__all__ = [
    "COUNTER_ERRORS",
    "COUNTER_TOTAL_EXAMPLES",
    "Comparison",
    "EvaluationSummary",
    "EvaluationTiming",
    "ExampleResult",
    "ExampleResults",
    "metric_counter_name",
]

COUNTER_TOTAL_EXAMPLES = "total_count"  # the reference's counter names
COUNTER_ERRORS = "error_count"


def metric_counter_name(metric: str) -> str:
    """The counter of how many examples have a value for ``metric``: ``"<metric>_count"``."""
    return f"{metric}_count"


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
        info: what metric functions returned as ``(value, info)``: a dict is merged in
            (as OneTwo does, e.g. ``info["critic_reason"]``), anything else is kept under
            the metric's name.
        error: the exception raised by the strategy, an extractor or a metric.
        trace: the trace of the strategy's run on this example (``None`` without tracing).
        key: the example's key in ``summary.results`` (by default its index).
        final_state: an agent's final state (with ``output_final_states=True``).
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
    key: Hashable = None
    final_state: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def outputs(self) -> dict[str, Any]:
        """``{"output": prediction}`` (empty if the example failed), as in OneTwo."""
        return {} if self.error is not None else {"output": self.prediction}

    @property
    def targets(self) -> dict[str, Any]:
        """``{"target": target}``, as in OneTwo."""
        return {"target": self.target}

    @property
    def stages(self) -> list[tracing.Trace]:
        """The traced calls the strategy made (OneTwo's name for them)."""
        return [] if self.trace is None else list(self.trace.children)

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


class ExampleResults(dict[Hashable, ExampleResult]):
    """``summary.results``: example key → :class:`ExampleResult`, in dataset order.

    A dict, as in OneTwo; a slice also works and gives results by position
    (``summary.results[:10]``: the first ten, in dataset order).
    """

    @overload
    def __getitem__(self, key: slice) -> list[ExampleResult]: ...
    @overload
    def __getitem__(self, key: Hashable) -> ExampleResult: ...

    def __getitem__(self, key: Hashable | slice) -> ExampleResult | list[ExampleResult]:
        if isinstance(key, slice):
            return list(self.values())[key]
        return super().__getitem__(key)


@dataclasses.dataclass
class EvaluationTiming:
    """When an evaluation started and ended (``time_elapsed``: a ``timedelta``)."""

    start_time: datetime.datetime = dataclasses.field(default_factory=datetime.datetime.now)
    end_time: datetime.datetime = dataclasses.field(default_factory=datetime.datetime.now)

    @property
    def time_elapsed(self) -> datetime.timedelta:
        return self.end_time - self.start_time


@dataclasses.dataclass(eq=False)
class EvaluationSummary(_Displayed):
    """The results of :func:`evaluate`: averaged metrics and every example's result.

    Attributes:
        results: example key → :class:`ExampleResult`, in dataset order (every example
            that ``output_filter`` keeps).
        metrics: metric name → mean over the examples that have a value for it
            (failed examples have none).
        counts: metric name → how many examples the mean is over.
        name: a label (the strategy's, or the backend's in a :class:`Comparison`).
        timing: when the evaluation started and ended.
        results_debug: the same results, with ``output_results_debug=True`` (OneTwo's
            results with their traces; ours always keep theirs).
        final_states: example key → an agent's final state (``output_final_states=True``).
        info: free-form information (``dataset_name``, what aggregation functions add).
        total: how many examples were evaluated (``output_filter`` aside).
        errors_count: how many of them failed.
    """

    results: ExampleResults = dataclasses.field(default_factory=ExampleResults)
    metrics: dict[str, float] = dataclasses.field(default_factory=dict)
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    name: str = ""
    timing: EvaluationTiming = dataclasses.field(default_factory=EvaluationTiming)
    results_debug: dict[Hashable, ExampleResult] = dataclasses.field(default_factory=dict)
    final_states: dict[Hashable, Any] = dataclasses.field(default_factory=dict)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)
    total: int = 0
    errors_count: int = 0
    _values: dict[str, list[float]] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def of(
        cls,
        results: Iterable[ExampleResult],
        metric_names: Iterable[str],
        name: str,
        duration: float = 0.0,
    ) -> EvaluationSummary:
        """The summary of ``results`` (keyed by their ``key``, else their index)."""
        summary = cls(counts=dict.fromkeys(metric_names, 0), name=name)
        for result in results:
            summary.add(result)
        summary.finish()
        summary.timing.start_time = summary.timing.end_time - datetime.timedelta(seconds=duration)
        return summary

    @classmethod
    def alone(cls, result: ExampleResult, key: Hashable, name: str) -> EvaluationSummary:
        """The summary of one example (what ``callback=`` gets), made cheaply; its timing
        is its trace's (none without tracing)."""
        metrics, trace = result.metrics, result.trace
        start = end = datetime.datetime.min
        if trace is not None and trace.end is not None:
            start, end = map(datetime.datetime.fromtimestamp, (trace.start, trace.end))
        return cls(
            ExampleResults({key: result}),
            dict(metrics),
            dict.fromkeys(metrics, 1),
            name,
            EvaluationTiming(start, end),
            {},
            {},
            {},
            1,
            result.error is not None,
            {m: [v] for m, v in metrics.items()},
        )

    def add(self, result: ExampleResult, *, keep: bool = True, debug: bool = False) -> Hashable:
        """Count ``result`` in (metrics, counters) and keep it in ``results`` if ``keep``
        (and in ``results_debug`` if ``debug``). Returns its key: ``result.key``, else its
        index."""
        self.total += 1
        self.errors_count += result.error is not None
        for metric, value in result.metrics.items():
            values = self._values.setdefault(metric, [])
            values.append(value)
            self.counts[metric] = n = len(values)
            mean = self.metrics.get(metric, 0.0)
            self.metrics[metric] = mean + (value - mean) / n  # a running mean
        key = result.index if result.key is None else result.key
        if keep:
            self.results[key] = result
            if debug:
                self.results_debug[key] = result
        return key

    def finish(self) -> None:
        """Put ``results`` in dataset order, the means exactly rounded (``math.fsum``:
        the same whatever order the examples finished in), and the end time."""
        self.results = ExampleResults(sorted(self.results.items(), key=lambda kv: kv[1].index))
        for metric, values in self._values.items():
            self.metrics[metric] = math.fsum(values) / len(values)
        self.timing.end_time = datetime.datetime.now()

    @property
    def duration(self) -> float:
        """Wall-clock seconds for the whole evaluation."""
        return self.timing.time_elapsed.total_seconds()

    @property
    def counters(self) -> collections.Counter[str]:
        """OneTwo's counters: ``total_count``, ``error_count`` and ``<metric>_count``."""
        counters = collections.Counter({COUNTER_TOTAL_EXAMPLES: self.total})
        counters[COUNTER_ERRORS] = self.errors_count
        counters.update({metric_counter_name(m): n for m, n in self.counts.items()})
        return counters

    @property
    def example_keys(self) -> dict[int, Hashable]:
        """Example index → its key in ``results``."""
        return {r.index: key for key, r in self.results.items()}

    @property
    def errors(self) -> list[ExampleResult]:
        """The examples that failed."""
        return [r for r in self.results.values() if r.error is not None]

    @property
    def predictions(self) -> list[Any]:
        return [r.prediction for r in self.results.values()]

    def stats(self) -> TraceStats:
        """Model calls, tokens, cache hits and errors over all examples."""
        return sum((r.stats() for r in self.results.values()), TraceStats())

    def to_dicts(self) -> list[dict[str, Any]]:
        """One flat dict per example (e.g. for ``pandas.DataFrame``)."""
        return [r.to_dict() for r in self.results.values()]

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
            latencies = [r.latency for r in summary.results.values() if r.latency is not None]
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
        for results in zip(*(s.results.values() for s in self.summaries.values())):
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
