"""Run a coroutine to completion from synchronous code, even inside Jupyter.

This is the one module that starts event loops. In a plain script there is no running
loop, so :func:`run_sync` uses ``asyncio.run``. In Jupyter/Colab a loop is already running
in the main thread and cannot be re-entered; there :func:`run_sync` runs a fresh loop in
a worker thread, with a copy of the caller's context variables (registry, options), and
blocks until it is done. No ``nest_asyncio``.

Every call gets a fresh event loop: anything tied to a loop (HTTP clients, semaphores,
rate limiters) must be created per loop, not at import or construction time.

Example:
    >>> async def answer() -> int:
    ...     return 42
    >>> run_sync(answer)
    42
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["in_running_loop", "run_sync"]

T = TypeVar("T")


def in_running_loop() -> bool:
    """Whether this thread is already running an event loop (e.g. a Jupyter kernel)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def run_sync(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main()`` on a fresh event loop and return its result (or raise its error).

    Args:
        main: a zero-argument callable returning the coroutine to run. It is called on the
            thread that runs the loop, inside a copy of the caller's context.
    """
    if not in_running_loop():
        return asyncio.run(main())
    return _run_in_worker_thread(main)


def _run_in_worker_thread(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    context = contextvars.copy_context()
    outcome: dict[str, Any] = {}
    started = threading.Event()
    handle: list[tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]]] = []

    async def runner() -> T:
        task = asyncio.current_task()
        assert task is not None
        handle.append((asyncio.get_running_loop(), task))
        started.set()
        return await main()

    def work() -> None:
        try:
            # asyncio.Runner, like asyncio.run, cancels leftover tasks and shuts down
            # async generators and the default executor before closing the loop.
            with asyncio.Runner() as loop_runner:
                outcome["value"] = loop_runner.run(runner())
        except BaseException as e:  # handed to the calling thread
            outcome["error"] = e
        finally:
            started.set()

    thread = threading.Thread(target=context.run, args=(work,), name="onetwo-run", daemon=True)
    thread.start()
    try:
        thread.join()
    except BaseException:
        # Interrupted (e.g. the notebook's stop button): cancel the run, wait for it to
        # unwind so nothing keeps running behind the user's back, then re-raise.
        started.wait()
        if handle:
            loop, task = handle[0]
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop already closed: the run had finished
                pass
        thread.join()
        raise
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
