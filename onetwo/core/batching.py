"""Automatic request batching: callers send one request, backends receive full batches.

Real backends answer fastest when concurrent requests travel together. Decorate a function
that takes a *list* of requests and returns the list of their results (same length, same
order) with :func:`batch_function` (or a method with :func:`batch_method`); each call of
the decorated function takes ONE request and returns an awaitable of its result. Calls
made concurrently (``ot.parallel``, ``ot.par_iter``, ``ot.repeat``, ``asyncio.gather``) are
grouped into batches behind the scenes, with no batching code in the strategy.

Example:
    >>> @batch_function(batch_size=32)
    ... async def embed(texts: list[str]) -> list[list[float]]:
    ...     return [[float(len(t))] for t in texts]
    >>> async def main():
    ...     return await asyncio.gather(*(embed(t) for t in ["a", "bb"]))  # one batch of 2

When a batch is cut. A queue collects the waiting requests of one batch function (per
instance for methods, per event loop). While one of its ``max_concurrent_batches`` slots
is free, it sends the waiting requests as a batch as soon as:

1. *full*: ``batch_size`` requests wait (sent from the call that filled it);
2. *idle*: nothing else can arrive now, i.e. the event loop reached a point where no other
   callback is ready to run: every runnable task has run until it waits, on this queue
   or on something else (I/O, a timer, a batch in flight). Found with one ``call_soon``
   chain per loop that re-arms itself while other callbacks are ready, so a request never
   waits for companions that cannot come, and tasks a few hops away (``gather`` inside
   ``par_iter`` inside a strategy) still join. On event loops that do not expose their
   ready queue (not asyncio's), the chain stops at the first loop iteration in which no
   new request arrived;
3. *max_wait*: ``max_wait`` seconds passed (on the queue's :class:`~onetwo.core.clock.Clock`)
   since the first waiting request arrived. It bounds the wait when the loop stays busy.

When every slot is busy, requests accumulate. A freed slot takes full batches at once; a
partial batch waits for the next idle point (so that the callers the finished batch just
woke can join it) or ``max_wait`` from the moment the slot freed. Nothing polls or sleeps.

Results. A result that is an exception instance fails only its request; an exception
raised by the batch call fails every request of that batch. A caller cancelled while its
request waits withdraws the request; one cancelled after its batch was sent just stops
waiting. A batch whose call ends cancelled (its task cancelled, or the function raising
``CancelledError``) cancels its callers and frees its slot for the requests behind it.
Synchronous batch functions run in a thread pool of ``max_concurrent_batches``
threads, never on the event loop. A batch runs in a copy of the context variables of the
request that opened it (registry, sampling key...).

``ot.run(..., enable_batching=False)`` sets :data:`batching_enabled` to False: each call
then goes straight to the batch function with a one-request list (results are the same;
``max_concurrent_batches`` then bounds only the threads of a sync function).

When not to use it: a backend that takes one request per call and has no batch endpoint
gains nothing (use a semaphore for concurrency limits).
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import dataclasses
import functools
import inspect
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, Generic, TypeAlias, TypeVar, cast, overload

from onetwo.core.clock import SYSTEM_CLOCK, Clock, TimerHandle

__all__ = [
    "DEFAULT_MAX_WAIT",
    "BatchFunction",
    "BatchMethod",
    "BatchQueue",
    "BatchStats",
    "BoundBatchMethod",
    "batch_function",
    "batch_method",
    "batching_enabled",
]

Req = TypeVar("Req")
Res = TypeVar("Res")
Owner = TypeVar("Owner")
T = TypeVar("T")

# Set by ``ot.run(..., enable_batching=...)``; batch queues send one by one when False.
batching_enabled: ContextVar[bool] = ContextVar("onetwo_batching_enabled", default=True)

DEFAULT_MAX_WAIT = 0.05
"""Seconds a request waits at most for companions while the event loop stays busy."""

# A batch function: sync or async, list of requests in, one result (or exception) each out.
BatchFn: TypeAlias = Callable[[list[Req]], Awaitable[Sequence[Res]] | Sequence[Res]]
# A parameter of batch_method: a value, or a function reading it from the instance.
Param: TypeAlias = T | Callable[[Any], T]


@dataclasses.dataclass(frozen=True)
class BatchStats:
    """What a batch queue has done, and what it holds now.

    Attributes:
        requests: requests sent to the batch function.
        batches: batch calls made (one per request when batching is disabled).
        mean_batch_size: ``requests / batches`` (0.0 before the first batch).
        max_in_flight: the most batch calls running at once.
        queued: requests waiting for a batch now.
        in_flight: batch calls running now.
    """

    requests: int = 0
    batches: int = 0
    mean_batch_size: float = 0.0
    max_in_flight: int = 0
    queued: int = 0
    in_flight: int = 0


class _Counters:
    __slots__ = ("batches", "in_flight", "max_in_flight", "queued", "requests")

    def __init__(self) -> None:
        self.requests = self.batches = self.max_in_flight = self.queued = self.in_flight = 0

    def sent(self, size: int) -> None:
        self.requests += size
        self.batches += 1
        self.in_flight += 1
        if self.in_flight > self.max_in_flight:
            self.max_in_flight = self.in_flight

    def snapshot(self) -> BatchStats:
        mean = self.requests / self.batches if self.batches else 0.0
        return BatchStats(
            self.requests, self.batches, mean, self.max_in_flight, self.queued, self.in_flight
        )


class _Item:
    __slots__ = ("future", "request", "sent")

    def __init__(self, request: Any, future: asyncio.Future[Any]) -> None:
        self.request = request
        self.future = future
        self.sent = False


class _IdleWatcher:
    """One per event loop: tells the queues that asked when no other callback is ready."""

    __slots__ = ("__weakref__", "_armed", "_arrivals", "_queues", "_ready", "_seen")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # asyncio's own loops keep their runnable callbacks in a deque named `_ready`. It is
        # the only exact "is anything else runnable?" signal; other loops get the fallback.
        ready = getattr(loop, "_ready", None)
        self._ready: collections.deque[Any] | None = (
            ready if isinstance(ready, collections.deque) else None
        )
        self._queues: dict[BatchQueue[Any, Any], None] = {}
        self._armed = False
        self._arrivals = self._seen = 0

    def watch(self, queue: BatchQueue[Any, Any]) -> None:
        self._queues[queue] = None
        self._arrivals += 1
        if not self._armed:
            self._armed = True
            asyncio.get_running_loop().call_soon(self._tick)

    def _tick(self) -> None:
        if self._ready is not None:
            busy = len(self._ready) > 0
        else:
            busy = self._arrivals != self._seen
            self._seen = self._arrivals
        if busy:
            asyncio.get_running_loop().call_soon(self._tick)
            return
        self._armed = False
        queues = list(self._queues)
        self._queues.clear()
        for queue in queues:
            queue._on_idle()


_watchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _IdleWatcher] = (
    weakref.WeakKeyDictionary()
)


def _watcher(loop: asyncio.AbstractEventLoop) -> _IdleWatcher:
    watcher = _watchers.get(loop)
    if watcher is None:
        watcher = _watchers[loop] = _IdleWatcher(loop)
    return watcher


def _is_async_callable(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - async __call__ of a callable object
    )


def _consume_outcome(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # marks it retrieved: no "exception was never retrieved" log


def _name_of(fn: Any) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__qualname__


def _check_results(results: Any, size: int, name: str) -> Sequence[Any]:
    if not isinstance(results, Sequence) or isinstance(results, str | bytes):
        raise TypeError(
            f"Batch function {name} returned a {type(results).__name__}; it must return a "
            f"list with one result per request, in order (here {size})."
        )
    if len(results) != size:
        raise ValueError(
            f"Batch function {name} returned {len(results)} results for a batch of {size} "
            "requests; it must return exactly one result (or exception) per request, in order."
        )
    return results


def _check_params(batch_size: Any, max_wait: Any, max_concurrent_batches: Any, name: str) -> None:
    """Refuse bad values; callables (read from an instance later) are checked then."""
    _check_count("batch_size", batch_size, name)
    _check_count("max_concurrent_batches", max_concurrent_batches, name)
    if max_wait is None or callable(max_wait):
        return
    if isinstance(max_wait, bool) or not isinstance(max_wait, int | float):
        raise TypeError(
            f"max_wait of {name} must be a number of seconds or None, got "
            f"{type(max_wait).__name__} {max_wait!r}."
        )
    if not max_wait >= 0:  # `not >=`: NaN is refused too
        raise ValueError(
            f"max_wait of {name} must be >= 0 seconds, got {max_wait!r}. Pass 0 to send at "
            "once, or None to wait only for a full batch or an idle loop."
        )


def _check_count(param: str, value: Any, name: str) -> None:
    if callable(value):
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{param} of {name} must be an int >= 1, got {type(value).__name__} {value!r}."
        )
    if value < 1:
        raise ValueError(f"{param} of {name} must be an int >= 1, got {value!r}.")


class BatchQueue(Generic[Req, Res]):
    """The waiting requests and the batches in flight of one batch function, on one loop.

    Made by :class:`BatchFunction` / :class:`BoundBatchMethod` on first use in each event
    loop (``fn.queue()`` returns it); see the module docstring for when batches are cut.
    Make one only inside the running loop it serves.

    Args:
        fn: the batch function (sync or async): list of requests -> list of results.
        batch_size: the most requests in one batch.
        max_wait: seconds a request waits at most for companions; None for no limit.
        max_concurrent_batches: the most batch calls running at once.
        clock: the clock for ``max_wait``.
        name: for messages and ``repr``.
        is_async: whether ``fn`` returns an awaitable (detected when None).
        thread_pool: gives the thread pool of a sync ``fn``, given its size (default: a
            pool of this queue's own).
    """

    def __init__(
        self,
        fn: Callable[[list[Req]], Any],
        *,
        batch_size: int,
        max_wait: float | None = DEFAULT_MAX_WAIT,
        max_concurrent_batches: int = 1,
        clock: Clock = SYSTEM_CLOCK,
        name: str = "",
        is_async: bool | None = None,
        thread_pool: Callable[[int], ThreadPoolExecutor] | None = None,
    ) -> None:
        self.name = name or _name_of(fn)
        _check_params(batch_size, max_wait, max_concurrent_batches, self.name)
        self._fn = fn
        self._is_async = _is_async_callable(fn) if is_async is None else is_async
        self.batch_size = batch_size
        self.max_wait = max_wait
        self.max_concurrent_batches = max_concurrent_batches
        self.clock = clock
        self._counters = _Counters()
        self._pending: collections.deque[_Item] = collections.deque()
        self._timer: TimerHandle | None = None
        # The context batches run in: the one of the request that opened the pending set.
        self._context: contextvars.Context | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._executor: ThreadPoolExecutor | None = None
        self._thread_pool_of_size = thread_pool or _new_thread_pool
        self._watcher = _watcher(asyncio.get_running_loop())

    async def submit(self, request: Req) -> Res:
        """Queue ``request``; return its result once its batch is done."""
        if not batching_enabled.get():
            return await self._call_one(request)
        item = _Item(request, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        counters = self._counters
        counters.queued += 1
        if counters.queued == 1:
            self._context = contextvars.copy_context()
        if counters.queued >= self.batch_size:
            self._send_full()
        else:
            if counters.queued == 1:
                self._start_timer()
            if counters.in_flight < self.max_concurrent_batches:
                self._watcher.watch(self)
        try:
            return await item.future
        except asyncio.CancelledError:
            if not item.sent:  # still queued: withdraw it (the cut skips cancelled items)
                counters.queued -= 1
                if counters.queued == 0:
                    self._emptied()
            raise

    def stats(self) -> BatchStats:
        """Requests and batches sent so far, the most in flight, what waits now."""
        return self._counters.snapshot()

    def __repr__(self) -> str:
        c = self._counters
        mean = c.requests / c.batches if c.batches else 0.0
        return (
            f"<BatchQueue {self.name}: {c.queued} queued, {c.in_flight}/"
            f"{self.max_concurrent_batches} in flight, {c.batches} batches sent "
            f"(mean size {mean:.1f}, batch_size={self.batch_size}), max_wait={self.max_wait}>"
        )

    # Cutting and sending.

    def _cut(self) -> list[_Item]:
        batch: list[_Item] = []
        pending = self._pending
        while pending and len(batch) < self.batch_size:
            item = pending.popleft()
            if item.future.done():  # cancelled while waiting
                continue
            item.sent = True
            batch.append(item)
        self._counters.queued -= len(batch)
        return batch

    def _send(self, batch: list[_Item]) -> bool:
        if not batch:  # every item cut was cancelled, its caller not yet told
            return False
        self._counters.sent(len(batch))
        requests = [item.request for item in batch]
        # A sync function starts in its thread now, not when the task first runs (after
        # every callback already queued on the loop).
        started = None if self._is_async else self._start_in_thread(requests, self._context)
        task = asyncio.get_running_loop().create_task(
            self._run(batch, requests, started), context=self._context
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def _send_full(self) -> None:
        c = self._counters
        while c.in_flight < self.max_concurrent_batches and c.queued >= self.batch_size:
            if not self._send(self._cut()):
                break
        if c.queued == 0:
            self._emptied()

    def _flush(self) -> None:
        c = self._counters
        while c.in_flight < self.max_concurrent_batches and c.queued > 0:
            if not self._send(self._cut()):
                break
        if c.queued == 0:
            self._emptied()

    def _emptied(self) -> None:
        self._pending.clear()  # drop withdrawn items
        self._context = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _start_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.max_wait is not None:
            self._timer = self.clock.call_later(self.max_wait, self._on_deadline)

    def _on_deadline(self) -> None:
        self._timer = None
        if self._counters.in_flight < self.max_concurrent_batches:
            self._flush()
        # else: the next freed slot re-arms the idle watch and a fresh max_wait.

    def _on_idle(self) -> None:
        if self._counters.in_flight < self.max_concurrent_batches:
            self._flush()

    def _on_batch_done(self) -> None:
        c = self._counters
        c.in_flight -= 1
        self._send_full()
        if c.queued > 0 and c.in_flight < self.max_concurrent_batches:
            # A partial batch: let the callers just woken join it first.
            self._watcher.watch(self)
            if self._timer is None:
                self._start_timer()

    # Calling the batch function.

    async def _run(
        self, batch: list[_Item], requests: list[Req], started: asyncio.Future[Any] | None
    ) -> None:
        try:
            results = await self._call(requests, started)
        except Exception as error:
            self._on_batch_done()
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
        except BaseException:  # cancelled (e.g. the run ends): nobody gets a result
            # Free the slot the normal way: if the loop goes on (the batch function itself
            # raised CancelledError), the requests queued behind this batch still go out.
            self._on_batch_done()
            for item in batch:
                item.future.cancel()
            raise
        else:
            # Free the slot (and start the next batch) before waking these callers, so
            # the next batch's call starts before their continuations run.
            self._on_batch_done()
            for item, result in zip(batch, results):
                future = item.future
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    async def _call(
        self, requests: list[Req], started: asyncio.Future[Any] | None = None
    ) -> Sequence[Any]:
        if self._is_async:
            results = await self._fn(requests)
        else:
            if started is None:
                started = self._start_in_thread(requests, None)
            try:
                results = await started
            finally:
                started.cancel()  # no-op once done; else the result is not wanted
            if inspect.isawaitable(results):
                results = await results
        return _check_results(results, len(requests), self.name)

    def _start_in_thread(
        self, requests: list[Req], context: contextvars.Context | None
    ) -> asyncio.Future[Any]:
        # Each thread needs its own copy: one Context cannot be entered twice at once.
        context = context.copy() if context is not None else contextvars.copy_context()
        future = asyncio.get_running_loop().run_in_executor(
            self._thread_pool(), context.run, self._fn, requests
        )
        # If the batch task is cancelled before it awaits this, nobody will read it.
        future.add_done_callback(_consume_outcome)
        return future

    async def _call_one(self, request: Req) -> Res:
        counters = self._counters
        counters.sent(1)
        try:
            (result,) = await self._call([request])
        finally:
            counters.in_flight -= 1
        if isinstance(result, BaseException):
            raise result
        return result

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = self._thread_pool_of_size(self.max_concurrent_batches)
        return self._executor


def _new_thread_pool(size: int) -> ThreadPoolExecutor:
    # Idle threads exit when the pool is garbage collected.
    return ThreadPoolExecutor(max_workers=size, thread_name_prefix="onetwo-batch")


class _QueueSet:
    """The queues of one batch function (or of one instance's batch method), one per loop."""

    __slots__ = ("hot", "last", "lock", "pool", "queues")

    def __init__(self) -> None:
        self.queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BatchQueue[Any, Any]]
        self.queues = weakref.WeakKeyDictionary()
        # Threads running their own loops (ot.run in several threads) may add queues at
        # once; adding one while another thread sweeps closed loops breaks the sweep.
        self.lock = threading.Lock()
        # The last (loop, queue) used, weakly: spares a WeakKeyDictionary look-up per call.
        self.hot: tuple[weakref.ref[Any], weakref.ref[BatchQueue[Any, Any]]] | None = None
        # The counters of the latest queue, so stats() still answers after ot.run returns.
        self.last: _Counters | None = None
        # Shared by the queues of successive loops (each ot.run has its own), so that a
        # sync batch function does not start new threads for every run.
        self.pool: tuple[int, ThreadPoolExecutor] | None = None

    def thread_pool(self, size: int) -> ThreadPoolExecutor:
        if self.pool is not None and self.pool[0] == size:
            return self.pool[1]
        # None yet, or the size changed (read from an instance): a queue of another loop
        # may still use the old pool, which goes away with it.
        pool = _new_thread_pool(size)
        self.pool = (size, pool)
        return pool

    def get(self, make: Callable[[], BatchQueue[Any, Any]]) -> BatchQueue[Any, Any]:
        loop = asyncio.get_running_loop()
        hot = self.hot
        if hot is not None and hot[0]() is loop:
            queue = hot[1]()
            if queue is not None:
                return queue
        with self.lock:
            queue = self.queues.get(loop)
            if queue is None:
                # A loop closed while requests still waited (no one cancelled them) is
                # kept alive by its queue's futures and timer: let go of it now.
                for closed in [old for old in self.queues if old.is_closed()]:
                    del self.queues[closed]
                queue = self.queues[loop] = make()
                self.last = queue._counters
        self.hot = (weakref.ref(loop), weakref.ref(queue))
        return queue

    def stats(self) -> BatchStats:
        try:
            queue = self.queues.get(asyncio.get_running_loop())
        except RuntimeError:
            queue = None
        if queue is not None:
            return queue.stats()
        return self.last.snapshot() if self.last is not None else BatchStats()


class BatchFunction(Generic[Req, Res]):
    """A batch function called one request at a time; made by :func:`batch_function`.

    ``await f(request)`` queues the request and returns its result. ``f.queue()`` is the
    running loop's :class:`BatchQueue`; ``f.stats()`` its :class:`BatchStats` (outside a
    loop: those of the last loop, e.g. the last ``ot.run``). ``f.__wrapped__`` is the
    undecorated batch function.
    """

    def __init__(
        self,
        fn: BatchFn[Req, Res],
        *,
        batch_size: int,
        max_wait: float | None,
        max_concurrent_batches: int,
        clock: Clock | None,
    ) -> None:
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._name: str = _name_of(fn)
        _check_params(batch_size, max_wait, max_concurrent_batches, self._name)
        self._params = (batch_size, max_wait, max_concurrent_batches, clock or SYSTEM_CLOCK)
        self._queues = _QueueSet()

    async def __call__(self, request: Req) -> Res:
        return await self.queue().submit(request)

    def queue(self) -> BatchQueue[Req, Res]:
        """The queue of the running event loop (made on first use)."""
        return self._queues.get(self._make_queue)

    def stats(self) -> BatchStats:
        """The :class:`BatchStats` of the running loop's queue, or of the last one."""
        return self._queues.stats()

    def _make_queue(self) -> BatchQueue[Req, Res]:
        batch_size, max_wait, concurrency, clock = self._params
        return BatchQueue(
            self._fn,
            batch_size=batch_size,
            max_wait=max_wait,
            max_concurrent_batches=concurrency,
            clock=clock,
            name=self._name,
            thread_pool=self._queues.thread_pool,
        )

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"<batch_function {self._name} batch_size={self._params[0]}: {s.queued} queued, "
            f"{s.in_flight} in flight, {s.batches} batches sent "
            f"(mean size {s.mean_batch_size:.1f})>"
        )


