"""A worker's call cache: what it has seen, locally; the driver's cache for the rest.

A :class:`WorkerCache` is a ``CallCache`` whose store is a local mirror (a
``MemoryStore``) of the records this worker has read or written. A lookup answers from
the mirror, at the cost of a local cache; a miss goes to the driver's server
(:mod:`onetwo.distributed.cache_service`), never blocking the worker's event loop. Identical
calls in flight on this worker share one (``CallCache.fill``); the first goes on:

1. **Resolve** (batched with the worker's other requests): the driver binds the sampling
   key to a sample nobody holds and returns the record (a hit), or gives this worker the
   lease to make the call, or says another worker holds it (then wait, and ask again:
   identical calls in flight on two workers are made once).
2. **Call**: ``CallCache._obtain`` on the mirror makes the call, as in one process.
3. **Commit** (batched): the driver stores the sample before the caller gets it; if it
   kept another worker's different value (a conflict, reported), the caller gets that one,
   so every example sees what the cache replays.

Example:
    >>> cache = WorkerCache(server, Holder(node, os.getpid()), mode="read_write")  # doctest: +SKIP
    >>> FakeBackend(default_reply="x", cache=cache).register()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from onetwo.core import batching
from onetwo.core.cache_record import Call, bound_sample
from onetwo.core.cache_store import MemoryStore
from onetwo.core.caching import CallCache, Mode
from onetwo.distributed.cache_service import Commit, Resolution, Resolve
from onetwo.distributed.leases import Holder

__all__ = ["WorkerCache"]

_MIRROR_LIMIT = 100_000  # records in the mirror; past it the mirror starts afresh
_BATCH = {"batch_size": 256, "max_concurrent_batches": 4}


class WorkerCache(CallCache):
    """The call cache of one worker process, backed by the driver's; see the module docstring.

    Args:
        server: the handle of the run's :class:`~onetwo.distributed.server.ExperimentServer`.
        holder: this worker (its node and pid), for leases and conflict reports.
        mode: the driver cache's mode (``"read_write"``, ``"replay"``, ``"record"``, ``"off"``).
    """

    def __init__(self, server: Any, holder: Holder, *, mode: Mode = "read_write") -> None:
        self._mirror = MemoryStore()
        super().__init__(self._mirror, mode=mode)
        self._server, self.holder = server, holder
        self.round_trips = self.waits = self.conflicts = 0

    def __reduce__(self) -> Any:
        raise TypeError(
            "a WorkerCache serves one worker process; send the run's description (backend "
            "spec and cache folder) to another process, not the cache."
        )

    async def _obtain(self, call: Call) -> tuple[Any, str, bool]:
        """The call's result from the driver's cache, or made here and committed there (as
        ``CallCache._obtain``: the value, its stored sample, whether the value is ours). Only
        the first of identical calls on this worker gets here: ``fill`` shares it."""
        recording, name = self.mode == "record", (call.key, call.slot)
        while True:
            text, status = await self._resolve((call.key, call.slot, recording))
            if status != "wait":
                break
            self.waits += 1  # another worker makes this call: its result comes to the cache
            await self._server.wait.remote(*name)
        if text is not None:
            self._mirror_put(call.key, text)
        if status == "hit":
            return await super()._obtain(call)  # claims, in the mirror, what the driver bound
        try:
            value, stored, own = await super()._obtain(call)
        except BaseException:
            self._server.release.remote([name], self.holder)
            raise
        text, conflict = await self._commit((*name, call.call_json, stored, recording))
        self._mirror_put(call.key, text)
        if not conflict:
            return value, stored, own
        self.conflicts += 1
        kept = bound_sample(text, call.slot, call.key)
        return (value, stored, own) if kept is None else (None, kept, False)

    def _mirror_put(self, key: Any, text: str) -> None:
        if len(self._mirror) >= _MIRROR_LIMIT:
            self._mirror.delete([k for k, _ in self._mirror.items()])
        self._mirror.update(key, lambda _: text)

    @batching.batch_method(**_BATCH)
    async def _resolve(self, requests: list[Resolve]) -> list[Resolution]:
        self.round_trips += 1
        result: list[Resolution] = await self._server.resolve.remote(requests, self.holder)
        return result

    @batching.batch_method(**_BATCH)
    async def _commit(self, requests: list[Commit]) -> list[tuple[str, bool]]:
        self.round_trips += 1
        result: list[tuple[str, bool]] = await self._server.commit.remote(requests, self.holder)
        return result

    def counters(self) -> dict[str, int]:
        """This worker's cache counters: hits, model calls, round trips, waits, conflicts."""
        return {
            "cache_hits": self.hits,
            "model_calls": self.misses - self.shared,
            "shared": self.shared,
            "round_trips": self.round_trips,
            "lease_waits": self.waits,
            "conflicts": self.conflicts,
        }
