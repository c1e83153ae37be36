"""Evaluation: run a strategy on a dataset and score it; compare backends side by side.

:func:`evaluate` runs a strategy on every example concurrently, scores each prediction
with the metric functions and averages them; a failing example keeps its error instead
of stopping the run. :func:`compare` runs the same evaluation under several registries
(backends) at once, side by side. Each example keeps its trace (model calls, tokens,
latency, cache hits). Metric functions run under the strategy's registry: pin an LLM
judge inside :func:`compare` with ``ot.with_registry``. The arguments, results
(``summary.results`` by example key, ``counters``, ``timing``) and the LLM critics
(:func:`naive_evaluation_critic`) are OneTwo's; ``callback=`` sees each example as it ends.

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
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence, Sized
from typing import Any, TypedDict, Unpack

from onetwo.core import tracing
from onetwo.core.builtin import check_arguments
from onetwo.core.executing import Executable, make_executable
from onetwo.core.registry import Registry, RegistryContext, copy_registry, with_registry
from onetwo.core.running import run_sync
from onetwo.core.scheduling import DEFAULT_CHUNK_SIZE, par_iter, parallel, progress_bar
from onetwo.evaluation.critics import naive_evaluation_critic, naive_fuzzy_evaluation_critic
from onetwo.evaluation.results import (
    Comparison,
    EvaluationSummary,
    EvaluationTiming,
    ExampleResult,
)

__all__ = [
    "Comparison",
    "EvaluationSummary",
    "EvaluationTiming",
    "ExampleResult",
    "acompare",
    "aevaluate",
    "compare",
    "evaluate",
    "naive_evaluation_critic",
    "naive_fuzzy_evaluation_critic",
]

Example = Any
Strategy = Callable[..., Any]
MetricFunction = Callable[..., Any]
Metrics = Mapping[str, MetricFunction] | Sequence[MetricFunction] | MetricFunction | None
Aggregation = Callable[[EvaluationSummary, EvaluationSummary], None]  # (summary, one example's)
Callback = Callable[[int, Example, EvaluationSummary], None]  # (index, example, its summary)
_NOT_OPTIONS = frozenset({"strategy", "examples", "enable_batching"})


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
    enable_tracing: bool = True
    final_state: bool = False  # an agent, asked for its final state
    example_key_function: Callable[[int, Example], Hashable] | None = None

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
            if self.example_key_function is not None:
                result.key = self.example_key_function(index, example)
            args, kwargs = _call_arguments(
                _extract("inputs_extractor", self.inputs_extractor, example, index)
            )
            result.inputs = _named(self.strategy, args, kwargs)
            if self.target_extractor is not None:
                result.target = _extract("target_extractor", self.target_extractor, example, index)
        except ValueError as e:
            result.error = e
            return
        if self.final_state:
            kwargs = {**kwargs, "return_final_state": True}
        run = _call(self.strategy, *args, **kwargs)
        if self.enable_tracing:
            trace = await tracing.capture(run, name=self.name, inputs=result.inputs)
            result.trace, result.prediction, result.error = trace, trace.outputs, trace.error
        else:
            try:
                result.prediction = await run
            except Exception as e:
                result.error = e
        if result.error is not None:
            return
        if self.final_state:
            result.prediction, result.final_state = result.prediction
        for metric in self.metrics:
            try:
                value, info = await metric(result.target, result.prediction, example)
            except Exception as e:
                result.error = e
                return
            if value is not None:
                result.metrics[metric.name] = value
            if isinstance(info, Mapping):
                result.info.update(info)
            elif info:
                result.info[metric.name] = info

    async def run_all(
        self, examples: Iterable[Example], options: Mapping[str, Any], bar: Any
    ) -> EvaluationSummary:
        summary = EvaluationSummary(counts={m.name: 0 for m in self.metrics}, name=self.name)
        for key in ("dataset_name", "dataset_description"):
            if options.get(key) is not None:
                summary.info[key] = options[key]
        keep = options.get("output_filter") or (lambda example, result: True)
        debug, finals = options.get("output_results_debug"), options.get("output_final_states")
        callback, aggregations = options.get("callback"), options.get("aggregation_functions")

        async def one(index: int, example: Example) -> None:
            result = await self.run_example(index, example, bar)
            kept = bool(keep(example, result))
            key = summary.add(result, keep=kept, debug=bool(debug))
            if kept and finals and result.final_state is not None:
                summary.final_states[key] = result.final_state
            if callback is not None or aggregations:
                alone = EvaluationSummary.alone(result, key, self.name)
                for aggregate in aggregations or ():
                    aggregate(summary, alone)
                if callback is not None:
                    callback(index, example, alone)

        each = make_executable(one)
        jobs = (each(i, example) for i, example in enumerate(examples))
        chunk = options.get("chunk_size") or DEFAULT_CHUNK_SIZE
        if isinstance(examples, Sized):  # par_iter cannot see a generator's length
            chunk = max(1, min(chunk, len(examples)))  # so no idle workers on a short list
        await par_iter(jobs, chunk)
        summary.finish()
        return summary


# --- evaluate and compare -----------------------------------------------------------------


class _Options(TypedDict, total=False):
    """The keyword arguments :func:`aevaluate` takes; see :func:`evaluate`."""

    inputs_extractor: Callable[[Example], Any]
    target_extractor: Callable[[Example], Any] | None
    metric_functions: Metrics
    aggregation_functions: Sequence[Aggregation] | None
    callback: Callback | None
    examples_total_num: int | None
    output_results: bool
    output_results_debug: bool
    output_final_states: bool
    output_filter: Callable[[Example, ExampleResult], bool] | None
    example_key_function: Callable[[int, Example], Hashable] | None
    chunk_size: int | None
    enable_tracing: bool
    dataset_name: str | None
    dataset_description: str | None
    progress: bool | str
    name: str | None


def _is_agent(strategy: Strategy) -> bool:
    """An agent (``onetwo.agents``) by its shape: evaluation sits below the agents layer."""
    return all(callable(getattr(strategy, m, None)) for m in ("initialize_state", "stream_states"))


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
        options.get("enable_tracing", True),
        bool(options.get("output_final_states")) and _is_agent(strategy),
        options.get("example_key_function"),
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
    if len(runs) > 1:  # each run reads them
        examples = list(examples)
    total = options.get("examples_total_num")  # a generator is consumed as it runs
    if total is None and isinstance(examples, Sized):
        total = len(examples)
    bar = progress_bar(options.get("progress", True), total and total * len(runs), label)
    jobs = []
    for run, registry in runs.values():
        job = make_executable(run.run_all)(examples, options, bar)
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
    aggregation_functions: Sequence[Aggregation] | None = None,
    callback: Callback | None = None,
    examples_total_num: int | None = None,
    output_results: bool = False,
    output_results_debug: bool = False,
    output_final_states: bool = False,
    output_filter: Callable[[Example, ExampleResult], bool] | None = None,
    example_key_function: Callable[[int, Example], Hashable] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    enable_tracing: bool = True,
    dataset_name: str | None = None,
    dataset_description: str | None = None,
    progress: bool | str = True,
    name: str | None = None,
    enable_batching: bool = True,
) -> EvaluationSummary:
    """Run ``strategy`` on every example, score the predictions, and summarize.

    The arguments up to ``dataset_description`` are OneTwo's, with its defaults.

    Args:
        strategy: a callable taking an example's inputs and returning an executable
            (an ``@ot.make_executable`` function, a builtin such as ``llm.generate_text``,
            an agent), a coroutine or a value.
        examples: the dataset (iterated once; a generator is consumed as it runs).
        inputs_extractor: example → the strategy's arguments: an ``(args, kwargs)`` pair,
            a dict of keyword arguments, or any other value as the one positional
            argument. By default ``example["question"]``.
        target_extractor: example → the target the metrics compare with; by default
            ``example["answer"]``; ``None`` for no target.
        metric_functions: name → ``fn(target, prediction)`` (or with an ``example=``
            keyword), or a list of functions (or one) named by ``__name__``. A function
            may be async or return an executable (an LLM judge such as
            :func:`naive_evaluation_critic`); it returns a number or bool, ``None`` (no
            value for this example), or ``(value, info)``.
        aggregation_functions: each called as ``fn(summary, example_summary)`` after an
            example is counted in, to aggregate what metrics leave in ``info``.
        callback: called as ``callback(index, example, example_summary)`` as each example
            finishes (in the order they finish); ``example_summary.results`` holds its
            one :class:`ExampleResult`. E.g. to write results as they come.
        examples_total_num: the number of examples, for the progress bar, when
            ``examples`` has no ``len``.
        output_results: kept for OneTwo code: ``summary.results`` always holds every
            example (our summaries display, compare and count them from there).
        output_results_debug: also fill ``summary.results_debug`` (the same results; ours
            always carry their trace).
        output_final_states: for an agent strategy, keep each final state in
            ``summary.final_states`` (and ``result.final_state``).
        output_filter: ``fn(example, result) -> bool``, called once per example as it
            ends, with its scored result: only the examples it keeps are in ``results``,
            ``results_debug`` and ``final_states`` (all are counted).
        example_key_function: ``fn(index, example)`` → the example's key in those
            mappings (default: its index).
        chunk_size: at most this many examples in flight.
        enable_tracing: record each example's trace (latency, tokens, cache hits, the
            calls); without it, examples run a little faster and carry no trace.
        dataset_name, dataset_description: kept in ``summary.info``.
        progress: show a ``tqdm.auto`` progress bar (a string is its label).
        name: a label for the summary (default: the strategy's name).
        enable_batching: if False, backend batch queues send requests one by one.

    Returns:
        An :class:`EvaluationSummary`: ``metrics`` holds the means, ``counters`` and
        ``timing`` the totals, ``results`` each example's :class:`ExampleResult` by key. An
        example whose extractor, strategy or metric failed has its ``error`` set instead.
    """
    options = {k: v for k, v in locals().items() if k not in _NOT_OPTIONS}
    return run_sync(
        lambda: aevaluate(strategy, examples, **options), enable_batching=enable_batching
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
