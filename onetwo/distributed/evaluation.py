"""``distributed.evaluate``: ``ot.evaluate`` on a Ray cluster, with one cache, replayable.

The driver (this process) starts the experiment server on its own node (the only writer
of the cache folder: :mod:`onetwo.distributed.server`), puts the run's description in
Ray's object store once, and keeps ``num_workers`` tasks of examples in flight
(:mod:`onetwo.distributed.worker`). Ray retries a task whose worker died, on another
worker; the ledger makes the retry skip what was finished. The progress bar follows the
ledger; the summary adds per worker counters and the conflicts the server saw.

A run is the same run as ``ot.evaluate`` in one process: each example runs under the
same sampling keys, so each call gets the same sample, and the folder afterwards replays
the whole experiment in one process with no cluster (``CallCache(folder, mode="replay")``).
A driver killed mid-run loses only the calls in flight: the rerun finds the others.

Example:
    >>> from onetwo import distributed
    >>> summary = distributed.evaluate(  # doctest: +SKIP
    ...     solve, examples, backend="openai:gpt-4o-mini", cache="cache/exp1",
    ...     cluster=distributed.RayCluster(address="auto", num_workers=16),
    ...     metric_functions={"exact": exact},
    ... )
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from onetwo.core.caching import CallCache
from onetwo.core.clock import SYSTEM_CLOCK
from onetwo.core.scheduling import progress_bar
from onetwo.distributed._ray import ray
from onetwo.distributed.cluster import ClusterError, RayCluster
from onetwo.distributed.description import BackendDescription
from onetwo.distributed.server import start_server
from onetwo.distributed.summary import ClusterSummary
from onetwo.distributed.worker import Job, run_examples
from onetwo.evaluation.evaluation import Comparison, EvaluationSummary
from onetwo.evaluation.evaluation import evaluate as run_evaluate

__all__ = ["compare", "evaluate"]

_log = logging.getLogger(__name__)
# Examples per task: at most this, or the worker's concurrency if higher (a task smaller
# than its worker's window leaves it idle); fewer so that each worker gets several tasks.
_EXAMPLES_PER_TASK = 64


def evaluate(
    strategy: Any,
    examples: Iterable[Any],
    *,
    backend: Any,
    backend_args: Mapping[str, Any] | None = None,
    cache: CallCache | str | os.PathLike[str] | None = None,
    cluster: RayCluster | None = None,
    progress: bool | str = True,
    concurrency: int = 100,
    task_size: int | None = None,
    max_retries: int = 3,
    enable_batching: bool = True,
    **options: Any,
) -> ClusterSummary:
    """Run ``strategy`` on every example across a Ray cluster; score and summarize.

    Args:
        strategy: as in ``ot.evaluate`` (it and the examples must pickle).
        examples: the dataset (iterated once).
        backend: what each worker builds its backend from: a spec text
            (``"openai:gpt-4o-mini"``, ``"fake:name"``) with ``backend_args``, a
            ``BackendSpec``, or a picklable ``setup(cache) -> backend``. API keys come
            from each worker's environment, never from here.
        backend_args: the spec's constructor arguments (e.g. ``{"max_tokens": 64}``).
        cache: the driver's ``CallCache`` folder (or a ``CallCache`` on one, whose mode
            is used); ``None`` for no cache.
        cluster: where to run (default: ``RayCluster()``, a local Ray instance).
        progress: a progress bar over the whole cluster (a string is its label).
        concurrency: examples in flight at once in each worker (the ``chunk_size`` of
            ``ot.evaluate``).
        task_size: examples per Ray task (default: up to ``max(64, concurrency)``,
            fewer so that each worker gets at least four tasks).
        max_retries: how many times Ray reruns a task whose worker died.
        enable_batching: as in ``ot.evaluate``.
        **options: the other arguments of ``ot.evaluate``: ``inputs_extractor``,
            ``target_extractor``, ``metric_functions``, ``name``.

    Returns:
        A :class:`~onetwo.distributed.summary.ClusterSummary`: the ``EvaluationSummary``
        a single process returns, plus ``workers`` counters and ``conflicts``.

    Raises:
        ClusterError: a task failed on every retry.
    """
    if "chunk_size" in options:
        raise TypeError("distributed.evaluate() takes concurrency= (per worker), not chunk_size=.")
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ValueError(f"concurrency must be an int >= 1, got {concurrency!r}.")
    description = BackendDescription.of(backend, backend_args)
    # No example: checks the options here, and names the summary and its metrics.
    empty = run_evaluate(strategy, [], progress=False, **options)
    directory, mode = _cache_folder(cache)
    items = list(enumerate(examples))
    cluster = cluster or RayCluster()
    num_workers = cluster.connect()
    most = max(_EXAMPLES_PER_TASK, concurrency)
    size = task_size or max(1, min(most, math.ceil(len(items) / (4 * num_workers))))
    start = SYSTEM_CLOCK.now()
    server = start_server(directory, len(items), cluster.lease_timeout)
    try:
        job = Job(
            uuid.uuid4().hex,
            strategy,
            options,
            description,
            server,
            mode,
            concurrency,
            enable_batching,
        )
        name = empty.name
        tasks = _run_tasks(
            ray.put(job),
            items,
            size,
            num_workers,
            max_retries,
            server,
            progress_bar(progress, len(items), name),
        )
        results = ray.get(server.results.remote())
        conflicts = ray.get(server.conflicts.remote())
        stats = ray.get(server.stats.remote())
        ray.get(server.close.remote())
    finally:
        ray.kill(server)
    base = EvaluationSummary.of(results, empty.counts, name, SYSTEM_CLOCK.now() - start)
    summary = ClusterSummary(
        **{field.name: getattr(base, field.name) for field in dataclasses.fields(base)},
        workers=_per_worker(tasks, stats.pop("examples")),
        conflicts=conflicts,
        server=stats,
    )
    for conflict in conflicts:
        _log.warning("conflicting results for one call: %s", conflict.describe())
    return summary


def compare(
    strategy: Any, examples: Iterable[Any], backends: Mapping[str, Any], **options: Any
) -> Comparison:
    """``ot.compare`` on the cluster: one :func:`evaluate` per backend, side by side.

    Args:
        strategy, examples: as in :func:`evaluate` (the examples are read once).
        backends: name → what :func:`evaluate` takes as ``backend=`` (a spec text, a
            ``BackendSpec``, a ``setup(cache)``, or a ``BackendDescription``).
        **options: the other arguments of :func:`evaluate` (``cache`` is shared: each
            backend's identity keeps its calls apart).

    Each backend's evaluation uses the whole cluster in turn; the summaries are
    :class:`~onetwo.distributed.summary.ClusterSummary` objects named after the backends.

    Example:
        >>> table = distributed.compare(  # doctest: +SKIP
        ...     solve, examples, {"mini": "openai:gpt-4o-mini", "flash": "gemini"},
        ...     cache="cache/", metric_functions={"exact": exact},
        ... )
    """
    if not backends:
        raise ValueError("compare() needs at least one backend, got none.")
    if "backend" in options or "name" in options:
        raise TypeError("compare() takes its backends (and their names) in backends=.")
    examples = list(examples)
    return Comparison(
        {
            name: evaluate(strategy, examples, backend=backend, name=name, **options)
            for name, backend in backends.items()
        }
    )


def _cache_folder(cache: Any) -> tuple[str | None, Any]:
    if cache is None:
        return None, None
    if isinstance(cache, CallCache):
        if cache.directory is None:
            raise ValueError(
                "distributed.evaluate() needs a cache folder (the driver's CallCache on disk); "
                "got a CallCache in memory. Pass cache='path/to/folder'."
            )
        return cache.directory, cache.mode
    if isinstance(cache, str | os.PathLike):
        return os.fspath(cache), "read_write"
    raise TypeError(f"cache= takes a folder path or a CallCache, got {type(cache).__name__}.")


def _run_tasks(
    job: Any,
    items: Sequence[tuple[int, Any]],
    size: int,
    num_workers: int,
    max_retries: int,
    server: Any,
    bar: Any,
) -> list[tuple[str, dict[str, int]]]:
    """Keep ``num_workers`` tasks in flight until every chunk is done; their counters."""
    task = run_examples.options(max_retries=max_retries, retry_exceptions=False)
    queue = [list(items[i : i + size]) for i in range(0, len(items), size)]
    queue.reverse()
    pending: list[Any] = []
    counters: list[tuple[str, dict[str, int]]] = []
    poll, shown = (server.progress.remote(0) if bar is not None else None), 0
    try:
        while queue or pending:
            while queue and len(pending) < num_workers:
                pending.append(task.remote(job, queue.pop()))
            ready, _ = ray.wait([*pending, *([poll] if poll is not None else [])], num_returns=1)
            if poll is not None and ready[0] == poll:
                done = ray.get(poll)
                bar.update(done - shown)
                shown = done
                poll = server.progress.remote(done) if done < len(items) else None
                continue
            pending.remove(ready[0])
            try:
                counters.append(ray.get(ready[0]))
            except ray.exceptions.RayError as e:
                raise ClusterError(
                    f"a task of examples failed on every one of its {max_retries} retries: {e}"
                ) from e
        if bar is not None:
            bar.update(len(items) - shown)  # the last results may beat the last poll
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if bar is not None:
            bar.close()
    return counters


def _per_worker(
    tasks: list[tuple[str, dict[str, int]]], examples: Mapping[str, int]
) -> dict[str, dict[str, int]]:
    """Each worker's counters, summed over its tasks, and its finished examples.

    A worker killed mid-task appears with the examples it finished and zeros: the
    counters of a task travel with its result, which died with it.
    """
    keys = dict.fromkeys(["examples", *(key for _, counts in tasks for key in counts)], 0)
    workers: dict[str, dict[str, int]] = {}
    for name, counts in tasks:
        mine = workers.setdefault(name, dict(keys))
        for key, value in counts.items():
            mine[key] += value
    for name, count in examples.items():
        workers.setdefault(name, dict(keys))["examples"] = count
    return workers