def batch_function(
    *,
    batch_size: int,
    max_wait: float | None = DEFAULT_MAX_WAIT,
    max_concurrent_batches: int = 1,
    clock: Clock | None = None,
) -> Callable[[BatchFn[Req, Res]], BatchFunction[Req, Res]]:
    """Decorate a batch function so that it is called one request at a time.

    The function (sync or async) takes a list of requests and returns a list of the same
    length: the result of each request, or an exception instance to fail only that one.
    Sync functions run in a thread pool, never on the event loop.

    Args:
        batch_size: the most requests in one batch (>= 1).
        max_wait: seconds a request waits at most for companions when the event loop
            stays busy (None: no limit; batches are cut when full or idle).
        max_concurrent_batches: the most batch calls running at once (>= 1).
        clock: where ``max_wait`` is measured (default: the system clock); tests pass a
            :class:`~onetwo.core.clock.VirtualClock`.

    Example:
        >>> @batch_function(batch_size=16, max_concurrent_batches=4)
        ... def score(pairs: list[tuple[str, str]]) -> list[float]:
        ...     return [float(a == b) for a, b in pairs]
        >>> # inside a strategy: await score(("a", "a")) -> 1.0, batched with its peers
    """

    def decorate(fn: BatchFn[Req, Res]) -> BatchFunction[Req, Res]:
        return BatchFunction(
            fn,
            batch_size=batch_size,
            max_wait=max_wait,
            max_concurrent_batches=max_concurrent_batches,
            clock=clock,
        )

    return decorate


