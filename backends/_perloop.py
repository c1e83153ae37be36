"""Per-event-loop values: how the real backends live with ``ot.run``'s fresh loops.

``ot.run`` runs each call on a fresh event loop, so anything bound to a loop (SDK
clients and their connection pools, semaphores, a rate limiter's state) cannot be made
once at construction: it lives in a :class:`PerLoop`, is created on first use in each
loop, and is closed when that loop shuts down.

Example:
    >>> clients = PerLoop(make_client, close=lambda c: c.aclose())
    >>> client = clients.get()   # inside a coroutine  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["PerLoop"]

T = TypeVar("T")


class PerLoop(Generic[T]):
    """A value created lazily once per running event loop, and closed with it.

    When the loop shuts down (``asyncio.run`` and ``asyncio.Runner``, hence every
    ``ot.run``, finalize async generators before closing it), the value is dropped and
    ``close(value)`` awaited: an HTTP client never outlives its loop nor leaks a socket.

    Args:
        factory: makes the value; called inside the loop that will use it.
        close: awaited with the value when its loop shuts down.
    """

    def __init__(
        self,
        factory: Callable[[], T],
        *,
        close: Callable[[T], Awaitable[object]] | None = None,
    ) -> None:
        self._factory = factory
        self._close = close
        self._values: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        # The loop holds its async generators weakly: keep each finalizer alive here.
        self._finalizers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncIterator[None]
        ] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """The value for the running loop; created on the first call in that loop."""
        loop = asyncio.get_running_loop()
        value = self._values.get(loop)
        if value is None:
            value = self._values[loop] = self._factory()
            finalizer = self._finalizers[loop] = self._finalizer(loop, value)
            _start(finalizer)
        return value

    async def _finalizer(self, loop: asyncio.AbstractEventLoop, value: T) -> AsyncIterator[None]:
        try:
            yield
        finally:
            self._values.pop(loop, None)
            self._finalizers.pop(loop, None)
            if self._close is not None:
                await self._close(value)

    def values(self) -> list[T]:
        """The values of the loops that are still running."""
        return list(self._values.values())


def _start(agen: AsyncIterator[None]) -> None:
    """Run an async generator to its first ``yield`` without awaiting.

    Its first step registers it with the running loop (``sys.set_asyncgen_hooks``), which
    finalizes it at shutdown.
    """
    try:
        agen.__anext__().send(None)  # type: ignore[attr-defined]
    except StopIteration:
        pass
    else:  # pragma: no cover - the generator only yields
        raise RuntimeError("the finalizer did not stop at its yield")
