"""Deprecated: ``PerLoop`` is :class:`onetwo.core.runtime.RuntimeValue` under its old name.

Since ``ot.run`` runs on onetwo's one long-lived runtime loop, a loop-bound value (an SDK
client and its connections) is made once there and serves every run. New code uses
``RuntimeValue`` and reaches it from another loop with ``await runtime.on_runtime(fn)``.

Until every backend hops over, :meth:`PerLoop.get` awaited on a loop of the user's own
(``await backend.generate_text(...)`` in their code) still gets a value of that loop,
closed when that loop shuts down.

Example:
    >>> clients = PerLoop(make_client, close=lambda c: c.aclose())
    >>> client = clients.get()   # inside a coroutine  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from onetwo.core import runtime
from onetwo.core.runtime import RuntimeValue

_Closer = Callable[[Any], Awaitable[object]]

__all__ = ["PerLoop"]

T = TypeVar("T")


class PerLoop(RuntimeValue[T]):
    """A :class:`RuntimeValue` that also serves code running on another loop (deprecated)."""

    def __init__(self, factory: Callable[[], T], *, close: _Closer | None = None) -> None:
        super().__init__(factory, close=close)
        self._others: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        # The loop holds its async generators weakly: keep each finalizer alive here.
        self._finalizers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncIterator[None]
        ] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        loop = asyncio.get_running_loop()
        if loop is runtime.loop():
            return super().get()
        if loop not in self._others:
            self._others[loop] = self._factory()
            # Its first step registers the finalizer with the loop, which finalizes async
            # generators when it shuts down (asyncio.run does): that closes the value.
            finalizer = self._finalizers[loop] = self._finalizer(loop)
            with contextlib.suppress(StopIteration):  # it stopped at its yield
                finalizer.__anext__().send(None)  # type: ignore[attr-defined]
        return self._others[loop]

    async def _finalizer(self, loop: asyncio.AbstractEventLoop) -> AsyncIterator[None]:
        try:
            yield
        finally:
            value = self._others.pop(loop, None)
            if value is not None and self._close is not None:
                await self._close(value)

    def __getstate__(self) -> dict[str, Any]:
        return {"factory": self._factory, "close": self._close}

    def __setstate__(self, state: dict[str, Any]) -> None:
        PerLoop.__init__(self, state["factory"], close=state["close"])