def _resolve(param: Param[T], instance: Any) -> T:
    return param(instance) if callable(param) else param


class _InstanceQueues(_QueueSet):
    __slots__ = ("owner",)

    def __init__(self, owner: weakref.ref[Any]) -> None:
        super().__init__()
        self.owner = owner


class BatchMethod(Generic[Owner, Req, Res]):
    """A batch method, one queue per instance (and loop); made by :func:`batch_method`.

    On an instance it is a :class:`BoundBatchMethod`: ``await obj.m(request)``.
    """

    def __init__(
        self,
        fn: Callable[[Owner, list[Req]], Awaitable[Sequence[Res]] | Sequence[Res]],
        *,
        batch_size: Param[int],
        max_wait: Param[float | None],
        max_concurrent_batches: Param[int],
        clock: Param[Clock | None],
    ) -> None:
        functools.update_wrapper(cast(Any, self), fn)
        self._fn = fn
        self._name: str = _name_of(fn)
        self._is_async = _is_async_callable(fn)
        self._params = (batch_size, max_wait, max_concurrent_batches, clock)
        _check_params(batch_size, max_wait, max_concurrent_batches, self._name)
        # Keyed by id(instance), dropped when the instance dies: instances need not be
        # hashable (dataclasses), only weakly referenceable.
        self._instances: dict[int, _InstanceQueues] = {}
        self._lock = threading.Lock()

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self._name = f"{owner.__qualname__}.{name}"

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> BatchMethod[Owner, Req, Res]: ...
    @overload
    def __get__(self, instance: Owner, owner: type[Any]) -> BoundBatchMethod[Req, Res]: ...

    def __get__(
        self, instance: Owner | None, owner: type[Any]
    ) -> BatchMethod[Owner, Req, Res] | BoundBatchMethod[Req, Res]:
        if instance is None:
            return self
        return BoundBatchMethod(self, instance)

    def _queues_of(self, instance: Owner) -> _InstanceQueues:
        key = id(instance)
        queues = self._instances.get(key)
        if queues is not None and queues.owner() is instance:
            return queues
        with self._lock:  # two threads must not each make (and split) the instance's queues
            queues = self._instances.get(key)
            if queues is None or queues.owner() is not instance:
                try:
                    ref = weakref.ref(instance)
                except TypeError:
                    raise TypeError(
                        f"batch_method {self._name} needs instances that can be weakly "
                        f"referenced; {type(instance).__name__} cannot (add '__weakref__' to "
                        "its __slots__)."
                    ) from None
                queues = self._instances[key] = _InstanceQueues(ref)
                weakref.finalize(instance, self._instances.pop, key, None)
        return queues

    def _make_queue(self, instance: Owner, queues: _InstanceQueues) -> BatchQueue[Req, Res]:
        batch_size, max_wait, concurrency, clock = self._params
        fn = self._fn
        name = self._name
        ref = queues.owner

        def call(requests: list[Req]) -> Any:
            owner = ref()
            if owner is None:  # cannot happen while a caller holds the bound method
                raise ReferenceError(f"the instance of {name} was garbage collected.")
            return fn(owner, requests)

        return BatchQueue(
            call,
            batch_size=_resolve(batch_size, instance),
            max_wait=_resolve(max_wait, instance),
            max_concurrent_batches=_resolve(concurrency, instance),
            clock=_resolve(clock, instance) or SYSTEM_CLOCK,
            name=name,
            is_async=self._is_async,
            thread_pool=queues.thread_pool,
        )

    def __repr__(self) -> str:
        return f"<batch_method {self._name}>"


