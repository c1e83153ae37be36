"""Automatic request batching: callers send one request, backends receive full batches.

Decorate a function from a *list* of requests to their results (same length and order; an
exception instance fails only its request) with :func:`batch_function` (a method: with
:func:`batch_method`): each call takes ONE request, concurrent calls travel in batches.

Example:
    >>> @batch_function(batch_size=32)
    ... async def embed(texts: list[str]) -> list[list[float]]:
    ...     return [[float(len(t))] for t in texts]
    >>> # await asyncio.gather(embed("a"), embed("bb")) -> one call with ["a", "bb"]

The drain rule: while one of ``max_concurrent_batches`` slots is free, a batch leaves once
*full*, *idle* (no request joined for :data:`IDLE_ITERATIONS` loop iterations in a row, a
``call_soon`` check, so callers a few task hops away still join) or *late* (``max_wait``
seconds on the config's clock). A queue serves one event loop at a time and moves to
another once idle. A caller cancelled while queued withdraws its request; a cancelled
batch cancels its callers. A batch runs in a copy of its first request's context (a sync
function: in a thread pool); ``RunOptions(enable_batching=False)`` sends each call alone.
Not for backends without a batch endpoint (use a semaphore).

OneTwo's decorators are this mechanism under their names: ``batching_function=``,
:func:`batchable_function`, :func:`batch_function_with_threadpool`,
:func:`batch_method_with_threadpool`, :func:`to_thread_pool_method`, :func:`add_batching`.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import dataclasses
import functools
import inspect
import sys
import threading
import weakref
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, Generic, TypeAlias, TypeVar, cast, overload

from onetwo.core import options
from onetwo.core.clock import SYSTEM_CLOCK, Clock, TimerHandle

__all__ = [
    "DEFAULT_MAX_WAIT",
    "IDLE_ITERATIONS",
    "BatchConfig",
    "BatchFunction",
    "BatchMethod",
    "BatchQueue",
    "BatchStats",
    "BoundBatchMethod",
    "add_batching",
    "batch_function",
    "batch_function_with_threadpool",
    "batch_method",
    "batch_method_with_threadpool",
    "batchable_function",
    "batching_enabled",
    "to_thread_pool_method",
]

Req = TypeVar("Req")
Res = TypeVar("Res")
Owner = TypeVar("Owner")
T = TypeVar("T")

# A kept public name: set to False, it acts as RunOptions(enable_batching=False).
batching_enabled: ContextVar[bool] = ContextVar("onetwo_batching_enabled", default=True)

DEFAULT_MAX_WAIT = 0.05  # seconds a request waits at most while requests keep arriving
IDLE_ITERATIONS = 3  # loop iterations without a new request after which a batch leaves
BatchFn: TypeAlias = Callable[[list[Req]], Awaitable[Sequence[Res]] | Sequence[Res]]
MethodFn: TypeAlias = Callable[[Owner, list[Req]], Awaitable[Sequence[Res]] | Sequence[Res]]
Fits: TypeAlias = Callable[[list[Any], Any], tuple[bool, bool]]  # (batch, request) -> (add, full)
Decorator: TypeAlias = Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]
Wrapper: TypeAlias = Callable[[Callable[..., Any]], Callable[..., Any]]  # of a batch function


@dataclasses.dataclass(frozen=True)
class BatchStats:
    """What a batch function has done since it was made, and what it holds now."""

    requests: int = 0  # sent to the batch function
    batches: int = 0  # batch calls made (one per request when batching is disabled)
    mean_batch_size: float = 0.0  # requests / batches (0.0 before the first batch)
    max_in_flight: int = 0  # the most batch calls running at once
    queued: int = 0  # requests waiting for a batch now
    in_flight: int = 0  # batch calls running now


@dataclasses.dataclass(frozen=True, slots=True)
class BatchConfig:
    """How a batch function forms and runs its batches, checked when made.

    Attributes:
        batch_size: the most requests in one batch (>= 1; None: no bound, with a
            ``batching_function``).
        max_wait: seconds a request waits at most while requests keep arriving (None: no
            bound, batches leave when full or idle).
        max_concurrent_batches: the most batch calls running at once (>= 1).
        threads: the thread pool size of a sync batch function (None: one per slot).
        clock: where ``max_wait`` is measured (None: the system clock; tests pass a
            :class:`~onetwo.core.clock.VirtualClock`).
        batching_function: OneTwo's ``(batch, request) -> (can_add, is_full)``: whether
            ``request`` may join ``batch`` (else it waits, in order, for a later one; the
            first always joins) and whether the batch is then full.

    Example: ``BatchConfig(batch_size=32, max_concurrent_batches=4).max_wait == 0.05``.
    """

    batch_size: int | None = None
    max_wait: float | None = DEFAULT_MAX_WAIT
    max_concurrent_batches: int = 1
    threads: int | None = None
    clock: Clock | None = None
    batching_function: Fits | None = None
    owner: dataclasses.InitVar[str] = "BatchConfig"  # init only: a name for the messages

    def __post_init__(self, owner: str) -> None:
        if self.batch_size is None and self.batching_function is None:
            raise TypeError(f"{owner} needs a batch_size (or a batching_function); pass e.g. 8.")
        names = ("batch_size", "max_concurrent_batches", "threads")
        size, threads = (1 if v is None else v for v in (self.batch_size, self.threads))
        for param, value in zip(names, (size, self.max_concurrent_batches, threads)):
            is_int = isinstance(value, int) and not isinstance(value, bool)
            if not (is_int and value >= 1):
                got = repr(value) if is_int else f"{type(value).__name__} {value!r}"
                raise (ValueError if is_int else TypeError)(
                    f"{param} of {owner} must be an int >= 1, got {got}; pass e.g. {param}=4."
                )
        wait = self.max_wait
        if wait is not None and (isinstance(wait, bool) or not isinstance(wait, int | float)):
            raise TypeError(
                f"max_wait of {owner} must be a number of seconds or None, got "
                f"{type(wait).__name__} {wait!r}; pass e.g. max_wait=0.05."
            )
        if wait is not None and not wait >= 0:  # `not >=`: NaN is refused too
            raise ValueError(
                f"max_wait of {owner} must be >= 0 seconds, got {wait!r}; pass 0 to send at "
                "once, or None to wait only for a full batch or an idle loop."
            )
        if self.clock is not None and not hasattr(self.clock, "call_later"):
            raise TypeError(f"clock of {owner} must be a Clock or None, got {self.clock!r}.")


@dataclasses.dataclass(slots=True, eq=False)
class _Item:
    request: Any
    future: asyncio.Future[Any]
    context: contextvars.Context = dataclasses.field(default_factory=contextvars.copy_context)
    taken: bool = False  # out of the queue: cut into a batch, or withdrawn


class BatchQueue(Generic[Req, Res]):
    """The waiting requests and batches in flight of a :class:`BatchFunction`, on one loop."""

    def __init__(self, owner: BatchFunction[Req, Res], loop: asyncio.AbstractEventLoop) -> None:
        self._owner = cast(BatchFunction[Req, Res], weakref.proxy(owner))  # weak: no cycle
        self.config = owner.config
        self.loop = weakref.ref(loop)  # a closed loop must not live on in its queue
        self.queued = self.in_flight = 0
        self._pending: collections.deque[_Item] = collections.deque()
        self._quiet = 0  # idle checks in a row that saw no new request
        self._check: asyncio.Handle | None = None
        self._timer: TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, request: Req) -> Res:
        """Queue ``request``; return its result once its batch is done."""
        item = _Item(request, asyncio.get_running_loop().create_future())
        self._pending.append(item)
        self.queued, self._quiet = self.queued + 1, 0
        self._drain()
        try:
            return await item.future
        except asyncio.CancelledError:
            if not item.taken:  # still queued: withdraw it (and stop the timers if last)
                item.taken, self.queued = True, self.queued - 1
                self._drain()
            raise

    async def call_one(self, request: Req) -> Res:
        """Send ``request`` alone, now, from the caller's task (batching disabled)."""
        item = _Item(request, asyncio.get_running_loop().create_future())
        self._sent(1)
        await self._run([item])
        return await item.future

    def __repr__(self) -> str:
        s, c = self._owner.stats(), self.config
        return (
            f"<BatchQueue {self._owner._name}: {self.queued} queued, {self.in_flight}/"
            f"{c.max_concurrent_batches} in flight, {s.batches} batches sent (mean size "
            f"{s.mean_batch_size:.1f}, batch_size={c.batch_size}), max_wait={c.max_wait}>"
        )

    def _drain(self, ripe: bool = False) -> None:
        """The one rule: while a slot is free, send a full batch, or what waits if ripe."""
        size, slots = self.config.batch_size or sys.maxsize, self.config.max_concurrent_batches
        while self.in_flight < slots and (self.queued >= size or (ripe and self.queued)):
            self._send(size)
        if not self.queued:  # drop withdrawn items, stop waiting
            self._pending.clear()
            for handle in filter(None, (self._check, self._timer)):
                handle.cancel()
            self._check = self._timer = None
        elif self.in_flight < slots:  # a partial batch and a free slot: wait for idle
            if self._check is None:
                self._check = asyncio.get_running_loop().call_soon(self._on_check)
            if self._timer is None and self.config.max_wait is not None:
                clock = self.config.clock or SYSTEM_CLOCK
                self._timer = clock.call_later(self.config.max_wait, self._on_deadline)

    def _on_check(self) -> None:
        self._check, self._quiet = None, self._quiet + 1
        self._drain(ripe=self._quiet >= IDLE_ITERATIONS)

    def _on_deadline(self) -> None:
        self._timer = None
        self._drain(ripe=True)  # with every slot busy: the next finished batch re-arms

    def _done(self) -> None:
        self.in_flight, self._quiet = self.in_flight - 1, 0  # its callers may come back
        self._drain()

    def _send(self, size: int) -> None:
        batch: list[_Item] = []
        skipped, fits = [], self.config.batching_function
        while self._pending and len(batch) < size:
            item = self._pending.popleft()
            if item.taken:
                continue
            add, full = fits([i.request for i in batch], item.request) if fits else (True, False)
            if add or not batch:
                item.taken, self.queued = True, self.queued - 1
                if not item.future.done():  # else cancelled, its caller not yet told
                    batch.append(item)
            else:
                skipped.append(item)
            if full:
                break
        self._pending.extendleft(reversed(skipped))  # first in the next batch, in order
        if batch:
            self._sent(len(batch))
            task = asyncio.create_task(self._run(batch), context=batch[0].context)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _sent(self, size: int) -> None:
        f, self.in_flight = self._owner, self.in_flight + 1
        f._requests, f._batches = f._requests + size, f._batches + 1
        f._max_in_flight = max(f._max_in_flight, self.in_flight)

    async def _run(self, batch: list[_Item]) -> None:
        f, n, requests = self._owner, len(batch), [item.request for item in batch]
        try:
            if f._is_async:
                results = await f._fn(requests)  # type: ignore[misc]
            else:  # in a thread, in a copy of this task's context (its first request's)
                run, loop = contextvars.copy_context().run, asyncio.get_running_loop()
                results = await loop.run_in_executor(f._pool, run, f._fn, requests)
            if not isinstance(results, Sequence) or isinstance(results, str | bytes):
                raise TypeError(
                    f"Batch function {f._name} returned a {type(results).__name__}; it must "
                    f"return a list with one result per request, in order (here {n})."
                )
            if len(results) != n:
                raise ValueError(
                    f"Batch function {f._name} returned {len(results)} results for a batch of "
                    f"{n} requests; it must return exactly one result (or exception) per request."
                )
        except Exception as error:
            results = [error] * n
        except BaseException:  # cancelled (e.g. the run ends): nobody gets a result
            self._done()  # the requests behind it still go out if the loop goes on
            for item in batch:
                item.future.cancel()
            raise
        self._done()  # send the next batch before waking these callers
        for item, result in zip(batch, results):
            if item.future.done():  # its caller was cancelled
                pass
            elif isinstance(result, BaseException):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)


