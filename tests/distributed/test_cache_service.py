"""What the experiment server serves, without Ray: claims, leases, commits, conflicts,
the ledger."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from onetwo.core.cache_record import Record, encode, key_of
from onetwo.core.cache_store import MemoryStore
from onetwo.distributed.cache_service import CacheService
from onetwo.distributed.leases import Holder, Leases
from onetwo.distributed.ledger import Ledger

A, B = Holder("here", os.getpid()), Holder("elsewhere", 1)
CALL = '{"backend":{"provider":"fake"},"method":"llm.generate_text","params":{"prompt":"q"}}'
K = key_of(CALL)  # a record's key must be its call's (the store checks it)


def test_a_miss_leases_the_call_to_one_worker_and_the_commit_serves_the_others() -> None:
    service = CacheService(MemoryStore(), node="here")
    assert service.resolve([(K, "0", False)], A) == [(None, "lease")]
    assert service.resolve([(K, "0", False)], B) == [(None, "wait")]  # A makes it
    assert service.resolve([(K, "0", False)], A) == [(None, "lease")]  # A's own share it
    text, conflict = service.commit([(K, "0", CALL, encode("blue"), False)], A)[0]
    assert not conflict and Record.parse(text, K).bindings == {"0": 0}
    ((found, status),) = service.resolve([(K, "0", False)], B)
    assert status == "hit" and Record.parse(found or "", K).samples == [encode("blue")]
    # Another sampling key has no free sample: a call of its own.
    assert service.resolve([(K, "1", False)], B)[0][1] == "lease"
    assert service.stats()["commits"] == 1


def test_a_free_sample_is_claimed_for_good_by_the_first_key_asking() -> None:
    service = CacheService(MemoryStore(), node="here")
    service.resolve([(K, "0", False)], A)
    service.commit([(K, "0", CALL, encode("x"), False)], A)
    service.store.update(K, lambda old: Record(CALL, [encode("x"), encode("y")], {"0": 0}).dump(K))
    ((found, status),) = service.resolve([(K, "1", False)], B)
    assert status == "hit" and Record.parse(found or "", K).bindings == {"0": 0, "1": 1}
    assert Record.parse(service.store.read(K) or "", K).bindings == {"0": 0, "1": 1}


def test_two_different_values_for_one_key_keep_the_first_and_report_the_second() -> None:
    service = CacheService(MemoryStore(), node="here")
    service.commit([(K, "", CALL, encode("from A"), False)], A)
    assert service.commit([(K, "", CALL, encode("from B"), False)], B)[0][1]
    (reported,) = service.conflicts
    assert (reported.kept, reported.other) == ("from A", "from B")
    assert (reported.kept_by, reported.other_by) == (str(A), str(B))
    assert "llm.generate_text" in reported.describe() and "from B" in reported.describe()
    # The same value again is no conflict; recording overwrites without one.
    assert not service.commit([(K, "", CALL, encode("from A"), False)], B)[0][1]
    assert not service.commit([(K, "", CALL, encode("new"), True)], B)[0][1]
    assert len(service.conflicts) == 1


def test_record_mode_never_claims_and_always_leases() -> None:
    service = CacheService(MemoryStore(), node="here")
    service.commit([(K, "", CALL, encode("old"), False)], A)
    assert service.resolve([(K, "", True)], A)[0][1] == "lease"


def _sleeper() -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])


async def test_a_lease_of_a_dead_worker_is_broken_when_it_dies() -> None:
    child = _sleeper()
    leases = Leases(node="here", timeout=60)
    holder = Holder("here", child.pid)
    assert leases.acquire(("k", ""), holder)
    assert not leases.acquire(("k", ""), A)
    waiting = asyncio.ensure_future(leases.wait(("k", "")))
    await asyncio.sleep(0)
    assert not waiting.done()
    child.kill()
    await asyncio.wait_for(waiting, 10)  # the pidfd wakes it, not the 60 s timeout
    child.wait()
    assert leases.acquire(("k", ""), A) and leases.broken == 1


async def test_a_released_lease_wakes_its_waiters() -> None:
    leases = Leases(node="here")
    leases.acquire(("k", ""), B)
    waiting = asyncio.ensure_future(leases.wait(("k", "")))
    await asyncio.sleep(0)
    leases.release(("k", ""), B)
    await asyncio.wait_for(waiting, 10)
    assert len(leases) == 0 and leases.broken == 0


def test_lease_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="timeout"):
        Leases(node="here", timeout=0)


async def test_the_ledger_keeps_the_first_result_and_wakes_progress() -> None:
    ledger = Ledger(2)
    progress = asyncio.ensure_future(ledger.progress(0))
    await asyncio.sleep(0)
    assert not progress.done()
    assert ledger.finish(1, "one", "w1")
    assert await asyncio.wait_for(progress, 10) == 1
    assert not ledger.finish(1, "again", "w2")  # a retry's late copy is dropped
    assert ledger.done([0, 1]) == {1: "one"}
    ledger.finish(0, "zero", "w2")
    assert await ledger.progress(5) == 2  # all done: no wait
    assert ledger.results() == ["zero", "one"]
    assert dict(ledger.by_worker) == {"w1": 1, "w2": 1}