class BoundBatchMethod(Generic[Req, Res]):
    """A :class:`BatchMethod` on one instance: ``await obj.m(request)`` returns its result.

    ``obj.m.queue()`` is the instance's queue on the running loop; ``obj.m.stats()`` its
    :class:`BatchStats` (outside a loop: those of the last loop).
    """

    __slots__ = ("_instance", "_method")

    def __init__(self, method: BatchMethod[Any, Req, Res], instance: Any) -> None:
        self._method = method
        self._instance = instance

    async def __call__(self, request: Req) -> Res:
        return await self.queue().submit(request)

    def queue(self) -> BatchQueue[Req, Res]:
        """The instance's queue on the running event loop (made on first use)."""
        method, instance = self._method, self._instance
        queues = method._queues_of(instance)
        return queues.get(lambda: method._make_queue(instance, queues))

    def stats(self) -> BatchStats:
        """The :class:`BatchStats` of the running loop's queue, or of the last one."""
        return self._method._queues_of(self._instance).stats()

    @property
    def __wrapped__(self) -> Callable[..., Any]:
        """The undecorated batch method, bound to the instance."""
        return functools.partial(self._method._fn, self._instance)

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"<batch_method {self._method._name} of {type(self._instance).__name__}: "
            f"{s.queued} queued, {s.in_flight} in flight, {s.batches} batches sent "
            f"(mean size {s.mean_batch_size:.1f})>"
        )


