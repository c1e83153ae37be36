"""Evaluation: run a strategy on a dataset and score it; compare backends side by side.

:func:`evaluate` runs a strategy on every example concurrently, scores each prediction
with the metric functions and averages them; a failing example keeps its error instead
of stopping the run. :func:`compare` runs the same evaluation under several registries
(backends) at once, side by side. Each example keeps its trace (model calls, tokens,
latency, cache hits). Metric functions run under the strategy's registry: pin an LLM
judge inside :func:`compare` with ``ot.with_registry``.

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
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypedDict, Unpack

from onetwo.core import tracing
from onetwo.core.builtin import check_arguments
from onetwo.core.clock import SYSTEM_CLOCK
from onetwo.core.executing import Executable, make_executable
from onetwo.core.registry import Registry, RegistryContext, copy_registry, with_registry
from onetwo.core.running import run_sync
from onetwo.core.scheduling import par_iter, parallel, progress_bar
from onetwo.evaluation.results import Comparison, EvaluationSummary, ExampleResult

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
Metrics = Mapping[str, MetricFunction] | Sequence[MetricFunction] | MetricFunction | None


def _question(example: Example) -> Any:
    return example["question"]


def _answer(example: Example) -> Any:
    return example["answer"]


async def _call(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` (a strategy, a metric), with the executables it returns run."""
    value = fn(*args, **kwargs)
    while isinstance(value, Executable) or inspect.isawaitable(value):
        value = await value
    return value


# --- metrics ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Metric:
    name: str
    fn: MetricFunction
    takes_example: bool

    @classmethod
    def of(cls, name: str, fn: MetricFunction) -> _Metric:
        if not callable(fn):
            raise TypeError(f"metric {name!r} must be a function, got {type(fn).__name__}.")
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):  # no signature: call it with two arguments
            return cls(name, fn, False)
        params = signature.parameters.values()
        takes_example = any(p.name == "example" or p.kind is p.VAR_KEYWORD for p in params)
        try:
            signature.bind(None, None, **({"example": None} if takes_example else {}))
        except TypeError:
            raise TypeError(
                f"metric {name!r} is called as fn(target, prediction) (with example=... if it "
                f"has that parameter), but its signature is {signature}. Give it two "
                "positional parameters, e.g. def exact(target, prediction): ..."
            ) from None
        return cls(name, fn, takes_example)

    async def __call__(
        self, target: Any, prediction: Any, example: Example
    ) -> tuple[float | None, Any]:
        """The metric's value (``None``: no value for this example) and its info."""
        extra = {"example": example} if self.takes_example else {}
        value = await _call(self.fn, target, prediction, **extra)
        value, info = value if isinstance(value, tuple) and len(value) == 2 else (value, None)
        if value is None or isinstance(value, float):
            return value, info
        if isinstance(value, numbers.Real) or hasattr(type(value), "__float__"):
            return float(value), info  # bool, int, numpy numbers and bools, Decimal...
        raise TypeError(
            f"metric {self.name!r} returned {value!r:.80} (a {type(value).__name__}); a metric "
            "returns a number or a bool, None (no value for this example), or (value, info)."
        )


def _metrics_of(metric_functions: Metrics) -> list[_Metric]:
    if metric_functions is None:
        return []
    if isinstance(metric_functions, Mapping):
        return [_Metric.of(name, fn) for name, fn in metric_functions.items()]
    if callable(metric_functions):
        metric_functions = [metric_functions]
    return [
        _Metric.of(getattr(fn, "__name__", f"metric_{i}"), fn)
        for i, fn in enumerate(metric_functions)
    ]


# --- one example ----------------------------------------------------------------------------

_FIXES = {
    _question: "By default the inputs are example['question']; pass inputs_extractor="
    "lambda example: ... to read them from your examples",
    _answer: "By default the target is example['answer']; pass target_extractor="
    "lambda example: ..., or target_extractor=None for no target",
}


def _extract(role: str, extractor: Callable[[Example], Any], example: Example, i: int) -> Any:
    try:
        return extractor(example)
    except Exception as e:
        fix = _FIXES[extractor] if extractor in _FIXES else f"Check the {role} you passed"
        raise ValueError(
            f"{role} failed on example {i}: {type(e).__name__}: {e}. The example: "
            f"{example!r:.120}. {fix}."
        ) from e


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
    """The strategy's arguments by parameter name (``**kwargs`` spread out)."""
    try:
        signature = inspect.signature(strategy)
        named = dict(signature.bind(*args, **kwargs).arguments)
    except (TypeError, ValueError):
        return {**{f"arg{i}": a for i, a in enumerate(args)}, **kwargs}
    for param in signature.parameters.values():
        if param.kind is param.VAR_KEYWORD and param.name in named:
            named.update(named.pop(param.name))
    return named


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
        example, index = result.example, result.index
        try:
            args, kwargs = _call_arguments(
                _extract("inputs_extractor", self.inputs_extractor, example, index)
            )
            result.inputs = _named(self.strategy, args, kwargs)
            if self.target_extractor is not None:
                result.target = _extract("target_extractor", self.target_extractor, example, index)
        except ValueError as e:
            result.error = e
            return
        trace = await tracing.capture(
            _call(self.strategy, *args, **kwargs), name=self.name, inputs=result.inputs
        )
        result.trace, result.prediction, result.error = trace, trace.outputs, trace.error
        if trace.error is not None:
            return
        for metric in self.metrics:
            try:
                value, info = await metric(result.target, result.prediction, example)
            except Exception as e:
                result.error = e
                return
            if value is not None:
                result.metrics[metric.name] = value
            if info:
                result.info[metric.name] = info

    async def run_all(
        self, examples: Sequence[Example], chunk_size: int | None, bar: Any
    ) -> EvaluationSummary:
        start = SYSTEM_CLOCK.now()
        run = make_executable(self.run_example)
        results = await par_iter([run(i, ex, bar) for i, ex in enumerate(examples)], chunk_size)
        names = [m.name for m in self.metrics]
        return EvaluationSummary.of(results, names, self.name, SYSTEM_CLOCK.now() - start)


