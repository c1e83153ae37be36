"""Injectable time: the one place onetwo reads the time or sets a timer.

Code that waits (batching windows, retry backoff, rate limiters) takes a :class:`Clock`
instead of calling ``asyncio.sleep`` or ``loop.call_later`` itself: in production
:data:`SYSTEM_CLOCK` (the running event loop's), in tests a :class:`VirtualClock`, whose
time moves only when the test calls :meth:`VirtualClock.advance`, so timing behaviour is
checked exactly and nothing sleeps.

Example:
    >>> clock = VirtualClock()
    >>> fired = []
    >>> _ = clock.call_later(2.0, lambda: fired.append(clock.now()))
    >>> clock.advance(1.0); fired
    []
    >>> clock.advance(1.0); fired
    [2.0]
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol

__all__ = ["SYSTEM_CLOCK", "Clock", "SystemClock", "TimerHandle", "VirtualClock", "wall_time"]


class TimerHandle(Protocol):
    """What :meth:`Clock.call_later` returns: a timer that can be cancelled."""

    def cancel(self) -> None: ...


class Clock(Protocol):
    """A source of time and timers, in seconds (the origin is arbitrary).

    ``now()`` reads the time; ``call_later(delay, callback)`` calls ``callback()`` once,
    ``delay`` seconds from now, on the event loop's thread (a virtual clock: inside
    ``advance()``); ``sleep(delay)`` waits.
    """

    def now(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle: ...

    async def sleep(self, delay: float) -> None: ...


class SystemClock:
    """The real clock: monotonic time, and timers on the running event loop."""

    def now(self) -> float:
        return time.monotonic()  # asyncio loops' time(), so timers and now() agree

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(delay, callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)

    def __repr__(self) -> str:
        return "SystemClock()"


SYSTEM_CLOCK = SystemClock()
"""The shared real clock; the default wherever a ``clock`` parameter is accepted."""


def wall_time() -> float:
    """Seconds since the epoch, for timestamps a user reads (a trace's start and end, an
    HTTP date); never for waiting or measuring durations: use a :class:`Clock`."""
    return time.time()


@dataclasses.dataclass(slots=True)
class _VirtualTimer:
    when: float
    callback: Callable[[], object]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class VirtualClock:
    """A clock for tests: time (from ``start``) stands still until :meth:`advance` moves it.

    ``advance(seconds)`` fires the timers that fall due (those its callbacks set too) in
    deadline order, ties in the order set, :meth:`now` reading each one's deadline. Tasks
    they wake (e.g. in :meth:`sleep`) run at the event loop's next iteration.

    Example (in an async test):
        >>> task = asyncio.create_task(clock.sleep(5)); await asyncio.sleep(0)  # doctest: +SKIP
        >>> clock.advance(5); await task                                       # doctest: +SKIP
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._timers: list[tuple[float, int, _VirtualTimer]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        timer = _VirtualTimer(self._now + max(0.0, delay), callback)
        heapq.heappush(self._timers, (timer.when, next(self._order), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        future = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await future
        finally:
            timer.cancel()

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing the timers that fall due on the way."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back: advance() got {seconds!r} seconds.")
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            when, _, timer = heapq.heappop(self._timers)
            if timer.cancelled:
                continue
            self._now = when
            timer.callback()
        self._now = target

    @property
    def next_deadline(self) -> float | None:
        """When the next pending timer falls due, or None if none is set."""
        while self._timers and self._timers[0][2].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    @property
    def pending_timers(self) -> int:
        """How many timers are set and not yet fired or cancelled."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    def __repr__(self) -> str:
        return f"VirtualClock(now={self._now!r}, pending_timers={self.pending_timers})"