class BatchFunction(Generic[Req, Res]):
    """A batch function called one request at a time (:func:`batch_function`, or a
    :func:`batch_method` on one instance): ``await f(request)`` returns its result;
    ``f.stats()``, ``f.queue()`` (on the running loop) and ``f.config`` describe it."""

    __wrapped__: Callable[..., Any]  # the undecorated function

    def __init__(
        self, fn: BatchFn[Req, Res], params: dict[str, Any], label: str = "", is_async: bool = False
    ) -> None:
        functools.update_wrapper(self, fn)
        self._fn = fn
        self._name: str = getattr(fn, "__qualname__", None) or type(fn).__qualname__
        call = getattr(fn, "__call__", None)  # noqa: B004 - an object's async __call__
        self._is_async = is_async or any(map(inspect.iscoroutinefunction, (fn, call)))
        self.config = config = BatchConfig(**params, owner=self._name)
        self._label = label or f"batch_function {self._name} batch_size={config.batch_size}"
        self._requests = self._batches = self._max_in_flight = 0
        self._queue: BatchQueue[Req, Res] | None = None
        threads = config.threads or config.max_concurrent_batches  # started on first use
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="onetwo-batch")

    async def __call__(self, request: Req) -> Res:
        queue = self.queue()
        if options.current().enable_batching and batching_enabled.get():
            return await queue.submit(request)
        return await queue.call_one(request)

    def queue(self) -> BatchQueue[Req, Res]:
        """The queue, on the running event loop (moved there if the old loop is idle)."""
        loop, queue = asyncio.get_running_loop(), self._queue
        if queue is None or queue.loop() is not loop:
            # Two threads moving it at once each get a queue of their own, isolated.
            old = queue and queue.loop()
            if queue and (queue.queued or queue.in_flight) and old and not old.is_closed():
                raise RuntimeError(
                    f"{self._label} is busy on another event loop ({queue.queued} queued, "
                    f"{queue.in_flight} in flight); a batch queue serves one loop at a time: "
                    "run both through ot.run, or let the other loop's requests finish first."
                )
            queue = self._queue = BatchQueue(self, loop)
        return queue

    def stats(self) -> BatchStats:
        """Requests and batches sent since it was made, the most in flight, what waits now."""
        q, mean = self._queue, self._requests / (self._batches or 1)
        now = (q.queued, q.in_flight) if q is not None else (0, 0)
        return BatchStats(self._requests, self._batches, mean, self._max_in_flight, *now)

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"<{self._label}: {s.queued} queued, {s.in_flight} in flight, {s.batches} "
            f"batches sent (mean size {s.mean_batch_size:.1f})>"
        )


