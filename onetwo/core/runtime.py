"""The runtime: one event loop that onetwo owns for the whole process.

``ot.run`` (from a script, a thread or a Jupyter cell) runs its work on this loop with
:func:`submit` and blocks until it is done, so what is bound to a loop (HTTP clients,
rate limiter state, batch queues) is made once, as a :class:`RuntimeValue`, and serves
every run. The loop starts on first use (again in a forked child) and shuts down at exit.
``await executable`` on a loop of the user's own runs there; :func:`on_runtime` hops over.

A caller with no loop of its own drives the loop itself while no other thread does (no
thread hop per run). Other work is posted, and the daemon thread ``onetwo-runtime`` drives
the loop when no caller does and work waits (also tasks a run left behind).

Example:
    >>> async def answer() -> int:
    ...     return 42
    >>> submit(answer, context=contextvars.copy_context())
    42
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import contextvars
import os
import signal
import threading
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from onetwo.errors import OneTwoError

__all__ = ["NestedRunError", "RuntimeValue", "loop", "on_runtime", "shutdown", "submit"]

T = TypeVar("T")
_Closer = Callable[[Any], Awaitable[object]]


class NestedRunError(OneTwoError):
    """``ot.run`` (or another sync entry point) was called from sync code inside a run."""


class _Runtime:
    """The loop, who drives it, and the values made on it that it must close."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.open: dict[int, tuple[Any, _Closer]] = {}  # id(RuntimeValue): (value, close)
        self.closing: set[asyncio.Task[Any]] = set()
        self.draining: asyncio.Task[None] | None = None  # the daemon's, while it drives
        self.runner = asyncio.Runner(loop_factory=asyncio.new_event_loop)
        self.loop = self.runner.get_loop()
        self.lock = threading.Condition(threading.RLock())  # close_soon may run under it
        self.driven = False  # a thread is running the loop
        self.wanted = False  # work was posted, or left on the loop, since the daemon drove it
        self.closed = False
        self.thread = threading.Thread(target=self._serve, name="onetwo-runtime", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            with self.lock:
                self.lock.wait_for(lambda: not self.driven and (self.closed or self.wanted))
                self.driven, self.wanted = True, False
                if self.closed:
                    break
            # A run's task that raised KeyboardInterrupt/SystemExit holds it for its caller.
            with contextlib.suppress(KeyboardInterrupt, SystemExit):
                self.loop.run_until_complete(self._drain())
            self.release()
        self.runner.close()  # cancels what is left, finalizes async generators and executor

    async def _drain(self) -> None:
        """Until no task is left on the loop: runs, and what they left behind."""
        self.draining = asyncio.current_task()
        while tasks := asyncio.all_tasks() - {self.draining}:
            await asyncio.wait(tasks)

    def drive(self, fn: Callable[[], Awaitable[T]], context: contextvars.Context) -> T:
        """Run ``fn()`` on the loop in this thread, which took it, then release it.

        In the main thread Ctrl-C cancels the run, lets it unwind, then raises
        ``KeyboardInterrupt`` (a second one at once), as ``asyncio.Runner.run`` does at
        tens of µs more a run.
        """
        task: asyncio.Task[T] | None = None
        interrupted = ours = False

        def on_sigint(signum: int, frame: object) -> None:
            nonlocal interrupted
            if interrupted or task is None or task.done():
                raise KeyboardInterrupt
            interrupted = True
            self.loop.call_soon_threadsafe(task.cancel)

        try:  # from the first step: a Ctrl-C anywhere here still releases the loop
            task = self.loop.create_task(_call(fn), context=context)
            ours = (  # unless the application handles Ctrl-C its own way
                threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler
            )
            if ours:
                signal.signal(signal.SIGINT, on_sigint)
            return self.loop.run_until_complete(task)
        except asyncio.CancelledError:
            if interrupted:
                raise KeyboardInterrupt from None
            raise
        finally:
            if ours:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            if task is not None and not task.done():  # interrupted before or while it ran
                task.cancel()  # it unwinds when the loop runs next
            self.release()

    def take(self) -> bool:
        """Become the thread that drives the loop, if none does."""
        with self.lock:
            taken, self.driven = not self.driven, True
            return taken

    def release(self) -> None:
        """Stop driving the loop; the daemon takes over if work is left on it."""
        with self.lock:
            self.driven = False
            if self.wanted or asyncio.all_tasks(self.loop):
                self.wanted = True
                self.lock.notify()

    def post(self, fn: Callable[[], Awaitable[T]], context: contextvars.Context) -> _Run[T]:
        """Start ``fn()`` on the loop from any thread; whoever drives the loop runs it."""
        with self.lock:
            run = _Run(self.loop, fn, context)
            self.wanted = True  # even while a caller drives: it may stop before it starts this
            if not self.driven:
                self.lock.notify()
        return run

    def close_soon(self, token: int) -> None:
        """Close a value whose owner is gone (a finalizer calls this, from any thread)."""
        entry = self.open.pop(token, None)
        if entry is not None and self.pid == os.getpid() and not self.closed:
            self.post(lambda: self._close(*entry), contextvars.Context())

    async def _close(self, value: Any, close: _Closer) -> None:
        task: Any = asyncio.current_task()
        self.closing.add(task)  # _close_all waits for it instead of cancelling it
        task.add_done_callback(self.closing.discard)
        await close(value)

    async def _close_all(self) -> None:
        """Unwind the runs still going, then close every value, the newest first."""
        runs = asyncio.all_tasks() - {asyncio.current_task(), self.draining, *self.closing}
        for task in runs:
            task.cancel()
        await asyncio.gather(*runs, *self.closing, return_exceptions=True)
        while self.open:
            value, close = self.open.popitem()[1]
            with contextlib.suppress(Exception):  # one failing close must not stop the rest
                await close(value)

    def shutdown(self, timeout: float) -> None:
        """From another thread: unwind the runs, close the values, end the daemon."""
        if self.pid != os.getpid() or not self.thread.is_alive():
            return
        with contextlib.suppress(Exception):  # whoever drives the loop runs _close_all
            self.post(self._close_all, contextvars.Context()).result(timeout)
        with self.lock:
            self.closed = True
            self.lock.notify()
        self.thread.join(timeout)


async def _call(fn: Callable[[], Awaitable[T]]) -> T:
    return await fn()


class _Run(concurrent.futures.Future[T]):
    """Work posted to the runtime loop from another thread: settled by its task's end only."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, fn: Callable[[], Awaitable[T]], context: Any
    ) -> None:
        super().__init__()
        self.set_running_or_notify_cancel()  # so only stop() cancels it, through the task
        self._loop = loop
        self._task: asyncio.Task[T] | None = None
        loop.call_soon_threadsafe(self._start, fn, context)

    def _start(self, fn: Callable[[], Awaitable[T]], context: contextvars.Context) -> None:
        self._task = self._loop.create_task(_call(fn), context=context)
        self._task.add_done_callback(self._settle)

    def _settle(self, task: asyncio.Task[T]) -> None:
        try:
            self.set_result(task.result())
        except BaseException as e:  # the run's error, cancellation included, for its caller
            self.set_exception(e)

    def stop(self) -> None:
        # After _start: the loop runs callbacks in the order they were scheduled.
        self._loop.call_soon_threadsafe(lambda: self._task and self._task.cancel())


_runtime: _Runtime | None = None
_lock = threading.Lock()
_forked_away: list[_Runtime | None] = []  # the parent's, kept so no finalizer touches its loop


def _get() -> _Runtime:
    global _runtime
    runtime = _runtime
    if runtime is None:
        with _lock:
            runtime = _runtime = _runtime or _Runtime()
    return runtime


def loop() -> asyncio.AbstractEventLoop:
    """The runtime's event loop (started on first use)."""
    return _get().loop


def submit(coro_factory: Callable[[], Awaitable[T]], *, context: contextvars.Context) -> T:
    """Run ``coro_factory()`` on the runtime loop, in ``context``; block for its result.

    An exception in the waiting thread (``KeyboardInterrupt``: a notebook's stop button)
    cancels the run, waits for it to unwind, and is re-raised. From sync code inside a run
    (which would block the loop it waits on) raises :class:`NestedRunError`.
    """
    runtime = _get()
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is runtime.loop:
        raise NestedRunError(
            "ot.run() was called from code running inside a run (a sync function of a "
            "strategy), which would block the loop it waits on. Make that function "
            "`async def` and `await` the executable instead of calling ot.run() on it."
        )
    if running is None and runtime.take():
        return runtime.drive(coro_factory, context)
    run = runtime.post(coro_factory, context)
    try:
        return run.result()
    except BaseException:
        if not run.done():  # interrupted while waiting
            run.stop()
            concurrent.futures.wait([run])
        raise


async def on_runtime(fn: Callable[[], Awaitable[T]]) -> T:
    """Await ``fn()`` on the runtime loop, in a copy of this context (here if already on it).

    Cancelling the caller cancels ``fn()`` and waits for it to unwind; a cancelled
    ``fn()`` cancels the caller.
    """
    runtime = _get()
    if asyncio.get_running_loop() is runtime.loop:
        return await fn()
    run = runtime.post(fn, contextvars.copy_context())
    outcome = asyncio.wrap_future(run)
    try:
        return await asyncio.shield(outcome)
    except asyncio.CancelledError:
        if not outcome.done():  # the caller was cancelled, not fn
            run.stop()
            await asyncio.wait([outcome])
        raise


def shutdown(timeout: float = 10.0) -> None:
    """Cancel the runs still going, close the values, end the thread (done at exit).

    The next use starts a fresh runtime.
    """
    global _runtime
    with _lock:
        runtime, _runtime = _runtime, None
    if runtime is not None:
        runtime.shutdown(timeout)


def _forget_after_fork() -> None:
    global _runtime, _lock
    _forked_away.append(_runtime)  # its thread is not in this process
    _runtime, _lock = None, threading.Lock()


atexit.register(shutdown)
os.register_at_fork(after_in_child=_forget_after_fork)


class RuntimeValue(Generic[T]):
    """A value made on first use on the runtime loop, kept for the life of the runtime.

    Declared once where it is used (like trio's ``RunVar``): an SDK client whose
    connections every run reuses, a rate limiter's state. ``close(value)`` is awaited on
    the loop at shutdown, or soon after this object is collected. Copies and pickles
    start without a value.

    Example:
        >>> clients = RuntimeValue(make_client, close=lambda c: c.aclose())  # doctest: +SKIP
        >>> client = clients.get()  # in a coroutine on the runtime loop       # doctest: +SKIP
    """

    def __init__(self, factory: Callable[[], T], *, close: _Closer | None = None) -> None:
        self._factory = factory
        self._close = close
        self._held: tuple[_Runtime, T] | None = None

    def get(self) -> T:
        """The value (made now if this runtime has none); call it on the runtime loop."""
        runtime = _runtime
        if runtime is None or asyncio.get_running_loop() is not runtime.loop:
            raise RuntimeError(
                f"{self!r}.get() runs on onetwo's runtime loop only; from another loop, "
                "reach it with `await onetwo.core.runtime.on_runtime(fn)`."
            )
        held = self._held
        if held is None or held[0] is not runtime:
            held = self._held = (runtime, self._factory())
            if self._close is not None:  # one value per runtime: id(self) names it there
                runtime.open[id(self)] = (held[1], self._close)
                weakref.finalize(self, runtime.close_soon, id(self)).atexit = False
        return held[1]

    def peek(self) -> T | None:
        """The value if the current runtime has made it, else None; from any thread."""
        held = self._held
        return held[1] if held is not None and held[0] is _runtime else None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_held": None}

    def __repr__(self) -> str:
        return f"RuntimeValue({getattr(self._factory, '__name__', self._factory)!r})"
