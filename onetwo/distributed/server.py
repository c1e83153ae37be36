"""The experiment server: one Ray actor on the driver's node, the only writer of its cache.

It holds a :class:`~onetwo.distributed.cache_service.CacheService` on the driver's
``CallCache`` folder and the run's :class:`~onetwo.distributed.ledger.Ledger`. It is an
async actor: a worker waiting for another one's call (a lease) or the driver waiting for
progress holds no thread, and every other request keeps being served. Each commit is one
SQLite transaction before it is answered, so whatever a worker was told is in the folder,
and a run killed at any point keeps every call that finished.

Example:
    >>> server = start_server("/tmp/exp1", total=100)  # doctest: +SKIP
    >>> ray.get(server.stats.remote())["commits"]  # doctest: +SKIP
    0
"""

from __future__ import annotations

import os
from typing import Any

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from onetwo.core.cache_record import Key
from onetwo.core.cache_store import DiskStore, MemoryStore
from onetwo.distributed.cache_service import CacheService, Commit, Conflict, Resolution, Resolve
from onetwo.distributed.leases import Holder
from onetwo.distributed.ledger import Ledger

__all__ = ["ExperimentServer", "start_server"]


class ExperimentServer:
    """The actor's methods: the cache service's and the ledger's, as coroutines."""

    def __init__(self, directory: str | None, total: int, node: str, lease_timeout: float) -> None:
        store = MemoryStore() if directory is None else DiskStore(directory)
        self._service = CacheService(store, node, lease_timeout)
        self._ledger = Ledger(total)
        self._pid = os.getpid()

    async def resolve(self, requests: list[Resolve], holder: Holder) -> list[Resolution]:
        return self._service.resolve(requests, holder)

    async def wait(self, key: Key, slot: str) -> None:
        await self._service.leases.wait((key, slot))

    async def commit(self, requests: list[Commit], holder: Holder) -> list[tuple[str, bool]]:
        return self._service.commit(requests, holder)

    async def release(self, names: list[tuple[Key, str]], holder: Holder) -> None:
        self._service.release(names, holder)

    async def finish(self, results: list[tuple[int, Any]], worker: str) -> list[bool]:
        return [self._ledger.finish(index, result, worker) for index, result in results]

    async def done(self, indices: list[int]) -> dict[int, Any]:
        return self._ledger.done(indices)

    async def progress(self, seen: int) -> int:
        return await self._ledger.progress(seen)

    async def results(self) -> list[Any]:
        return self._ledger.results()

    async def stats(self) -> dict[str, Any]:
        examples = dict(self._ledger.by_worker)
        return {**self._service.stats(), "pid": self._pid, "examples": examples}

    async def conflicts(self) -> list[Conflict]:
        return list(self._service.conflicts)

    async def ping(self) -> str:
        """A no-op: the round trip of one request (the benchmark measures it)."""
        return ""

    async def close(self) -> None:
        self._service.store.close()


_Actor: Any = ray.remote(ExperimentServer)


def start_server(directory: str | None, total: int, lease_timeout: float = 600.0) -> Any:
    """Start the server on this (the driver's) node and wait until it serves."""
    node = ray.get_runtime_context().get_node_id()
    handle = _Actor.options(
        num_cpus=0,
        scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node, soft=False),
    ).remote(directory and os.path.abspath(directory), total, node, lease_timeout)
    ray.get(handle.ping.remote())
    return handle
