"""Automatic request batching: batch formation, the idle rule and max_wait in virtual time,
concurrency, failures, cancellation, the off switch, stats, methods, and event loops."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import gc
import threading
import weakref
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import options
from onetwo.core.batching import (
    IDLE_ITERATIONS,
    BatchConfig,
    BatchStats,
    batch_function,
    batch_method,
)
from onetwo.core.clock import VirtualClock
from onetwo.errors import BackendUnavailable


class Recorder:
    """An async batch function that records the batches it gets (and when)."""

    def __init__(self, clock: VirtualClock | None = None, latency: float = 0.0) -> None:
        self.batches: list[list[Any]] = []
        self.times: list[float] = []
        self.clock = clock
        self.latency = latency
        self.running = 0
        self.max_running = 0

    async def __call__(self, requests: list[Any]) -> list[Any]:
        self.batches.append(list(requests))
        if self.clock is not None:
            self.times.append(self.clock.now())
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        try:
            if self.latency:
                assert self.clock is not None
                await self.clock.sleep(self.latency)
            return [r * 10 if isinstance(r, int) else r for r in requests]
        finally:
            self.running -= 1


async def settle() -> None:
    """Let every runnable task run until all of them wait (on a future, timer, ...)."""
    for _ in range(100):
        await asyncio.sleep(0)


def no_batching() -> Any:
    return options.use(options.RunOptions(enable_batching=False))


async def trickle(f: Any, clock: VirtualClock, n: int, step: float) -> list[asyncio.Task[Any]]:
    """Make one request per loop iteration (so the queue is never idle), ``step`` s apart."""
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(f(i)))
        await asyncio.sleep(0)  # the new task runs and queues its request
        clock.advance(step)
    return tasks


async def run_in_virtual_time(clock: VirtualClock, awaitable: Any) -> Any:
    """Await ``awaitable``, jumping the clock to the next timer whenever all tasks wait."""
    task = asyncio.ensure_future(awaitable)
    while True:
        await settle()
        if task.done():
            return task.result()
        deadline = clock.next_deadline
        assert deadline is not None, "deadlock: every task waits and no timer is set"
        clock.advance(deadline - clock.now())


# --- batch formation -----------------------------------------------------------------


async def test_a_lone_request_is_sent_at_once_without_waiting_for_max_wait() -> None:
    clock = VirtualClock()
    fn = Recorder(clock)
    f = batch_function(batch_size=32, max_wait=100.0, clock=clock)(fn)
    assert await asyncio.wait_for(f(4), timeout=10) == 40  # a bound, so a bug fails, not hangs
    assert fn.batches == [[4]]
    assert fn.times == [0.0]  # sent while nothing else could arrive, not at max_wait


async def test_concurrent_requests_form_full_batches_in_order() -> None:
    fn = Recorder()
    f = batch_function(batch_size=32, clock=VirtualClock())(fn)
    results = await asyncio.gather(*(f(i) for i in range(70)))
    assert results == [i * 10 for i in range(70)]
    assert [len(b) for b in fn.batches] == [32, 32, 6]
    assert [r for b in fn.batches for r in b] == list(range(70))


async def test_a_full_batch_is_sent_by_the_call_that_fills_it() -> None:
    clock = VirtualClock()
    fn = Recorder(clock)
    f = batch_function(batch_size=3, max_wait=None, clock=clock)(fn)
    tasks = [asyncio.create_task(f(i)) for i in range(3)]
    for _ in range(5):  # keep the loop busy: no idle point, no timer (max_wait=None)
        await asyncio.sleep(0)
    assert fn.batches == [[0, 1, 2]]
    assert await asyncio.gather(*tasks) == [0, 10, 20]


async def test_callers_several_task_hops_away_still_join_the_batch() -> None:
    fn = Recorder()
    f = batch_function(batch_size=64, max_wait=None, clock=VirtualClock())(fn)

    async def hops(n: int, x: int) -> int:
        if n == 0:
            return await f(x)
        await asyncio.sleep(0)
        return await asyncio.create_task(hops(n - 1, x))

    results = await asyncio.wait_for(asyncio.gather(*(hops(i % 7, i) for i in range(40))), 10)
    assert results == [i * 10 for i in range(40)]
    assert len(fn.batches) == 1 and sorted(fn.batches[0]) == list(range(40))


async def test_workers_refilling_keep_batches_full_behind_a_busy_slot() -> None:
    # 40 workers, batches of 32, one at a time: the 8 left over wait for the callers the
    # finished batch wakes instead of going out as a partial batch.
    fn = Recorder()
    f = batch_function(batch_size=32, clock=VirtualClock())(fn)
    items = iter(range(320))

    async def worker() -> None:
        for x in items:
            assert await f(x) == x * 10

    await asyncio.gather(*(worker() for _ in range(40)))
    assert [len(b) for b in fn.batches] == [32] * 10


async def test_slow_batches_in_virtual_time_stay_full() -> None:
    clock = VirtualClock()
    fn = Recorder(clock, latency=1.0)
    f = batch_function(batch_size=8, max_wait=0.1, max_concurrent_batches=2, clock=clock)(fn)
    items = iter(range(96))

    async def worker() -> None:
        for x in items:
            await f(x)

    await run_in_virtual_time(clock, asyncio.gather(*(worker() for _ in range(20))))
    assert [len(b) for b in fn.batches] == [8] * 12
    assert fn.max_running == 2
    assert clock.now() == 6.0  # 12 batches, 2 at a time, 1 s each


# --- max_wait, in virtual time -----------------------------------------------------------


async def test_max_wait_sends_a_partial_batch_while_requests_keep_arriving() -> None:
    clock = VirtualClock()
    fn = Recorder(clock)
    f = batch_function(batch_size=100, max_wait=1.0, clock=clock)(fn)
    tasks = await trickle(f, clock, 8, step=0.125)  # t = 0, 0.125, ... 0.875, then 1.0
    assert fn.batches == []  # the deadline fired in the last advance; the batch runs next
    await asyncio.sleep(0)
    assert fn.batches == [list(range(8))] and fn.times == [1.0]
    assert await asyncio.gather(*tasks) == [i * 10 for i in range(8)]
    assert clock.pending_timers == 0


async def test_max_wait_restarts_for_the_next_batch() -> None:
    clock = VirtualClock()
    fn = Recorder(clock)
    f = batch_function(batch_size=100, max_wait=1.0, clock=clock)(fn)
    tasks = await trickle(f, clock, 20, step=0.125)  # 20 requests over 2.5 s
    assert await asyncio.gather(*tasks) == [i * 10 for i in range(20)]
    # Cut at 1.0 and 2.0 by max_wait (each from the first request after the last cut),
    # then the last four by the idle rule once the arrivals stop.
    assert fn.batches == [list(range(8)), list(range(8, 16)), list(range(16, 20))]
    assert fn.times == [1.0, 2.0, 2.5]


async def test_max_wait_on_the_real_clock_bounds_the_wait_while_requests_keep_arriving() -> None:
    fn = Recorder()
    f = batch_function(batch_size=10**9, max_wait=0.01)(fn)  # the system clock
    tasks: list[asyncio.Task[Any]] = []
    while not fn.batches:  # a request per iteration: never idle, only the timer can send
        tasks.append(asyncio.create_task(f(len(tasks))))
        await asyncio.sleep(0)
    assert len(fn.batches[0]) > 1
    assert await asyncio.gather(*tasks) == [i * 10 for i in range(len(tasks))]


# --- concurrency and threads -------------------------------------------------------------


async def test_at_most_max_concurrent_batches_run_at_once() -> None:
    clock = VirtualClock()
    fn = Recorder(clock, latency=1.0)
    f = batch_function(batch_size=4, max_concurrent_batches=3, clock=clock)(fn)
    results = await run_in_virtual_time(clock, asyncio.gather(*(f(i) for i in range(40))))
    assert results == [i * 10 for i in range(40)]
    assert fn.max_running == 3 and f.stats().max_in_flight == 3
    assert [len(b) for b in fn.batches] == [4] * 10
    assert clock.now() == 4.0  # ceil(10 / 3) rounds of 1 s


async def test_one_batch_at_a_time_by_default() -> None:
    clock = VirtualClock()
    fn = Recorder(clock, latency=1.0)
    f = batch_function(batch_size=4, clock=clock)(fn)
    await run_in_virtual_time(clock, asyncio.gather(*(f(i) for i in range(12))))
    assert fn.max_running == 1 and fn.times == [0.0, 1.0, 2.0]


async def test_sync_batch_functions_run_in_threads_without_blocking_the_loop() -> None:
    release = threading.Event()
    threads: list[int] = []

    @batch_function(batch_size=4)
    def slow(requests: list[int]) -> list[Any]:
        threads.append(threading.get_ident())
        released = release.wait(timeout=10)  # set by a coroutine: needs a free loop
        return [r + 1 if released else "loop was blocked" for r in requests]

    async def unblock() -> None:
        await asyncio.sleep(0)
        release.set()

    results = await asyncio.gather(slow(1), slow(2), unblock())
    assert results[:2] == [2, 3]
    assert threads and threading.get_ident() not in threads


def test_successive_loops_reuse_the_threads_of_a_sync_batch_function() -> None:
    threads: set[int] = set()

    @batch_function(batch_size=4)
    def f(requests: list[int]) -> list[int]:
        threads.add(threading.get_ident())
        return requests

    async def main() -> list[int]:
        return await asyncio.gather(*(f(i) for i in range(10)))

    for _ in range(3):  # three loops, like three ot.run calls
        assert asyncio.run(main()) == list(range(10))
    assert len(threads) == 1  # max_concurrent_batches=1: one thread, reused


def test_a_batch_function_and_its_threads_go_when_dropped_without_waiting_for_gc() -> None:
    # No reference cycle between a function and its queue: each run of a benchmark (a new
    # batch function per run) would otherwise leave its idle threads until a full GC.
    @batch_function(batch_size=4)
    def f(requests: list[int]) -> list[int]:
        return requests

    async def main(g: Any) -> list[int]:
        return await asyncio.gather(*(g(i) for i in range(10)))

    assert asyncio.run(main(f)) == list(range(10))
    ref = weakref.ref(f)
    del f
    assert ref() is None


async def test_sync_batches_run_concurrently_up_to_the_limit() -> None:
    barrier = threading.Barrier(2, timeout=10)

    @batch_function(batch_size=1, max_concurrent_batches=2)
    def meet(requests: list[int]) -> list[int]:
        barrier.wait()  # both batches must be in their threads at once
        return requests

    assert await asyncio.gather(meet(1), meet(2)) == [1, 2]
    assert meet.stats().max_in_flight == 2


async def test_a_batch_runs_in_the_context_of_the_request_that_opened_it() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[str] = []

    @batch_function(batch_size=2)
    def sync_fn(requests: list[int]) -> list[int]:
        seen.append(var.get())
        return requests

    @batch_function(batch_size=2)
    async def async_fn(requests: list[int]) -> list[int]:
        seen.append(var.get())
        return requests

    async def under(value: str, call: Any) -> int:
        var.set(value)  # each task has its own copy of the context
        return await call

    calls = [
        under("first", sync_fn(1)),
        under("second", sync_fn(2)),  # fills the batch: sends it from its own context
        under("third", async_fn(3)),
        under("fourth", async_fn(4)),
    ]
    assert await asyncio.gather(*calls) == [1, 2, 3, 4]
    assert seen == ["first", "third"]


async def callbacks_run_while_requests_wait(waiting: int) -> int:
    """How many callbacks the loop schedules in 50 iterations while ``waiting`` requests
    wait behind a batch in flight."""
    clock = VirtualClock()
    fn = Recorder(clock, latency=1.0)
    f = batch_function(batch_size=2, max_wait=0.5, clock=clock)(fn)
    tasks = [asyncio.create_task(f(i)) for i in range(2 + waiting)]
    await settle()
    assert (f.stats().queued, f.stats().in_flight) == (waiting, 1)
    loop = asyncio.get_running_loop()
    scheduled = 0
    call_soon = loop.call_soon

    def counting_call_soon(*args: Any, **kwargs: Any) -> Any:
        nonlocal scheduled
        scheduled += 1
        return call_soon(*args, **kwargs)

    loop.call_soon = counting_call_soon  # type: ignore[method-assign,assignment]
    try:
        for _ in range(50):
            await asyncio.sleep(0)
    finally:
        del loop.call_soon
    await run_in_virtual_time(clock, asyncio.gather(*tasks))
    return scheduled


async def test_waiting_requests_cost_the_loop_nothing() -> None:
    # Future-based: nothing runs on behalf of a waiting request (the reference re-polled
    # every waiting request on every loop iteration).
    assert await callbacks_run_while_requests_wait(1) == await callbacks_run_while_requests_wait(
        200
    )


def test_a_queue_serves_one_event_loop_at_a_time() -> None:
    # Replaces a test of the per-loop queue sets: a busy queue refuses a second loop, and
    # moves to it once idle.
    started, release = threading.Event(), threading.Event()

    @batch_function(batch_size=2)
    def f(requests: list[int]) -> list[int]:
        started.set()
        release.wait(timeout=10)
        return requests

    results: list[int] = []
    other = threading.Thread(target=lambda: results.append(asyncio.run(f(1))))
    other.start()
    try:
        assert started.wait(timeout=10)
        with pytest.raises(RuntimeError, match=r"busy on another event loop \(0 queued, 1 in "):
            asyncio.run(f(2))
    finally:
        release.set()
        other.join(timeout=10)
    assert results == [1]
    assert asyncio.run(f(3)) == 3  # the other loop is idle now: the queue moves here
    assert f.stats().requests == 2


def test_a_queue_left_busy_on_a_closed_loop_does_not_block_the_next_one() -> None:
    f = batch_function(batch_size=4, max_wait=None)(Recorder())
    loop = asyncio.new_event_loop()
    task = loop.create_task(f(1))
    loop.run_until_complete(asyncio.sleep(0))  # queued, not yet sent
    assert f.stats().queued == 1
    loop.close()  # without cancelling the caller
    assert asyncio.run(f(2)) == 20
    assert f.stats() == BatchStats(1, 1, 1.0, 1, 0, 0)
    del task


# --- failures -------------------------------------------------------------------------


async def test_an_exception_result_fails_only_its_request() -> None:
    @batch_function(batch_size=8)
    async def f(requests: list[int]) -> list[Any]:
        return [ValueError(f"bad {r}") if r == 2 else r for r in requests]

    tasks = [asyncio.create_task(f(i)) for i in range(4)]
    await asyncio.wait(tasks, timeout=10)
    assert [t.result() for t in (tasks[0], tasks[1], tasks[3])] == [0, 1, 3]
    with pytest.raises(ValueError, match="bad 2"):  # raised, not returned as a value
        tasks[2].result()


async def test_an_exception_raised_by_the_batch_fails_every_request_of_that_batch() -> None:
    error = RuntimeError("backend down")

    @batch_function(batch_size=2)
    async def f(requests: list[int]) -> list[int]:
        if 0 in requests:
            raise error
        return requests

    calls = asyncio.gather(*(f(i) for i in range(4)), return_exceptions=True)
    results = await asyncio.wait_for(calls, timeout=10)
    assert results[0] is error and results[1] is error
    assert results[2:] == [2, 3]


async def test_a_sync_batch_exception_reaches_every_caller() -> None:
    @batch_function(batch_size=4)
    def f(requests: list[int]) -> list[int]:
        raise KeyError("nope")

    results = await asyncio.wait_for(asyncio.gather(f(1), f(2), return_exceptions=True), 10)
    assert all(isinstance(r, KeyError) for r in results)


@pytest.mark.parametrize(
    ("reply", "error", "message"),
    [
        ([1], ValueError, r"function .*<locals>\.f returned 1 results for a batch of 2 requests"),
        ([1, 2, 3], ValueError, r"returned 3 results for a batch of 2 requests"),
        ("ab", TypeError, r"function .*\.f returned a str; it must return a list"),
        (None, TypeError, r"returned a NoneType"),
    ],
)
async def test_a_batch_function_breaking_the_contract_fails_its_batch(
    reply: Any, error: type[Exception], message: str
) -> None:
    @batch_function(batch_size=2)
    async def f(requests: list[int]) -> Any:
        return reply

    with pytest.raises(error, match=message):
        await asyncio.wait_for(asyncio.gather(f(1), f(2)), timeout=10)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": 0}, "batch_size of Recorder must be an int >= 1, got 0"),
        ({"batch_size": 2, "max_wait": -1}, "max_wait of Recorder must be >= 0 seconds, got -1"),
        ({"batch_size": 2, "max_wait": float("nan")}, "max_wait .* got nan"),
        ({"batch_size": 2, "max_concurrent_batches": 0}, "max_concurrent_batches .* got 0"),
    ],
)
def test_bad_parameters_are_refused_with_the_value(kwargs: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        batch_function(**kwargs)(Recorder())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"batch_size": "32"}, "batch_size of Recorder must be an int >= 1, got str '32'"),
        ({"batch_size": True}, "batch_size .* got bool True"),
        ({"batch_size": 2, "max_wait": "1s"}, "max_wait .* number of seconds or None, got str"),
        ({"batch_size": 2, "max_concurrent_batches": 2.0}, "max_concurrent_batches .* float"),
    ],
)
def test_parameters_of_the_wrong_type_are_refused(kwargs: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        batch_function(**kwargs)(Recorder())


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"batch_size": 4, "threads": 0}, ValueError, "threads of BatchConfig must be an int >= 1"),
        ({"batch_size": 4, "max_wait": float("inf")}, None, ""),
        ({"batch_size": 4, "clock": "now"}, TypeError, "clock of BatchConfig must be a Clock"),
        ({"batch_size": 4, "max_wait": True}, TypeError, "max_wait .* got bool True"),
    ],
)
def test_a_batch_config_is_checked_when_made(
    kwargs: Any, error: type[Exception] | None, message: str
) -> None:
    if error is None:
        assert BatchConfig(**kwargs).max_wait == kwargs["max_wait"]
        return
    with pytest.raises(error, match=message):
        BatchConfig(**kwargs)


def test_the_config_is_frozen_and_reachable_from_the_function() -> None:
    f = batch_function(batch_size=8, max_concurrent_batches=2)(Recorder())
    assert f.config == BatchConfig(batch_size=8, max_concurrent_batches=2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.config.batch_size = 1  # type: ignore[misc]


def test_plain_method_parameters_are_checked_at_decoration() -> None:
    with pytest.raises(ValueError, match=r"max_concurrent_batches of .*Bad.m must be .* got 0"):

        class Bad:
            @batch_method(batch_size=lambda self: 4, max_concurrent_batches=0)
            async def m(self, requests: list[int]) -> list[int]:
                return requests


async def test_threads_sets_the_pool_of_a_sync_batch_function() -> None:
    threads: set[int] = set()

    @batch_function(batch_size=1, max_concurrent_batches=4, threads=1)
    def f(requests: list[int]) -> list[int]:
        threads.add(threading.get_ident())
        return requests

    assert await asyncio.gather(*(f(i) for i in range(8))) == list(range(8))
    assert len(threads) == 1 and f.stats().batches == 8


# --- cancellation ------------------------------------------------------------------------


async def test_a_cancelled_waiting_caller_withdraws_its_request() -> None:
    clock = VirtualClock()
    fn = Recorder(clock)
    f = batch_function(batch_size=10, max_wait=1.0, clock=clock)(fn)
    keep = asyncio.create_task(f(1))
    drop = asyncio.create_task(f(2))
    await asyncio.sleep(0)
    assert f.stats().queued == 2
    drop.cancel()
    await asyncio.sleep(0)
    assert f.stats().queued == 1
    assert await keep == 10
    assert drop.cancelled()
    assert fn.batches == [[1]]


async def test_cancelling_every_waiting_caller_empties_the_queue_and_its_timer() -> None:
    clock = VirtualClock()
    fn = Recorder(clock)
    f = batch_function(batch_size=10, max_wait=1.0, clock=clock)(fn)
    tasks = [asyncio.create_task(f(i)) for i in range(3)]
    await asyncio.sleep(0)
    assert clock.pending_timers == 1
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await settle()
    assert f.stats().queued == 0 and clock.pending_timers == 0
    assert fn.batches == []
    assert await f(7) == 70  # the queue still works


async def test_a_caller_cancelled_after_its_batch_left_does_not_disturb_the_others() -> None:
    clock = VirtualClock()
    fn = Recorder(clock, latency=1.0)
    f = batch_function(batch_size=2, clock=clock)(fn)
    a = asyncio.create_task(f(1))
    b = asyncio.create_task(f(2))
    await settle()
    assert fn.batches == [[1, 2]] and f.stats().in_flight == 1
    a.cancel()
    clock.advance(1.0)
    assert await b == 20
    assert a.cancelled()


async def test_requests_cancelled_just_before_their_batch_is_cut_are_not_sent() -> None:
    clock = VirtualClock()
    fn = Recorder(clock, latency=1.0)
    f = batch_function(batch_size=2, clock=clock)(fn)
    tasks = [asyncio.create_task(f(i)) for i in range(4)]
    await settle()
    assert fn.batches == [[0, 1]] and f.stats().queued == 2
    clock.advance(1.0)  # the first batch ends at the next iteration...
    tasks[2].cancel()  # ...before these callers learn they are cancelled
    tasks[3].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[:2] == [0, 10]
    assert fn.batches == [[0, 1]]
    assert f.stats() == BatchStats(2, 1, 2.0, 1, 0, 0)


@pytest.mark.parametrize(
    "how", ["the batch function raises CancelledError", "its task is cancelled"]
)
async def test_a_cancelled_batch_frees_its_slot_for_the_requests_behind_it(how: str) -> None:
    clock = VirtualClock()
    calls: list[list[int]] = []

    @batch_function(batch_size=2, max_wait=None, clock=clock)
    async def f(requests: list[int]) -> list[int]:
        calls.append(list(requests))
        await clock.sleep(1.0)
        if how.startswith("the batch function") and 0 in requests:
            raise asyncio.CancelledError
        return requests

    first = [asyncio.create_task(f(i)) for i in (0, 1)]
    await settle()
    behind = [asyncio.create_task(f(i)) for i in (2, 3)]  # queued: the only slot is busy
    await settle()
    assert calls == [[0, 1]] and f.stats().queued == 2
    if how == "its task is cancelled":
        (batch_task,) = f.queue()._tasks
        batch_task.cancel()
    else:
        clock.advance(1.0)
    await settle()
    assert all(t.cancelled() for t in first)  # their batch gave no result
    assert calls == [[0, 1], [2, 3]] and f.stats().in_flight == 1
    clock.advance(1.0)
    assert await asyncio.gather(*behind) == [2, 3]
    assert f.stats().in_flight == 0


async def test_a_caller_cancelled_with_batching_disabled_frees_its_slot() -> None:
    clock = VirtualClock()
    fn = Recorder(clock, latency=1.0)
    f = batch_function(batch_size=4, clock=clock)(fn)
    with no_batching():
        task = asyncio.create_task(f(1))
        await settle()
        assert f.stats().in_flight == 1
        task.cancel()
        await settle()
    assert task.cancelled()
    assert f.stats().in_flight == 0 and clock.pending_timers == 0


@pytest.mark.parametrize("lag", range(2 * IDLE_ITERATIONS))
async def test_a_caller_joins_if_it_comes_within_the_idle_iterations(lag: int) -> None:
    # The idle rule: a partial batch leaves after IDLE_ITERATIONS loop iterations in a row
    # without a new request (public asyncio only; replaces the test of the old rule that
    # read the loop's private ready queue).
    fn = Recorder()
    f = batch_function(batch_size=64, max_wait=None, clock=VirtualClock())(fn)

    async def late() -> int:
        for _ in range(lag):
            await asyncio.sleep(0)
        return await f(1)

    assert await asyncio.gather(f(0), late()) == [0, 10]
    assert fn.batches == ([[0, 1]] if lag < IDLE_ITERATIONS else [[0], [1]])


async def test_a_trickle_keeps_the_batch_open_until_the_arrivals_stop() -> None:
    clock = VirtualClock()
    fn = Recorder(clock)
    f = batch_function(batch_size=64, max_wait=None, clock=clock)(fn)
    tasks = await trickle(f, clock, 30, step=0.0)  # 30 iterations, each with a request
    assert fn.batches == []
    await settle()
    assert fn.batches == [list(range(30))]
    assert await asyncio.gather(*tasks) == [i * 10 for i in range(30)]


async def test_a_lone_request_leaves_after_the_idle_iterations() -> None:
    fn = Recorder()
    f = batch_function(batch_size=64, max_wait=None, clock=VirtualClock())(fn)
    task = asyncio.create_task(f(1))
    iterations = 0
    while not fn.batches:
        await asyncio.sleep(0)
        iterations += 1
    # One to start the caller, IDLE_ITERATIONS checks, one to start the batch's task.
    assert iterations == IDLE_ITERATIONS + 2
    assert await task == 10


# --- the off switch ----------------------------------------------------------------------


async def test_disabled_batching_sends_requests_one_by_one_with_the_same_results() -> None:
    fn = Recorder()
    f = batch_function(batch_size=32, clock=VirtualClock())(fn)
    with no_batching():
        results = await asyncio.gather(*(f(i) for i in range(5)))
    assert results == [i * 10 for i in range(5)]
    assert fn.batches == [[i] for i in range(5)]
    stats = f.stats()
    assert (stats.requests, stats.batches, stats.mean_batch_size) == (5, 5, 1.0)


async def test_disabled_batching_still_runs_sync_functions_in_threads() -> None:
    threads: list[int] = []

    @batch_function(batch_size=4)
    def f(requests: list[int]) -> list[Any]:
        threads.append(threading.get_ident())
        return [ValueError("x") if r < 0 else r for r in requests]

    with no_batching():
        assert await f(3) == 3
        with pytest.raises(ValueError):
            await f(-1)
    assert threading.get_ident() not in threads


# --- stats and repr --------------------------------------------------------------------


async def test_stats_and_repr_show_the_live_state() -> None:
    clock = VirtualClock()
    fn = Recorder(clock, latency=1.0)
    f = batch_function(batch_size=4, max_concurrent_batches=2, clock=clock)(fn)
    assert f.stats() == BatchStats()
    tasks = [asyncio.create_task(f(i)) for i in range(10)]
    await settle()
    assert f.stats() == BatchStats(
        requests=8, batches=2, mean_batch_size=4.0, max_in_flight=2, queued=2, in_flight=2
    )
    assert repr(f.queue()) == (
        "<BatchQueue Recorder: 2 queued, 2/2 in flight, 2 batches sent "
        "(mean size 4.0, batch_size=4), max_wait=0.05>"
    )
    assert "2 queued, 2 in flight, 2 batches sent" in repr(f)
    await run_in_virtual_time(clock, asyncio.gather(*tasks))
    assert f.stats() == BatchStats(
        requests=10, batches=3, mean_batch_size=10 / 3, max_in_flight=2, queued=0, in_flight=0
    )


def test_stats_add_up_across_loops_and_answer_outside_them() -> None:
    # Was: a fresh queue (and stats) per loop. Now one queue per batch function.
    fn = Recorder()
    f = batch_function(batch_size=4)(fn)

    async def main() -> list[int]:
        return await asyncio.gather(*(f(i) for i in range(6)))

    asyncio.run(main())
    assert f.stats().requests == 6 and f.stats().batches == 2
    asyncio.run(main())
    assert f.stats() == BatchStats(12, 4, 3.0, 1, 0, 0)


# --- methods ----------------------------------------------------------------------------


class Backend:
    """A toy backend: two builtins share one batch queue; batch size set per instance."""

    def __init__(self, batch_size: int, clock: VirtualClock | None = None) -> None:
        self.batch_size = batch_size
        self.clock = clock
        self.batches: list[list[tuple[str, str]]] = []

    @batch_method(batch_size=lambda self: self.batch_size, clock=lambda self: self.clock)
    async def _batch(self, requests: list[tuple[str, str]]) -> list[str]:
        self.batches.append(list(requests))
        return [f"{kind}:{text}" for kind, text in requests]

    async def generate(self, prompt: str) -> str:
        return await self._batch(("generate", prompt))

    async def chat(self, message: str) -> str:
        return await self._batch(("chat", message))


async def test_builtins_of_one_backend_share_its_queue() -> None:
    backend = Backend(batch_size=4)
    results = await asyncio.gather(
        backend.generate("a"), backend.chat("b"), backend.generate("c"), backend.chat("d")
    )
    assert results == ["generate:a", "chat:b", "generate:c", "chat:d"]
    assert [len(b) for b in backend.batches] == [4]


async def test_each_instance_has_its_own_queue_and_parameters() -> None:
    small, large = Backend(batch_size=2), Backend(batch_size=8)
    await asyncio.gather(*(b.generate(str(i)) for i in range(6) for b in (small, large)))
    assert [len(b) for b in small.batches] == [2, 2, 2]
    assert [len(b) for b in large.batches] == [6]
    assert small._batch.queue() is not large._batch.queue()
    assert small._batch.stats().batches == 3 and large._batch.stats().batches == 1
    assert "batch_method Backend._batch of Backend: 0 queued" in repr(small._batch)
    assert repr(Backend._batch) == "<batch_method Backend._batch>"


async def test_method_parameters_are_read_from_the_instance_and_checked() -> None:
    backend = Backend(batch_size=0)
    with pytest.raises(ValueError, match=r"batch_size of Backend._batch must be .* got 0"):
        await backend.generate("x")


async def test_the_undecorated_batch_method_stays_reachable() -> None:
    backend = Backend(batch_size=2)
    assert await backend._batch.__wrapped__([("generate", "x")]) == ["generate:x"]


def test_instance_queues_go_away_with_the_instance() -> None:
    backend = Backend(batch_size=2)

    async def main(b: Backend) -> str:
        return await b.generate("x")

    assert asyncio.run(main(backend)) == "generate:x"
    assert len(Backend._batch._bound) >= 1
    ref = weakref.ref(backend)
    before = len(Backend._batch._bound)
    del backend
    gc.collect()
    assert ref() is None
    assert len(Backend._batch._bound) == before - 1


def test_a_queue_does_not_keep_its_event_loop_alive() -> None:
    fn = Recorder()
    f = batch_function(batch_size=4)(fn)
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(f(2)) == 20
    finally:
        loop.close()
    ref = weakref.ref(loop)
    del loop
    gc.collect()
    assert ref() is None
    assert f.stats().requests == 1


def test_successive_loops_use_one_queue_after_another() -> None:
    # Was: the queues of closed loops are dropped (per-loop queue sets are gone).
    f = batch_function(batch_size=4)(Recorder())

    async def queue_loop() -> Any:
        return f.queue().loop()

    for loop in [asyncio.new_event_loop() for _ in range(3)]:
        try:
            assert loop.run_until_complete(f(1)) == 10
            assert loop.run_until_complete(queue_loop()) is loop
        finally:
            loop.close()
    assert f.stats().requests == 3


# --- through ot.run, with the fake backend ----------------------------------------------


def upper(prompt: str, **_: Any) -> str:
    return prompt.upper()


def test_par_iter_hands_the_backend_full_batches() -> None:
    backend = FakeBackend(default_reply=upper, batch_size=32)
    backend.register()
    prompts = [f"p{i}" for i in range(200)]
    assert ot.run(ot.par_iter(llm.generate_text(p) for p in prompts)) == [
        p.upper() for p in prompts
    ]
    assert [len(b) for b in backend.batches] == [32] * 6 + [8]
    assert sorted(p for b in backend.batches for p in b) == sorted(prompts)
    stats = backend._generate_batch.stats()  # after the run: the last loop's queue
    assert (stats.requests, stats.batches, stats.queued, stats.in_flight) == (200, 7, 0, 0)


@ot.make_executable
async def two_steps(question: str) -> list[str]:
    first = await ot.parallel(
        llm.generate_text(question + " a"), llm.generate_text(question + " b")
    )
    again = await ot.parallel(*ot.repeat(llm.generate_text(question + " c"), 3))
    return [*first, *again]


def test_calls_from_nested_parallel_and_repeat_in_a_strategy_batch_together() -> None:
    backend = FakeBackend(default_reply=upper, batch_size=128)
    backend.register()
    results = ot.run(ot.par_iter(two_steps(f"q{i}") for i in range(20)))
    assert results[3] == ["Q3 A", "Q3 B", "Q3 C", "Q3 C", "Q3 C"]
    # Every strategy's first step in one batch, then every strategy's repeat in another.
    assert [len(b) for b in backend.batches] == [40, 60]


def test_enable_batching_false_sends_one_by_one_with_the_same_results() -> None:
    backend = FakeBackend(default_reply=upper, batch_size=128)
    backend.register()
    batched = ot.run(ot.par_iter(two_steps(f"q{i}") for i in range(10)))
    backend.reset()
    before = backend._generate_batch.stats()  # stats add up over the backend's life
    unbatched = ot.run(ot.par_iter(two_steps(f"q{i}") for i in range(10)), enable_batching=False)
    assert unbatched == batched
    assert [len(b) for b in backend.batches] == [1] * 50
    after = backend._generate_batch.stats()
    assert (after.requests - before.requests, after.batches - before.batches) == (50, 50)


def test_a_failing_prompt_fails_only_its_own_call_in_the_batch() -> None:
    backend = FakeBackend({"bad": BackendUnavailable("down")}, default_reply="ok", batch_size=8)
    backend.register()
    calls = (llm.generate_text(p) for p in ["a", "bad", "c"])
    results = ot.run(ot.parallel(*calls, return_exceptions=True))
    assert results[0] == results[2] == "ok"
    assert isinstance(results[1], BackendUnavailable)
    assert backend.batches == [["a", "bad", "c"]]


def test_the_fake_refuses_a_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size and max_concurrent_batches must be >= 1"):
        FakeBackend(batch_size=0)