# --- evaluate and compare -----------------------------------------------------------------


class _Options(TypedDict, total=False):
    """The keyword arguments :func:`aevaluate` takes; see :func:`evaluate`."""

    inputs_extractor: Callable[[Example], Any]
    target_extractor: Callable[[Example], Any] | None
    metric_functions: Metrics
    progress: bool | str
    chunk_size: int | None
    name: str | None


def _settings(strategy: Strategy, options: Mapping[str, Any], where: str) -> _Evaluation:
    check_arguments(f"{where}()", options, _Options.__annotations__)
    if not callable(strategy):
        raise TypeError(
            f"the strategy must be callable (a function returning an executable, e.g. an "
            f"@ot.make_executable function or a builtin), got {type(strategy).__name__}."
        )
    name = getattr(strategy, "name", None) or getattr(strategy, "__qualname__", None)
    return _Evaluation(
        strategy,
        options.get("inputs_extractor", _question),
        options.get("target_extractor", _answer),
        _metrics_of(options.get("metric_functions")),
        options.get("name") or str(name or type(strategy).__name__).rsplit("<locals>.", 1)[-1],
    )


async def _run_all(
    runs: Mapping[str, tuple[_Evaluation, Registry | None]],
    examples: Iterable[Example],
    options: Mapping[str, Any],
    label: str,
) -> list[EvaluationSummary]:
    if isinstance(examples, Mapping | str | bytes) or not isinstance(examples, Iterable):
        raise TypeError(
            f"examples must be an iterable of examples (e.g. a list of dicts), got a "
            f"{type(examples).__name__}: {examples!r:.80}. For one example, pass [example]."
        )
    examples = list(examples)
    bar = progress_bar(options.get("progress", True), len(examples) * len(runs), label)
    jobs = []
    for run, registry in runs.values():
        job = make_executable(run.run_all)(examples, options.get("chunk_size"), bar)
        jobs.append(job if registry is None else with_registry(job, registry))
    try:
        return await parallel(*jobs)
    finally:
        if bar is not None:
            bar.close()


async def aevaluate(
    strategy: Strategy, examples: Iterable[Example], **options: Unpack[_Options]
) -> EvaluationSummary:
    """:func:`evaluate`, from async code (the same arguments)."""
    evaluation = _settings(strategy, options, "aevaluate")
    (summary,) = await _run_all({"": (evaluation, None)}, examples, options, evaluation.name)
    return summary


def evaluate(
    strategy: Strategy,
    examples: Iterable[Example],
    *,
    inputs_extractor: Callable[[Example], Any] = _question,
    target_extractor: Callable[[Example], Any] | None = _answer,
    metric_functions: Metrics = None,
    progress: bool | str = True,
    chunk_size: int | None = None,
    name: str | None = None,
    enable_batching: bool = True,
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
            keyword), or a list of functions (or one) named by ``__name__``. A function
            may be async or return an executable (an LLM judge); it returns a number or
            bool, ``None`` (no value for this example), or ``(value, info)``.
        progress: show a ``tqdm.auto`` progress bar (a string is its label).
        chunk_size: at most this many examples in flight (default 100).
        name: a label for the summary (default: the strategy's name).
        enable_batching: if False, backend batch queues send requests one by one.

    Returns:
        An :class:`EvaluationSummary`; ``summary.metrics`` holds the means. An example
        whose extractor, strategy or metric failed has its ``error`` set instead.
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
        ),
        enable_batching=enable_batching,
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
    **options: Unpack[_Options],
) -> Comparison:
    """:func:`compare`, from async code (the same arguments)."""
    if not registries:
        raise ValueError("compare() needs at least one registry, got none.")
    if "name" in options:
        raise TypeError("compare() got an unexpected keyword argument 'name'.")
    runs = {
        name: (_settings(strategy, {**options, "name": name}, "compare"), _as_registry(name, value))
        for name, value in registries.items()
    }
    return Comparison(dict(zip(runs, await _run_all(runs, examples, options, "compare"))))


def compare(
    strategy: Strategy,
    examples: Iterable[Example],
    registries: Mapping[str, Any],
    *,
    inputs_extractor: Callable[[Example], Any] = _question,
    target_extractor: Callable[[Example], Any] | None = _answer,
    metric_functions: Metrics = None,
    progress: bool | str = True,
    chunk_size: int | None = None,
    enable_batching: bool = True,
) -> Comparison:
    """Run the same evaluation under several registries at once; compare side by side.

    Args:
        strategy, examples, inputs_extractor, target_extractor, metric_functions,
            progress, chunk_size, enable_batching: as in :func:`evaluate`.
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
        ),
        enable_batching=enable_batching,
    )
