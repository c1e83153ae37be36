"""The driver's call cache, served to the workers: claims, leases, commits, conflicts.

The workers' caches (:mod:`onetwo.distributed.worker_cache`) ask this service, in
batches, for what they do not hold yet. It owns the one store the experiment writes
(the driver's ``CallCache`` folder) and applies the cache's own rules there, with the
same :class:`~onetwo.core.cache_record.Record` methods a ``CallCache`` uses:

* :meth:`CacheService.resolve`: the record of a call, after binding the sampling key to a
  sample nobody holds (a hit); if there is none, the lease to make the call
  (:mod:`onetwo.distributed.leases`), or word to wait for the worker that holds it.
* :meth:`CacheService.commit`: a sample a worker computed, bound as ``CallCache.fill``
  would; if the key was bound meanwhile to a *different* sample (two workers computed
  one call and the model is not deterministic), the first one is kept and the other
  reported as a :class:`Conflict`, never hidden.

Example:
    >>> from onetwo.core.cache_store import MemoryStore
    >>> service = CacheService(MemoryStore(), node="n1")
    >>> me = Holder("n1", 1)
    >>> service.resolve([(Key("k"), "", False)], me)
    [(None, 'lease')]
    >>> text, _ = service.commit([(Key("k"), "", '{"backend":{}}', '"blue"', False)], me)[0]
    >>> service.resolve([(Key("k"), "", False)], Holder("n1", 2))[0][1]
    'hit'
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Literal

from onetwo.core.cache_record import Key, Record, decode
from onetwo.core.cache_store import Store
from onetwo.distributed.leases import Holder, Leases

__all__ = ["CacheService", "Commit", "Conflict", "Resolution", "Resolve"]

Resolve = tuple[Key, str, bool]
"""A request to :meth:`CacheService.resolve`: (key, sampling key, recording)."""
Commit = tuple[Key, str, str, str, bool]
"""A request to :meth:`CacheService.commit`: (key, sampling key, call JSON, sample, recording)."""
Resolution = tuple[str | None, Literal["hit", "lease", "wait"]]
"""The record's text (None: no record) and what the worker does: read it, call, or wait."""


@dataclasses.dataclass(frozen=True)
class Conflict:
    """Two workers computed one call (one key, one sampling key) and got different values.

    Attributes:
        key: the call's cache key.
        call: the call JSON (backend identity, method, arguments).
        sampling_key: ``""`` outside ``ot.repeat``.
        kept: the value the cache holds (and every example received).
        other: the value the late worker computed (kept unbound in the record).
        kept_by, other_by: the workers (``node:pid``), ``""`` if from an earlier run.
    """

    key: str
    call: str
    sampling_key: str
    kept: Any
    other: Any
    kept_by: str
    other_by: str

    def describe(self) -> str:
        """One line: the method, the first argument values, the two results."""
        try:
            data = json.loads(self.call)
            what = f"{data['method']}({json.dumps(data['params'])[:120]})"
        except (ValueError, KeyError, TypeError):
            what = self.call[:120]
        return (
            f"{what} under sampling key {self.sampling_key!r}: kept {self.kept!r:.60} "
            f"(worker {self.kept_by or 'earlier run'}), other {self.other!r:.60} (worker "
            f"{self.other_by})"
        )


class CacheService:
    """Serves one store to many workers; see the module docstring.

    Args:
        store: the driver's store (a ``DiskStore`` of its cache folder).
        node: the node id this service runs on (its leases watch workers there).
        lease_timeout: seconds a worker waits at most for another one's call.
    """

    def __init__(self, store: Store, node: str, lease_timeout: float = 600.0) -> None:
        self.store = store
        self.leases = Leases(node, lease_timeout)
        self.conflicts: list[Conflict] = []
        self._writers: dict[tuple[Key, str], Holder] = {}  # who bound what, this run
        self.requests = self.hits = self.commits = 0

    def resolve(self, requests: list[Resolve], holder: Holder) -> list[Resolution]:
        """For each (key, slot, recording): the record text, and hit, lease or wait."""
        self.requests += len(requests)
        return [self._resolve(key, slot, recording, holder) for key, slot, recording in requests]

    def _resolve(self, key: Key, slot: str, recording: bool, holder: Holder) -> Resolution:
        text = self.store.read(key)
        if text is not None and not recording:
            record = Record.parse(text, key)
            if (i := record.claimable(slot)) is not None:
                if record.bindings.get(slot) != i:  # bind it for good, as CallCache does
                    record.bindings[slot] = i
                    text = record.dump(key)
                    self.store.update(key, lambda _: text)
                self.hits += 1
                return text, "hit"
        return text, "lease" if self.leases.acquire((key, slot), holder) else "wait"

    def commit(self, requests: list[Commit], holder: Holder) -> list[tuple[str, bool]]:
        """Store each sample for its key and slot; the record text, and whether it conflicted.

        Each commit also releases the holder's lease on the call.
        """
        return [self._commit(*request, holder) for request in requests]

    def _commit(
        self, key: Key, slot: str, call: str, sample: str, recording: bool, holder: Holder
    ) -> tuple[str, bool]:
        self.commits += 1
        out: list[Any] = []

        def bind(old: str | None) -> str | None:
            record = Record(call) if old is None else Record.parse(old, key)
            i, own = record.bind(slot, sample, recording)
            out[:] = [record, i, own]
            return None if (text := record.dump(key)) == old else text

        try:
            self.store.update(key, bind)
        finally:
            self.leases.release((key, slot), holder)
        record, i, own = out
        conflict = not own and record.samples[i] != sample
        if own:
            self._writers[key, slot] = holder
        elif conflict:
            by = self._writers.get((key, slot))
            self.conflicts.append(
                Conflict(
                    key,
                    call,
                    slot,
                    decode(record.samples[i]),
                    decode(sample),
                    "" if by is None else str(by),
                    str(holder),
                )
            )
        return record.dump(key), conflict

    def release(self, names: list[tuple[Key, str]], holder: Holder) -> None:
        """Give back leases whose calls failed (nothing to commit)."""
        for name in names:
            self.leases.release(name, holder)

    def stats(self) -> dict[str, int]:
        """Requests, hits, commits, conflicts, lease waits and broken leases so far."""
        return {
            "requests": self.requests,
            "hits": self.hits,
            "commits": self.commits,
            "conflicts": len(self.conflicts),
            "lease_waits": self.leases.waits,
            "leases_broken": self.leases.broken,
        }
