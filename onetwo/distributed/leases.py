"""Leases: one worker at a time makes a call, the others wait for its result.

A worker about to call a model for a (key, sampling key) the driver's cache does not hold
takes the lease on it; another worker asking for the same one waits until the lease is
released (the result is then in the cache), its holder dies, or ``timeout`` seconds
pass (then it makes the call itself: a late or lost holder never blocks the run). A
holder is a :class:`Holder` (node, pid); a holder on the server's own node is watched
through a pidfd, so its death (e.g. ``SIGKILL``) releases its leases at once.

Example:
    >>> leases = Leases(node="n1")
    >>> leases.acquire(("k", ""), Holder("n1", 1))
    True
    >>> leases.acquire(("k", ""), Holder("n1", 2))  # held: wait(...), then ask again
    False
    >>> leases.release(("k", ""), Holder("n1", 1))
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
from collections.abc import Hashable
from typing import Any

__all__ = ["Holder", "Leases"]


@dataclasses.dataclass(frozen=True)
class Holder:
    """A worker process: its Ray node id and its pid."""

    node: str
    pid: int

    def __str__(self) -> str:
        return f"{self.node[:8]}:{self.pid}"


@dataclasses.dataclass
class _Lease:
    holder: Holder
    count: int  # calls of the holder under this lease (its own in-flight calls share it)
    released: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


class Leases:
    """The leases of one server, on its event loop; see the module docstring.

    Args:
        node: the server's node id (holders there are watched for death).
        timeout: seconds a waiter waits at most before making the call itself.
    """

    def __init__(self, node: str, timeout: float = 600.0) -> None:
        if timeout <= 0:
            raise ValueError(f"the lease timeout must be > 0 seconds, got {timeout!r}.")
        self.node, self.timeout = node, timeout
        self._held: dict[Hashable, _Lease] = {}
        self.waits = self.broken = 0

    def __len__(self) -> int:
        return len(self._held)

    def acquire(self, name: Hashable, holder: Holder) -> bool:
        """Take (or share, for the same holder) the lease; False if another holds it."""
        lease = self._held.get(name)
        if lease is not None and lease.holder != holder and self._alive(lease.holder):
            return False
        if lease is not None and lease.holder == holder:
            lease.count += 1
        else:
            if lease is not None:
                self._break(name, lease)
            self._held[name] = _Lease(holder, 1)
        return True

    def release(self, name: Hashable, holder: Holder) -> None:
        """Give back one use of the lease (a no-op if ``holder`` does not hold it)."""
        lease = self._held.get(name)
        if lease is not None and lease.holder == holder:
            lease.count -= 1
            if lease.count <= 0:
                del self._held[name]
                lease.released.set()

    async def wait(self, name: Hashable) -> None:
        """Until the lease is released, its holder dies, or the timeout passes."""
        if (lease := self._held.get(name)) is None:
            return
        self.waits += 1
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(lease.released.wait())]
        death = self._death(lease.holder)
        if death is not None:
            waits.append(death)
        try:
            await asyncio.wait(waits, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in waits:
                fut.cancel()
        if not lease.released.is_set() and self._held.get(name) is lease:
            self._break(name, lease)  # its holder died, or is too slow: release it

    def _break(self, name: Hashable, lease: _Lease) -> None:
        self.broken += 1
        del self._held[name]
        lease.released.set()

    def _alive(self, holder: Holder) -> bool:
        if holder.node != self.node:
            return True  # another machine: only the timeout tells
        try:
            os.kill(holder.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def _death(self, holder: Holder) -> asyncio.Future[None] | None:
        """A future done when ``holder`` (on this node) exits; None if it cannot be watched."""
        if holder.node != self.node:
            return None
        try:
            fd = os.pidfd_open(holder.pid)
        except OSError:  # gone already, or no pidfd on this system
            return None if self._alive(holder) else _done()
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()

        def exited() -> None:
            if not fut.done():
                fut.set_result(None)

        loop.add_reader(fd, exited)

        def close(_: object) -> None:
            loop.remove_reader(fd)
            with contextlib.suppress(OSError):
                os.close(fd)

        fut.add_done_callback(close)
        return fut


def _done() -> asyncio.Future[None]:
    fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    fut.set_result(None)
    return fut