BoundBatchMethod = BatchFunction  # kept name: a batch method on one instance


def batch_function(
    *,
    batch_size: int | None = None,
    max_wait: float | None = DEFAULT_MAX_WAIT,
    max_concurrent_batches: int = 1,
    threads: int | None = None,
    clock: Clock | None = None,
    batching_function: Fits | None = None,
) -> Callable[[BatchFn[Req, Res]], BatchFunction[Req, Res]]:
    """Decorate a batch function (sync or async) so that it takes one request per call.

    The parameters are those of :class:`BatchConfig`, checked at decoration. Example:
        >>> @batch_function(batch_size=16, max_concurrent_batches=4)
        ... def score(pairs: list[tuple[str, str]]) -> list[float]:
        ...     return [float(a == b) for a, b in pairs]
        >>> # inside a strategy: await score(("a", "a")) -> 1.0, batched with its peers
    """
    params = dict(locals())  # the parameters above
    return lambda fn: BatchFunction(fn, params)


class BatchMethod(Generic[Owner, Req, Res]):
    """A batch method: each instance gets a :class:`BatchFunction` of its own on first use,
    kept here by ``id`` (not in its ``__dict__``, which copy and pickle would carry along)."""

    def __init__(self, fn: MethodFn[Owner, Req, Res], params: dict[str, Any]) -> None:
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]
        self._fn, self._params, self._name = fn, params, fn.__qualname__
        self._bound: dict[int, tuple[weakref.ref[Any], BatchFunction[Req, Res]]] = {}
        self._lock = threading.Lock()
        plain = {k: v for k, v in params.items() if not callable(v) and v is not None}
        BatchConfig(**{"batch_size": 1, **plain}, owner=self._name)  # fail at decoration

    @overload
    def __get__(self, instance: None, owner: type[Any]) -> BatchMethod[Owner, Req, Res]: ...
    @overload
    def __get__(self, instance: Owner, owner: type[Any]) -> BatchFunction[Req, Res]: ...

    def __get__(
        self, instance: Owner | None, owner: type[Any]
    ) -> BatchMethod[Owner, Req, Res] | BatchFunction[Req, Res]:
        if instance is None:
            return self
        with self._lock:  # two threads must not each make (and split) its queue
            entry = self._bound.get(id(instance))
            if entry is None or entry[0]() is not instance:
                entry = self._bound[id(instance)] = self._bind(instance)
                weakref.finalize(instance, self._bound.pop, id(instance), None)
        return entry[1]

    def _bind(self, instance: Owner) -> tuple[weakref.ref[Any], BatchFunction[Req, Res]]:
        ref: weakref.ref[Any] = weakref.ref(instance)  # TypeError? add __weakref__ to __slots__
        params = {k: v(instance) if callable(v) else v for k, v in self._params.items()}
        method: Callable[..., Any] = self._fn

        @functools.wraps(method)
        def fn(requests: list[Req]) -> Any:  # bound weakly: the table must not keep it alive
            return method(ref(), requests)

        label = f"batch_method {self._name} of {type(instance).__name__}"
        return ref, BatchFunction(fn, params, label, inspect.iscoroutinefunction(method))

    def __repr__(self) -> str:
        return f"<batch_method {self._name}>"