def batch_method(
    *,
    batch_size: Param[int],
    max_wait: Param[float | None] = DEFAULT_MAX_WAIT,
    max_concurrent_batches: Param[int] = 1,
    clock: Param[Clock | None] = None,
) -> Callable[
    [Callable[[Owner, list[Req]], Awaitable[Sequence[Res]] | Sequence[Res]]],
    BatchMethod[Owner, Req, Res],
]:
    """Like :func:`batch_function`, for methods: one queue per instance.

    Each parameter is a value, or a function of the instance that returns it, read when
    the instance's queue is made in an event loop (so e.g. ``batch_size`` can come from
    a backend's constructor, and a change takes effect at the next ``ot.run``).

    Example:
        >>> class Embedder:
        ...     def __init__(self, batch_size: int = 8) -> None:
        ...         self.batch_size = batch_size
        ...     @batch_method(batch_size=lambda self: self.batch_size)
        ...     async def embed(self, texts: list[str]) -> list[list[float]]:
        ...         return [[float(len(t))] for t in texts]
        >>> # await Embedder().embed("hello") -> [5.0]
    """

    def decorate(
        fn: Callable[[Owner, list[Req]], Awaitable[Sequence[Res]] | Sequence[Res]],
    ) -> BatchMethod[Owner, Req, Res]:
        return BatchMethod(
            fn,
            batch_size=batch_size,
            max_wait=max_wait,
            max_concurrent_batches=max_concurrent_batches,
            clock=clock,
        )

    return decorate
