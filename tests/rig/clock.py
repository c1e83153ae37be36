"""A clock for tests of waiting code that runs inside ``ot.run`` (where no test can step in).

``onetwo.core.clock.VirtualClock`` needs the test to call ``advance()``; a backend's retry
or rate limiter running on ``ot.run``'s own loop has nobody to do that. A
:class:`RecordingClock` instead returns from every ``sleep`` at once and records how long
it was asked to wait, so a test checks the exact waits of a real call without sleeping.

Example:
    >>> clock = RecordingClock()
    >>> backend = OpenAIAPI(..., retry=RetryPolicy(clock=clock))   # doctest: +SKIP
    >>> ot.run(llm.generate_text("Hi"))                            # doctest: +SKIP
    >>> clock.sleeps   # e.g. [7.0] after one 429 with retry-after: 7
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

__all__ = ["RecordingClock"]


class RecordingClock:
    """A clock whose sleeps return at once and are recorded.

    Args:
        advances: whether a sleep moves :meth:`now` forward by its delay. With ``False``
            time stands still, so waits that overlap (concurrent requests) are recorded
            the same whatever order the tasks run in.
    """

    def __init__(self, *, advances: bool = True) -> None:
        self.advances = advances
        self.t = 0.0
        self.sleeps: list[float] = []

    def now(self) -> float:
        return self.t

    def call_later(self, delay: float, callback: Callable[[], object]) -> asyncio.TimerHandle:
        return asyncio.get_running_loop().call_later(0, callback)

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)
        if self.advances:
            self.t += delay
        await asyncio.sleep(0)  # still a suspension point, like a real sleep
