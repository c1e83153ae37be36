"""The injectable clocks: virtual time for tests, the event loop's time in production."""

from __future__ import annotations

import asyncio

import pytest

from onetwo.core.clock import SYSTEM_CLOCK, Clock, SystemClock, VirtualClock


def test_virtual_time_moves_only_when_advanced() -> None:
    clock = VirtualClock(start=10.0)
    assert clock.now() == 10.0
    clock.advance(2.5)
    assert clock.now() == 12.5
    clock.advance(0)
    assert clock.now() == 12.5


def test_advance_refuses_to_go_back() -> None:
    with pytest.raises(ValueError, match="cannot go back"):
        VirtualClock().advance(-1)


def test_timers_fire_in_deadline_order_reading_their_own_deadline() -> None:
    clock = VirtualClock()
    fired: list[tuple[str, float]] = []
    clock.call_later(3, lambda: fired.append(("c", clock.now())))
    clock.call_later(1, lambda: fired.append(("a", clock.now())))
    clock.call_later(1, lambda: fired.append(("b", clock.now())))  # tie: order set
    clock.advance(0.999)
    assert fired == []
    clock.advance(5)
    assert fired == [("a", 1.0), ("b", 1.0), ("c", 3.0)]
    assert clock.now() == 5.999


def test_cancelled_timers_do_not_fire() -> None:
    clock = VirtualClock()
    fired: list[int] = []
    handle = clock.call_later(1, lambda: fired.append(1))
    clock.call_later(2, lambda: fired.append(2))
    handle.cancel()
    clock.advance(3)
    assert fired == [2]
    assert clock.pending_timers == 0 and clock.next_deadline is None


def test_next_deadline_and_pending_timers_skip_cancelled_timers() -> None:
    clock = VirtualClock()
    clock.call_later(1, lambda: None).cancel()
    clock.call_later(2, lambda: None)
    assert clock.pending_timers == 1
    assert clock.next_deadline == 2.0


def test_timers_set_by_callbacks_fire_within_the_same_advance() -> None:
    clock = VirtualClock()
    fired: list[float] = []

    def again() -> None:
        fired.append(clock.now())
        if len(fired) < 3:
            clock.call_later(1, again)

    clock.call_later(1, again)
    clock.advance(2.5)
    assert fired == [1.0, 2.0]
    clock.advance(0.5)
    assert fired == [1.0, 2.0, 3.0]


def test_negative_delay_fires_at_the_next_advance() -> None:
    clock = VirtualClock()
    fired: list[float] = []
    clock.call_later(-5, lambda: fired.append(clock.now()))
    clock.advance(0)
    assert fired == [0.0]


async def test_virtual_sleep_wakes_when_time_reaches_it() -> None:
    clock = VirtualClock()
    task = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    clock.advance(4.9)
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(0.1)
    await task
    assert clock.now() == 5.0


async def test_cancelled_virtual_sleep_cancels_its_timer() -> None:
    clock = VirtualClock()
    task = asyncio.create_task(clock.sleep(5))
    await asyncio.sleep(0)
    assert clock.pending_timers == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert clock.pending_timers == 0


async def test_system_clock_uses_the_running_loop() -> None:
    clock: Clock = SYSTEM_CLOCK
    assert isinstance(clock, SystemClock)
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    before = clock.now()
    clock.call_later(0, lambda: done.set_result(clock.now()))
    assert await done >= before
    handle = clock.call_later(3600, lambda: None)
    handle.cancel()
    await clock.sleep(0)


def test_reprs_show_the_time() -> None:
    clock = VirtualClock()
    clock.call_later(1, lambda: None)
    assert repr(clock) == "VirtualClock(now=0.0, pending_timers=1)"
    assert repr(SYSTEM_CLOCK) == "SystemClock()"
