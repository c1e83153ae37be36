"""Evaluation: run a strategy on a dataset and score it; compare backends side by side.

:func:`evaluate` runs a strategy on every example (concurrently, with a progress bar),
scores each prediction with the metric functions and averages them. A failing example
is recorded with its error, not fatal. Each example keeps its trace, so its model calls,
tokens, latency and cache hits are known.

:func:`compare` runs the same strategy on the same examples under several registries
(backends) at once, and returns a :class:`Comparison`: one row per example with each
backend's output, metrics, latency, tokens and cache hits, side by side.

Example:
    >>> from onetwo import ot
    >>> from onetwo.backends.fake import FakeBackend
    >>> from onetwo.builtins import llm
    >>> FakeBackend(default_reply="4").register()
    >>> summary = ot.evaluate(
    ...     llm.generate_text,
    ...     [{"question": "2+2=", "answer": "4"}],
    ...     metric_functions={"exact": lambda target, prediction: prediction == target},
    ...     progress=False,
    ... )
    >>> summary.metrics
    {'exact': 1.0}

Metric functions run under the same registry as the strategy: an LLM judge inside
:func:`compare` would be judged by each backend in turn; pin it with ``ot.with_registry``.
"""

from __future__ import annotations

import dataclasses
import inspect
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from onetwo.core import tracing
from onetwo.core.executing import Executable, make_executable
from onetwo.core.registry import Registry, RegistryContext, copy_registry, with_registry
from onetwo.core.scheduling import par_iter, parallel
from onetwo.core.syncrun import run_sync
from onetwo.core.tracing import TraceStats

__all__ = [
    "Comparison",
    "EvaluationSummary",
    "ExampleResult",
    "acompare",
    "aevaluate",
    "compare",
    "evaluate",
]

Example = Any
Strategy = Callable[..., Any]
MetricFunction = Callable[..., Any]


def _question(example: Example) -> Any:
    return example["question"]


def _answer(example: Example) -> Any:
    return example["answer"]


@dataclasses.dataclass(eq=False)
class ExampleResult:
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
    example: Example
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

    def _repr_html_(self) -> str:
        from onetwo.core.rendering import HTMLRenderer

        return HTMLRenderer().render(self)


@dataclasses.dataclass(eq=False)
class EvaluationSummary:
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

    def _repr_html_(self) -> str:
        from onetwo.core.rendering import HTMLRenderer

        return HTMLRenderer().render(self)


@dataclasses.dataclass(eq=False)
class Comparison:
    """The results of :func:`compare`: one :class:`EvaluationSummary` per registry.

    ``to_dicts()`` gives one row per example with the backends side by side;
    ``overview()`` one row per backend with its totals. In a notebook both display as
    tables.
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
        first = next(iter(self.summaries.values()))
        rows = []
        for i, base in enumerate(first.results):
            row: dict[str, Any] = {
                "index": base.index,
                "inputs": base.inputs,
                "target": base.target,
            }
            for name, summary in self.summaries.items():
                result = summary.results[i].to_dict()
                for key in ("index", "inputs", "target"):
                    del result[key]
                row.update({f"{name}/{key}": value for key, value in result.items()})
            rows.append(row)
        return rows

    def __repr__(self) -> str:
        parts = [
            f"{name}: {len(s.results)} examples, {len(s.errors)} errors, "
            + ", ".join(f"{k}={v:.3g}" for k, v in s.metrics.items())
            for name, s in self.summaries.items()
        ]
        return f"Comparison({'; '.join(parts)})"

    def _repr_html_(self) -> str:
        from onetwo.core.rendering import HTMLRenderer

        return HTMLRenderer().render(self)


# --- running ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Metric:
    name: str
    fn: MetricFunction
    takes_example: bool

    @classmethod
    def of(cls, name: str, fn: MetricFunction) -> _Metric:
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):  # no signature: call it with two arguments
            params = []
        takes_example = any(p.name == "example" or p.kind is p.VAR_KEYWORD for p in params)
        return cls(name, fn, takes_example)

    async def __call__(self, target: Any, prediction: Any, example: Example) -> tuple[Any, Any]:
        if self.takes_example:
            value = self.fn(target, prediction, example=example)
        else:
            value = self.fn(target, prediction)
        while isinstance(value, Executable) or inspect.isawaitable(value):
            value = await value
        return value if isinstance(value, tuple) else (value, None)


def _metrics_of(
    metric_functions: Mapping[str, MetricFunction] | Sequence[MetricFunction] | None,
) -> list[_Metric]:
    if metric_functions is None:
        return []
    if isinstance(metric_functions, Mapping):
        return [_Metric.of(name, fn) for name, fn in metric_functions.items()]
    return [
        _Metric.of(getattr(fn, "__name__", f"metric_{i}"), fn)
        for i, fn in enumerate(metric_functions)
    ]


def _call_arguments(inputs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(args, kwargs)`` as is; a dict as keyword arguments; anything else as one argument."""
    if (
        isinstance(inputs, tuple)
        and len(inputs) == 2
        and isinstance(inputs[0], list | tuple)
        and isinstance(inputs[1], Mapping)
    ):
        return tuple(inputs[0]), dict(inputs[1])
    if isinstance(inputs, Mapping):
        return (), dict(inputs)
    return (inputs,), {}


