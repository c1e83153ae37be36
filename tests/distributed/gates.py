"""A meeting point for the workers of a test: a victim to kill, or a barrier."""

from __future__ import annotations

import asyncio

import ray

__all__ = ["Gate"]


@ray.remote
class Gate:
    """Meets the workers: the first ``hold`` arrivals hang (killed by the test), later ones pass.

    ``victims()`` waits until ``hold`` workers arrived and returns their pids.
    """

    def __init__(self, hold: int) -> None:
        self.hold, self.pids = hold, list[int]()
        self.full = asyncio.Event()

    async def arrive(self, pid: int) -> bool:
        if len(self.pids) >= self.hold:
            return False
        self.pids.append(pid)
        if len(self.pids) == self.hold:
            self.full.set()
        if self.hold > 1:  # a barrier: return once all arrived, and let them pass
            await asyncio.wait_for(self.full.wait(), 60)
            return False
        return True

    async def victims(self) -> list[int]:
        await asyncio.wait_for(self.full.wait(), 60)
        return self.pids
