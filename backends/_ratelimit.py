"""The rate limiter of the real backends: requests per second and requests in flight.

Example:
    >>> from onetwo.backends import RateLimiter
    >>> limiter = RateLimiter(requests_per_second=5, max_concurrency=2)
    >>> OpenAIAPI("gpt-4o-mini", rate_limiter=limiter)  # doctest: +SKIP

A backend takes a slot for each attempt of each request (retries included), so the
limits hold for what the server really receives.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from onetwo.backends._settings import check_options
from onetwo.core import runtime
from onetwo.core.clock import SYSTEM_CLOCK, Clock

__all__ = ["RateLimiter"]


class _LimiterState:
    def __init__(self, max_concurrency: int | None) -> None:
        self.semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self.next_start = 0.0
        self.in_flight = 0
        self.waiting = 0
        self.started = 0


class RateLimiter:
    """Caps requests per second and requests in flight, for the whole process.

    One budget per limiter: every run (concurrent ``ot.run`` calls from several threads
    included) draws on it, and two backends that share one limiter share its budget. Its
    state lives on onetwo's runtime loop; a request awaited on another loop takes its slot
    there.

    Args:
        requests_per_second: at most this many request starts per second, evenly spaced
            (``None``: no limit).
        max_concurrency: at most this many requests in flight (``None``: no limit).
        clock: what spaces the requests (a recording or virtual clock in tests).

    Example:
        >>> limiter = RateLimiter(requests_per_second=5, max_concurrency=2)
        >>> async with limiter.slot():   # doctest: +SKIP
        ...     await send_request()
    """

    def __init__(
        self,
        requests_per_second: float | None = None,
        max_concurrency: int | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        check_options(
            "RateLimiter",
            requests_per_second=requests_per_second,
            max_concurrency=max_concurrency,
            clock=clock,
        )
        self.requests_per_second = requests_per_second
        self.max_concurrency = max_concurrency
        self.clock = clock
        self._state = runtime.RuntimeValue(functools.partial(_LimiterState, max_concurrency))

    @property
    def unlimited(self) -> bool:
        return self.requests_per_second is None and self.max_concurrency is None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for the limits to allow one more request, and hold a slot while inside."""
        if self.unlimited:
            yield
            return
        held: list[_LimiterState] = []  # filled on the runtime loop once the slot is taken
        try:
            await runtime.on_runtime(functools.partial(self._acquire, held))
            yield
        finally:
            if held:
                await runtime.on_runtime(functools.partial(self._release, held[0]))

    async def _acquire(self, held: list[_LimiterState]) -> None:
        state = self._state.get()
        state.waiting += 1
        try:
            if state.semaphore is not None:
                await state.semaphore.acquire()
            try:
                await self._space(state)
            except BaseException:
                if state.semaphore is not None:
                    state.semaphore.release()
                raise
        finally:
            state.waiting -= 1
        state.in_flight += 1
        state.started += 1
        held.append(state)

    async def _release(self, state: _LimiterState) -> None:
        state.in_flight -= 1
        if state.semaphore is not None:
            state.semaphore.release()

    async def _space(self, state: _LimiterState) -> None:
        """Wait for this request's start time: 1/rps after the previous one's."""
        if self.requests_per_second is None:
            return
        now = self.clock.now()
        start = max(now, state.next_start)
        state.next_start = start + 1.0 / self.requests_per_second
        if start > now:
            await self.clock.sleep(start - now)

    def stats(self) -> dict[str, int]:
        """Requests started, in flight and waiting (since the runtime started)."""
        state = self._state.peek() or _LimiterState(None)
        return {"started": state.started, "in_flight": state.in_flight, "waiting": state.waiting}

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"RateLimiter(requests_per_second={self.requests_per_second}, "
            f"max_concurrency={self.max_concurrency}, in_flight={s['in_flight']}, "
            f"waiting={s['waiting']})"
        )
