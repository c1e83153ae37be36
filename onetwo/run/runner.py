"""Running the work: every (example, backend) unit, its samples, written as it finishes.

A *unit* is one example on one backend. It runs under that backend's registry
(``ot.with_registry``); its ``--num_samples`` samples run as ``ot.repeat`` copies, each
under its own sampling key, so the cache keeps a distinct sample for each. Each sample is
evaluated by ``ot.evaluate``'s own machinery (``aevaluate`` on that one example), so a
strategy and its metrics behave exactly as under ``ot.evaluate``. When all samples are
done, the unit's rows are appended to ``results.jsonl`` before it counts as finished.
Units run through ``ot.par_iter`` with at most ``--parallelism`` in flight.

:meth:`Runner.stop` (called from a SIGINT handler, from any thread) cancels the run: what
finished is on disk, what was in flight is lost, apart from its model calls already
in the cache.

Example:
    >>> runner = Runner(work, writer, on_unit=bar_update)   # doctest: +SKIP
    >>> ot.run(runner.executable())                         # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any

from onetwo import ot
from onetwo.core.executing import Executable
from onetwo.core.registry import Registry
from onetwo.evaluation.evaluation import ExampleResult, aevaluate
from onetwo.run.datasets import Entry
from onetwo.run.results import ResultsWriter, row_of

__all__ = ["Runner", "Unit", "Work"]


@dataclasses.dataclass(frozen=True, slots=True)
class Unit:
    """One example on one backend."""

    entry: Entry
    backend: str


@dataclasses.dataclass(frozen=True)
class Work:
    """What to run: the strategy, its metrics and extractors, the units, the registries."""

    strategy: Callable[..., Any]
    metrics: dict[str, Callable[..., Any]]
    inputs_extractor: Callable[[Any], Any]
    target_extractor: Callable[[Any], Any] | None
    units: Sequence[Unit]
    registries: dict[str, Registry]
    num_samples: int = 1
    parallelism: int = 16


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
        # Decorated once: make_executable is not free, and it runs for every unit otherwise.
        self._make_unit = ot.make_executable(self._unit)
        self._make_samples = ot.make_executable(self._samples)
        self._make_one = ot.make_executable(self._one)
        self._task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None
        self._lock = threading.Lock()

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
        units = [self._make_unit(u) for u in self.work.units]
        await ot.par_iter(units, self.work.parallelism)

    async def _unit(self, unit: Unit) -> None:
        registry = self.work.registries[unit.backend]
        if self.work.num_samples == 1:  # no sampling key: shares the cache with ot.evaluate
            results = [await ot.with_registry(self._make_one(unit.entry, unit.backend), registry)]
        else:
            samples = self._make_samples(unit.entry, unit.backend)
            results = await ot.with_registry(samples, registry)
        rows, traces = [], []
        for sample, result in enumerate(results):
            rows.append(row_of(unit.entry.id, unit.backend, sample, result))
            trace = None if result.trace is None else result.trace.to_dict()
            traces.append(
                {"id": unit.entry.id, "backend": unit.backend, "sample": sample, "trace": trace}
            )
        self.writer.write(rows, traces)
        self.on_unit(rows)

    async def _samples(self, entry: Entry, backend: str) -> list[ExampleResult]:
        one = self._make_one(entry, backend)
        repeated: Any = ot.repeat(one, self.work.num_samples)
        if isinstance(repeated, list):  # the reference's shape: a list of executables
            return list(await ot.parallel(*repeated))
        return list(await repeated)

    async def _one(self, entry: Entry, backend: str) -> ExampleResult:
        work = self.work
        summary = await aevaluate(
            work.strategy,
            [entry.example],
            inputs_extractor=work.inputs_extractor,
            target_extractor=work.target_extractor,
            metric_functions=work.metrics,
            progress=False,
            name=backend,
        )
        result = summary.results[0]
        result.index = entry.index
        return result
