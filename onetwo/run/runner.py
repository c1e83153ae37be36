"""Running the work: one streaming ``ot.evaluate`` per backend (and sample), written as
each example finishes.

A *unit* is one example on one backend. Each backend's units run in one ``aevaluate``
under that backend's registry (``ot.with_registry``), so a strategy and its metrics behave
exactly as under ``ot.evaluate``, at its cost; its ``output_filter=`` hands over each
result as it ends (written at once, kept nowhere in memory). With ``--num_samples``
above one, sample ``i`` of every unit runs in an evaluation of its own under the sampling
key ``ot.repeat`` gives copy ``i``, so the cache keeps a distinct sample for each (and
shares them with ``ot.repeat``). When all samples of a unit are done, its rows are
appended to ``results.jsonl`` before it counts as finished. ``--parallelism`` is shared
out between the backends (at least one example each).

:meth:`Runner.stop` (called from a SIGINT handler, from any thread) cancels the run: what
finished is on disk, what was in flight is lost, apart from its model calls already
in the cache.

Example:
    >>> runner = Runner(work, writer, on_unit=bar_update)   # doctest: +SKIP
    >>> ot.run(runner.executable())                         # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any, NamedTuple

from onetwo import ot
from onetwo.core.executing import Executable
from onetwo.core.registry import Registry
from onetwo.core.sampling import sampling_key, under_sampling_key
from onetwo.evaluation.evaluation import ExampleResult, aevaluate
from onetwo.run.datasets import Entry
from onetwo.run.results import ResultsWriter, row_of

__all__ = ["Runner", "Unit", "Work", "write_unit"]


class Unit(NamedTuple):
    """One example on one backend (a named tuple: a run makes one per example)."""

    entry: Entry
    backend: str


@dataclasses.dataclass(frozen=True)
class Work:
    """What to run: the strategy, its metrics and extractors, the units, the registries.

    ``traced``: the example indices whose traces are written (the report shows those);
    ``None``: every example's.
    """

    strategy: Callable[..., Any]
    metrics: dict[str, Callable[..., Any]]
    inputs_extractor: Callable[[Any], Any]
    target_extractor: Callable[[Any], Any] | None
    units: Sequence[Unit]
    registries: dict[str, Registry]
    num_samples: int = 1
    parallelism: int = 16
    traced: Collection[int] | None = None


class Runner:
    """Runs :class:`Work`, writing each finished unit with ``writer``.

    Args:
        work: what to run.
        writer: where finished units go.
        on_unit: called with each finished unit's rows, after they are written.
    """

    def __init__(
        self,
        work: Work,
        writer: ResultsWriter,
        on_unit: Callable[[list[dict[str, Any]]], None] = lambda rows: None,
    ) -> None:
        self.work = work
        self.writer = writer
        self.on_unit = on_unit
        self.stopped = threading.Event()
        self._task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._lock = threading.Lock()
        self._waiting: dict[tuple[int, str], list[ExampleResult | None]] = {}  # samples so far

    def executable(self) -> Executable[None]:
        """The whole run, for ``ot.run``."""
        return ot.make_executable(self._run)()

    def stop(self) -> None:
        """Cancel the run (safe from a signal handler or another thread)."""
        self.stopped.set()
        with self._lock:
            if self._task is not None:
                loop, task = self._task
                loop.call_soon_threadsafe(task.cancel)

    async def _run(self) -> None:
        task = asyncio.current_task()
        assert task is not None
        with self._lock:
            self._task = (asyncio.get_running_loop(), task)
        if self.stopped.is_set():
            return
        by_backend: dict[str, list[Entry]] = {}
        for unit in self.work.units:
            by_backend.setdefault(unit.backend, []).append(unit.entry)
        chunk = max(1, self.work.parallelism // max(1, len(by_backend)))
        evaluate = ot.make_executable(self._evaluate)
        evaluations = [
            ot.with_registry(
                evaluate(backend, entries, sample, chunk), self.work.registries[backend]
            )
            for backend, entries in by_backend.items()
            for sample in range(self.work.num_samples)
        ]
        await ot.parallel(*evaluations)

    async def _evaluate(self, backend: str, entries: list[Entry], sample: int, chunk: int) -> None:
        work = self.work

        def written(example: Any, result: ExampleResult) -> bool:
            # ot.evaluate hands each result to output_filter= as it ends, before counting
            # it: written here and kept nowhere (False), it costs no per-example summary.
            self._finished(backend, entries[result.index], sample, result)
            return False

        # One sample: no sampling key, so it shares the cache with ot.evaluate.
        key = sampling_key(sample) if work.num_samples > 1 else None
        with under_sampling_key(key) if key is not None else contextlib.nullcontext():
            await aevaluate(
                work.strategy,
                [entry.example for entry in entries],
                inputs_extractor=work.inputs_extractor,
                target_extractor=work.target_extractor,
                metric_functions=work.metrics,
                output_filter=written,
                chunk_size=chunk,
                progress=False,
                name=backend,
            )

    def _finished(self, backend: str, entry: Entry, sample: int, result: ExampleResult) -> None:
        result.index = entry.index
        samples: Sequence[ExampleResult | None] = (result,)
        if self.work.num_samples > 1:
            waiting = self._waiting.setdefault(
                (entry.index, backend), [None] * self.work.num_samples
            )
            waiting[sample] = result
            if None in waiting:
                return
            del self._waiting[(entry.index, backend)]
            samples = waiting
        traced = self.work.traced is None or entry.index in self.work.traced
        self.on_unit(write_unit(self.writer, entry, backend, samples, traced))


def write_unit(
    writer: ResultsWriter,
    entry: Entry,
    backend: str,
    samples: Sequence[ExampleResult | None],
    traced: bool,
) -> list[dict[str, Any]]:
    """Write one finished unit's rows (and, if ``traced``, its traces); return the rows."""
    rows, traces = [], []
    for number, done in enumerate(samples):
        assert done is not None
        rows.append(row_of(entry.id, backend, number, done))
        if traced:
            trace = None if done.trace is None else done.trace.to_dict()
            traces.append({"id": entry.id, "backend": backend, "sample": number, "trace": trace})
    writer.write(rows, traces)
    return rows
