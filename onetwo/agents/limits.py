"""Time limits of agent runs: a deadline on the injectable clock that cancels the work.

:func:`deadline` cancels the task running its body when ``seconds`` pass on ``clock``
(``onetwo.core.clock``), and turns that cancellation into the error ``on_expiry()``
builds. Agents use it for ``step_timeout`` and ``run_timeout`` (raising
:class:`~onetwo.agents.errors.AgentTimeout`) and for each tool's ``timeout`` (turned into
an observation). With a ``VirtualClock`` the limit fires when the test advances time, so
no test waits for real.

Example:
    >>> async def slow_step():
    ...     async with deadline(2.0, lambda: TimeoutError("step 1 took over 2 s")):
    ...         await asyncio.sleep(10)   # raises TimeoutError after 2 s
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from onetwo.core.clock import SYSTEM_CLOCK, Clock

__all__ = ["deadline"]


@contextlib.asynccontextmanager
async def deadline(
    seconds: float | None,
    on_expiry: Callable[[], BaseException],
    *,
    clock: Clock = SYSTEM_CLOCK,
) -> AsyncIterator[None]:
    """Run the body within ``seconds`` (``None``: no limit), else raise ``on_expiry()``.

    A cancellation that does not come from this deadline (the caller's, an outer
    deadline's) propagates unchanged.
    """
    if seconds is None:
        yield
        return
    if seconds <= 0:
        raise ValueError(f"a time limit must be > 0 seconds or None, got {seconds!r}.")
    task = asyncio.current_task()
    if task is None:  # pragma: no cover - always inside a task on onetwo's loops
        raise RuntimeError("deadline() must run inside an asyncio task.")
    before = task.cancelling()
    fired = False

    def expire() -> None:
        nonlocal fired
        fired = True
        task.cancel()

    handle = clock.call_later(seconds, expire)
    try:
        yield
    except asyncio.CancelledError:
        if fired and task.uncancel() <= before:
            raise on_expiry() from None
        raise
    finally:
        handle.cancel()