def batch_method(
    **params: Any,
) -> Callable[[MethodFn[Owner, Req, Res]], BatchMethod[Owner, Req, Res]]:
    """Like :func:`batch_function`, for methods: one queue (and config) per instance.

    Takes the parameters of :func:`batch_function`, each a value or a function of the
    instance (``batching_function`` too: ``lambda self: self.can_batch``), read when the
    instance first uses the method. Example:
        >>> class Embedder:
        ...     batch_size = 8
        ...     @batch_method(batch_size=lambda self: self.batch_size)
        ...     async def embed(self, texts: list[str]) -> list[list[float]]:
        ...         return [[float(len(t))] for t in texts]
    """
    return lambda fn: BatchMethod(fn, params)


def add_batching(cls: type[T]) -> type[T]:
    """OneTwo's class decorator for classes with batch methods: ours need none (``cls``)."""
    return cls


def batchable_function(
    implementation: BatchFunction[Any, Any] | BatchMethod[Any, Any, Any],
) -> Decorator:
    """Give ``implementation``, a batch function (or method) of argument dicts, the signature
    of the function decorated: a call sends its arguments by name (defaults filled in,
    ``**kwargs`` spread out) as one request and returns its result. E.g. with
    ``@batchable_function(implementation=lengths) def length(text, times=1): ...``,
    ``await length("ab")`` sends ``{"text": "ab", "times": 1}`` to ``lengths``."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        signature = inspect.signature(fn)
        spread = [p.name for p in signature.parameters.values() if p.kind is p.VAR_KEYWORD]

        @functools.wraps(fn)
        async def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            request = dict(bound.arguments)
            request.update(request.pop(spread[0], {}) if spread else {})
            if isinstance(implementation, BatchMethod):  # the first argument is the instance
                owner = request.pop(next(iter(request)))
                return await implementation.__get__(owner, type(owner))(request)
            return await implementation(request)

        return call

    return decorate


def batch_function_with_threadpool(
    batch_size: Any = None,
    batching_function: Any = None,
    wrapper: Wrapper | None = None,
    **params: Any,
) -> Decorator:
    """OneTwo's: a sync function of one request, sent in batches (the parameters: those of
    :func:`batch_function`), each request of a batch in a thread of its own; ``wrapper``
    wraps the batch function (argument dicts -> results), e.g. to count batches."""
    params.update(batch_size=batch_size, batching_function=batching_function)
    return _in_threads(lambda run: batch_function(**params)(run), wrapper)


def batch_method_with_threadpool(
    batch_size: Any = None,
    batching_function: Any = None,
    wrapper: Wrapper | None = None,
    **params: Any,
) -> Decorator:
    """:func:`batch_function_with_threadpool` for a method: a queue per instance, parameters
    as for :func:`batch_method`; ``wrapper`` wraps ``(self, requests) -> results``."""
    params.update(batch_size=batch_size, batching_function=batching_function)
    return _in_threads(lambda run: BatchMethod(run, params), wrapper)


def _in_threads(batched: Callable[[Any], Any], wrapper: Wrapper | None) -> Decorator:
    # Batches `fn` through `batched(run)`: `run` calls `fn(**request)` for each request of a
    # batch, each in a thread (a lone one in this thread); an exception is its result.

    def decorate(fn: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(fn)
        def run(*args: Any) -> list[Any]:  # (requests), or (self, requests) for a method
            *owner, requests = args

            def one(context: contextvars.Context, request: dict[str, Any]) -> Any:
                try:
                    return context.run(fn, *owner, **request)
                except Exception as error:
                    return error

            contexts = [contextvars.copy_context() for _ in requests]
            if len(requests) == 1:
                return [one(contexts[0], requests[0])]
            with ThreadPoolExecutor(len(requests), thread_name_prefix="onetwo-batch") as pool:
                return list(pool.map(one, contexts, requests))

        return batchable_function(batched(wrapper(run) if wrapper else run))(fn)

    return decorate


def to_thread_pool_method(num_workers: int | Callable[[Any], int]) -> Decorator:
    """OneTwo's: a sync method run in a pool of ``num_workers`` threads per instance (a value
    or a function of the instance), unbatched: ``await obj.method(...)``."""
    return batch_method_with_threadpool(batch_size=1, max_concurrent_batches=num_workers)
