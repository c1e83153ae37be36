"""What runs on a worker: a task evaluates its share of the examples, one by one.

A task gets the run's :class:`Job` (sent once to the object store) and a list of
``(index, example)``. It skips the examples the ledger says are finished (a retry after
the worker died), runs the others concurrently on onetwo's runtime loop, each as
``ot.evaluate`` would (same sampling keys: the result does not depend on where or when
an example runs), and reports each result to the ledger as it finishes. The backend is
built once per worker process and run, from the job's description, with a
:class:`~onetwo.distributed.worker_cache.WorkerCache` on the driver's cache.

Example:
    >>> ref = run_examples.remote(job_ref, [(0, {"question": "2+2="})])  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from onetwo.core import batching
from onetwo.core.caching import Mode
from onetwo.core.registry import Registry, RegistryContext, set_registry
from onetwo.core.running import run_sync
from onetwo.distributed._ray import ray
from onetwo.distributed.description import BackendDescription
from onetwo.distributed.leases import Holder
from onetwo.distributed.worker_cache import WorkerCache
from onetwo.evaluation.evaluation import aevaluate

__all__ = ["Job", "run_examples"]


@dataclasses.dataclass(frozen=True)
class Job:
    """What every task of one run shares.

    Attributes:
        run_id: unique per run (a worker keeps one backend per run).
        strategy: the strategy, as ``ot.evaluate`` takes it (pickled by Ray).
        options: the other ``ot.evaluate`` arguments (extractors, metrics, name).
        backend: what each worker builds its registry from.
        server: the run's experiment server (cache and ledger).
        cache_mode: the driver cache's mode, or None for no cache.
        concurrency: examples in flight at once in one worker.
        enable_batching: as in ``ot.evaluate``.
    """

    run_id: str
    strategy: Any
    options: Mapping[str, Any]
    backend: BackendDescription
    server: Any
    cache_mode: Mode | None
    concurrency: int
    enable_batching: bool


@dataclasses.dataclass
class _Process:
    """This worker process's state for one run."""

    run_id: str
    name: str
    registry: Registry
    cache: WorkerCache | None
    reporter: _Reporter


_current: list[_Process] = []  # the state of the latest run in this process


def _process(job: Job) -> _Process:
    if _current and _current[0].run_id == job.run_id:
        return _current[0]
    holder = Holder(ray.get_runtime_context().get_node_id(), os.getpid())
    cache = None if job.cache_mode is None else WorkerCache(job.server, holder, mode=job.cache_mode)
    state = _Process(
        job.run_id, str(holder), job.backend.build(cache), cache, _Reporter(job.server, str(holder))
    )
    _current[:] = [state]
    return state


class _Reporter:
    """Sends finished results to the ledger, in batches."""

    def __init__(self, server: Any, worker: str) -> None:
        self._server, self._worker = server, worker

    @batching.batch_method(batch_size=64, max_concurrent_batches=2)
    async def report(self, results: list[tuple[int, Any]]) -> list[bool]:
        done: list[bool] = await self._server.finish.remote(results, self._worker)
        return done


async def _run(job: Job, state: _Process, todo: list[tuple[int, Any]]) -> int:
    slots = asyncio.Semaphore(job.concurrency)

    async def one(index: int, example: Any) -> None:
        async with slots:  # held until the ledger has the result: a retry skips it
            summary = await aevaluate(  # chunk_size=1: one example, one par_iter worker
                job.strategy, [example], progress=False, chunk_size=1, **job.options
            )
            result = summary.results[0]
            result.index = index
            await state.reporter.report((index, result))

    with RegistryContext():
        set_registry(state.registry)
        await asyncio.gather(*(one(i, ex) for i, ex in todo))
    return len(todo)


def _run_examples(job: Job, items: list[tuple[int, Any]]) -> tuple[str, dict[str, int]]:
    """Run the examples not finished yet; return this worker's name and counters."""
    state = _process(job)
    done = ray.get(job.server.done.remote([i for i, _ in items]))
    todo = [(i, ex) for i, ex in items if i not in done]
    before = Counter(state.cache.counters() if state.cache is not None else {})
    ran = run_sync(lambda: _run(job, state, todo), enable_batching=job.enable_batching)
    after = Counter(state.cache.counters() if state.cache is not None else {})
    after.subtract(before)
    return state.name, {**after, "examples_run": ran, "tasks": 1}


run_examples = ray.remote(_run_examples)