def _named(strategy: Strategy, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(inspect.signature(strategy).bind(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        return {**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs}


async def _call(strategy: Strategy, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    value = strategy(*args, **kwargs)
    while isinstance(value, Executable) or inspect.isawaitable(value):
        value = await value
    return value


@dataclasses.dataclass(frozen=True)
class _Evaluation:
    """One evaluation's settings; ``run_example`` is what runs on each example."""

    strategy: Strategy
    inputs_extractor: Callable[[Example], Any]
    target_extractor: Callable[[Example], Any] | None
    metrics: list[_Metric]
    name: str

    async def run_example(self, index: int, example: Example, bar: Any) -> ExampleResult:
        result = ExampleResult(index, example)
        try:
            await self._fill(result)
        finally:
            if bar is not None:
                bar.update()
        return result

    async def _fill(self, result: ExampleResult) -> None:
        try:
            args, kwargs = _call_arguments(self.inputs_extractor(result.example))
            result.inputs = _named(self.strategy, args, kwargs)
            if self.target_extractor is not None:
                result.target = self.target_extractor(result.example)
        except Exception as e:
            result.error = e
            return
        trace = await tracing.capture(
            _call(self.strategy, args, kwargs), name=self.name, inputs=result.inputs
        )
        result.trace, result.prediction, result.error = trace, trace.outputs, trace.error
        if trace.error is None:
            await self._score(result)

    async def _score(self, result: ExampleResult) -> None:
        for metric in self.metrics:
            try:
                value, info = await metric(result.target, result.prediction, result.example)
            except Exception as e:
                result.error = e
                return
            if value is not None:
                result.metrics[metric.name] = float(value)
            if info:
                result.info[metric.name] = info

    async def run_all(
        self, examples: Sequence[Example], chunk_size: int | None, bar: Any
    ) -> EvaluationSummary:
        start = time.time()
        run = make_executable(self.run_example)
        results = await par_iter([run(i, ex, bar) for i, ex in enumerate(examples)], chunk_size)
        names = [m.name for m in self.metrics]
        return EvaluationSummary.of(results, names, self.name, time.time() - start)


def _strategy_name(strategy: Strategy) -> str:
    name = getattr(strategy, "name", None) or getattr(strategy, "__qualname__", None)
    return str(name or type(strategy).__name__).rsplit("<locals>.", 1)[-1]


def _progress_bar(progress: bool | str, total: int, label: str) -> Any:
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=progress if isinstance(progress, str) else label)


def _settings(
    strategy: Strategy,
    inputs_extractor: Callable[[Example], Any],
    target_extractor: Callable[[Example], Any] | None,
    metric_functions: Mapping[str, MetricFunction] | Sequence[MetricFunction] | None,
    name: str | None,
) -> _Evaluation:
    if not callable(strategy):
        raise TypeError(
            f"the strategy must be callable (a function returning an executable, e.g. an "
            f"@ot.make_executable function or a builtin), got {type(strategy).__name__}."
        )
    metrics = _metrics_of(metric_functions)
    return _Evaluation(
        strategy, inputs_extractor, target_extractor, metrics, name or _strategy_name(strategy)
    )


async def aevaluate(
    strategy: Strategy,
    examples: Iterable[Example],
    *,
    inputs_extractor: Callable[[Example], Any] = _question,
    target_extractor: Callable[[Example], Any] | None = _answer,
    metric_functions: Mapping[str, MetricFunction] | Sequence[MetricFunction] | None = None,
    progress: bool | str = True,
    chunk_size: int | None = None,
    name: str | None = None,
) -> EvaluationSummary:
    """:func:`evaluate`, from async code."""
    evaluation = _settings(strategy, inputs_extractor, target_extractor, metric_functions, name)
    examples = list(examples)
    bar = _progress_bar(progress, len(examples), evaluation.name)
    try:
        return await evaluation.run_all(examples, chunk_size, bar)
    finally:
        if bar is not None:
            bar.close()


def evaluate(
    strategy: Strategy,
    examples: Iterable[Example],
    *,
    inputs_extractor: Callable[[Example], Any] = _question,
    target_extractor: Callable[[Example], Any] | None = _answer,
    metric_functions: Mapping[str, MetricFunction] | Sequence[MetricFunction] | None = None,
    progress: bool | str = True,
    chunk_size: int | None = None,
    name: str | None = None,
) -> EvaluationSummary:
    """Run ``strategy`` on every example, score the predictions, and summarize.

    Args:
        strategy: a callable taking an example's inputs and returning an executable
            (an ``@ot.make_executable`` function, a builtin such as ``llm.generate_text``),
            a coroutine or a value.
        examples: the dataset (iterated once).
        inputs_extractor: example → the strategy's arguments: an ``(args, kwargs)`` pair,
            a dict of keyword arguments, or any other value as the one positional
            argument. By default ``example["question"]``.
        target_extractor: example → the target the metrics compare with; by default
            ``example["answer"]``; ``None`` for no target.
        metric_functions: name → ``fn(target, prediction)`` (or with an ``example=``
            keyword), or a list of functions named by ``__name__``. A function may be
            async or return an executable (an LLM judge); it returns a number or bool,
            ``None`` (no value for this example), or ``(value, info)``.
        progress: show a ``tqdm.auto`` progress bar (a string is its label).
        chunk_size: at most this many examples in flight (default 100).
        name: a label for the summary (default: the strategy's name).

    Returns:
        An :class:`EvaluationSummary`; ``summary.metrics`` holds the means.
    """
    return run_sync(
        lambda: aevaluate(
            strategy,
            examples,
            inputs_extractor=inputs_extractor,
            target_extractor=target_extractor,
            metric_functions=metric_functions,
            progress=progress,
            chunk_size=chunk_size,
            name=name,
        )
    )


def _as_registry(name: str, value: Any) -> Registry:
    if isinstance(value, Registry):
        return value
    if callable(getattr(value, "register", None)):  # a backend
        with RegistryContext():
            value.register()
            return copy_registry()
    raise TypeError(
        f"compare() needs registries (or backends) by name; {name!r} is a "
        f"{type(value).__name__}. Get a registry with `with ot.RegistryContext(): "
        "backend.register(); reg = ot.copy_registry()`."
    )


async def acompare(
    strategy: Strategy,
    examples: Iterable[Example],
    registries: Mapping[str, Any],
    *,
    inputs_extractor: Callable[[Example], Any] = _question,
    target_extractor: Callable[[Example], Any] | None = _answer,
    metric_functions: Mapping[str, MetricFunction] | Sequence[MetricFunction] | None = None,
    progress: bool | str = True,
    chunk_size: int | None = None,
) -> Comparison:
    """:func:`compare`, from async code."""
    if not registries:
        raise ValueError("compare() needs at least one registry, got none.")
    chosen = {name: _as_registry(name, value) for name, value in registries.items()}
    examples = list(examples)
    runs = {
        name: _settings(strategy, inputs_extractor, target_extractor, metric_functions, name)
        for name in chosen
    }
    bar = _progress_bar(progress, len(examples) * len(runs), "compare")
    try:
        summaries = await parallel(
            *(
                with_registry(make_executable(run.run_all)(examples, chunk_size, bar), chosen[n])
                for n, run in runs.items()
            )
        )
    finally:
        if bar is not None:
            bar.close()
    return Comparison(dict(zip(runs, summaries)))


def compare(
    strategy: Strategy,
    examples: Iterable[Example],
    registries: Mapping[str, Any],
    *,
    inputs_extractor: Callable[[Example], Any] = _question,
    target_extractor: Callable[[Example], Any] | None = _answer,
    metric_functions: Mapping[str, MetricFunction] | Sequence[MetricFunction] | None = None,
    progress: bool | str = True,
    chunk_size: int | None = None,
) -> Comparison:
    """Run the same evaluation under several registries at once; compare side by side.

    Args:
        strategy, examples, inputs_extractor, target_extractor, metric_functions,
            progress, chunk_size: as in :func:`evaluate`.
        registries: name → a registry (``ot.copy_registry()`` after a backend's
            ``register()``), or directly a backend object.

    Example:
        >>> table = ot.compare(solve, examples, {"small": reg_a, "large": reg_b},
        ...                    metric_functions={"exact": exact})   # doctest: +SKIP
        >>> table                      # a side-by-side table in a notebook
        >>> table.to_dicts()[0]["small/prediction"]
    """
    return run_sync(
        lambda: acompare(
            strategy,
            examples,
            registries,
            inputs_extractor=inputs_extractor,
            target_extractor=target_extractor,
            metric_functions=metric_functions,
            progress=progress,
            chunk_size=chunk_size,
        )
    )
