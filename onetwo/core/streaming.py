"""Streaming: watch a run while it goes on, as its results or as updates of its stages.

- :func:`safe_stream` yields a run's *successive results*: each value a generator strategy
  (or an async iterator, e.g. an agent's ``stream_states``) yields, or, for any other
  executable, its result once; :func:`stream_with_callback` passes them to a callback.
- :func:`stream_updates` yields an :class:`Update` per traced stage that completes (every
  builtin call, every ``@tracing.trace`` function) in completion order, a partial one per
  value a traced generator yields, a ``delta`` one per piece of text a streaming model call
  emits (:func:`emit_delta`); the last has ``final=True``, the result and the whole trace.

Example:
    >>> with ot.stream_updates(strategy("Q")) as updates:   # doctest: +SKIP
    ...     for update in updates:
    ...         print(update)
    Update('llm.generate_text' done: ' blue')
    Update('strategy' final: {'answer': ' blue'})

The run goes on in onetwo's runtime while the caller consumes. A stream stops its run, and
waits for it to unwind, when its ``with`` block exits (even through an error or a
``break``) or when dropped unfinished. Async code uses :func:`astream_updates` and
:func:`astream_results`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import inspect
import threading
from collections.abc import AsyncGenerator, AsyncIterable, Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from onetwo.core import tracing
from onetwo.core.executable import partial_results
from onetwo.core.running import run_sync

__all__ = [
    "Update",
    "UpdateStream",
    "astream_results",
    "astream_updates",
    "emit_delta",
    "safe_stream",
    "stream_updates",
    "stream_with_callback",
]

T = TypeVar("T")

# Set by `astream_updates` for its run: where `emit_delta` posts its updates.
_delta_sink: ContextVar[Callable[[Update], None] | None] = ContextVar("onetwo_deltas", default=None)


def emit_delta(text: str) -> None:
    """Report a piece of the text the model call running here (in its task or a worker
    thread) is producing: ``ot.stream_updates`` yields it as a ``delta`` update of the
    call's stage. A no-op when nobody streams the run."""
    post, node = _delta_sink.get(), tracing.current_node.get()
    if post is not None and node is not None:
        post(Update(node, text, partial=True, delta=True))


@dataclasses.dataclass(frozen=True, slots=True)
class Update:
    """One step of a streamed run.

    Attributes:
        stage: the trace node of the stage (for the final update: the whole run's trace).
        value: what the stage produced: its outputs, a partial result while it runs, or
            (``delta``) the next piece of the text it is producing.
        final: True for the last update, whose ``value`` is the run's result.
        partial: True when the stage still runs.
        delta: True when ``value`` is a piece of text emitted by a running model call.
    """

    stage: tracing.Trace
    value: Any
    final: bool = False
    partial: bool = False
    delta: bool = False

    @property
    def name(self) -> str:
        return self.stage.name

    def __repr__(self) -> str:
        failed = not (self.final or self.partial) and self.stage.error is not None
        state = "final" if self.final else "delta" if self.delta else "partial"
        state = "failed" if failed else state if self.final or self.partial else "done"
        value = repr(self.stage.error if failed else self.value)
        value = value if len(value) <= 80 else value[:79] + "…"
        return f"Update({self.stage.name!r} {state}: {value})"

    def _repr_html_(self) -> str:
        from onetwo.core.rendering import HTMLRenderer

        return HTMLRenderer().render(self.stage)


async def _last(items: AsyncIterable[Any]) -> Any:
    item = None
    async for item in items:  # noqa: B007 - the last item is the result
        pass
    return item


@dataclasses.dataclass(frozen=True, slots=True)
class _Result:
    value: Any


async def _stream(source: Any, updates: bool) -> AsyncGenerator[Any]:
    # The run goes on in a task of its own, posting what it produces to `items`.
    items: collections.deque[Any] = collections.deque()
    ready = asyncio.Event()
    loop, loop_thread = asyncio.get_running_loop(), threading.get_ident()

    def push(item: Any) -> None:
        items.append(item)
        ready.set()

    def post(item: Any) -> None:
        if threading.get_ident() == loop_thread:
            push(item)
        else:  # a traced sync function, or a backend, in a worker thread
            loop.call_soon_threadsafe(push, item)

    async def run() -> None:
        # This task has its own context: what it sets is seen by the run, and no further.
        if updates:
            tracing.stage_listener.set(lambda n, v: post(Update(n, v, partial=n.end is None)))
            _delta_sink.set(post)
            post(await tracing.capture(_last(source) if iterable else source, unwrap=True))
        elif iterable:
            async for item in source:
                post(item)
        else:
            partial_results.set([source, post])
            post(_Result(await source))

    iterable = hasattr(source, "__aiter__")
    task = asyncio.create_task(run())
    task.add_done_callback(lambda _: ready.set())
    last: Any = _Result
    try:
        while items or not task.done():
            if not items:
                ready.clear()
                await ready.wait()
                continue
            item = items.popleft()
            if isinstance(item, Update):
                # When the source is one traced call, its own end is reported once, as the
                # final update: it is posted right before the run's Trace, which is it.
                if not (items and items[0] is item.stage):
                    yield item
            elif isinstance(item, tracing.Trace):
                if item.error is not None:
                    raise item.error
                yield Update(item, item.outputs, final=True)
            elif not isinstance(item, _Result):
                last = item
                yield item
            elif item.value is not last:  # a generator's result is its last value, yielded
                yield item.value
        task.result()  # the run's error, if any
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _checked(source: Any, updates: bool) -> AsyncGenerator[Any]:
    if not (hasattr(source, "__aiter__") or inspect.isawaitable(source)):
        where = "stream_updates" if updates else "safe_stream"
        raise TypeError(
            f"{where}() needs an Executable, an awaitable or an async iterator, got "
            f"{type(source).__name__}: {source!r:.80}. Call the strategy first, e.g. "
            f"ot.{where}(strategy(question))."
        )
    return _stream(source, updates)


def astream_updates(source: Any) -> AsyncGenerator[Update]:
    """The updates of a run of ``source``, from async code, then the run's error if it fails."""
    return _checked(source, updates=True)


def astream_results(source: Any) -> AsyncGenerator[Any]:
    """The successive results of a run of ``source``, from async code."""
    return _checked(source, updates=False)


class UpdateStream(Iterator[T], contextlib.AbstractContextManager["UpdateStream[T]"]):
    """A stream of a run, as a synchronous iterator; see the module docstring.

    After the last item, ``result`` (also ``value``, its name in the reference OneTwo) holds
    the run's result and, for updates, ``trace`` its trace; a closed stream has no more items.
    """

    def __init__(self, items: AsyncGenerator[T], source: Any, enable_batching: bool) -> None:
        self.result: Any = None
        self.trace: tracing.Trace | None = None
        self._state = "running"
        self._source, self._enable_batching = source, enable_batching
        self._items = items  # steps on the runtime loop; dropped unfinished, the run stops

    @property
    def value(self) -> Any:
        return self.result

    def __repr__(self) -> str:
        return f"UpdateStream({self._source!r:.80}, {self._state})"

    def __next__(self) -> T:
        if self._state != "running":
            raise StopIteration
        try:  # the first step starts the run, with this stream's options
            item = run_sync(self._items.__anext__, enable_batching=self._enable_batching)
        except StopAsyncIteration:
            self._state = "done"
            raise StopIteration from None
        except BaseException:  # the run's error, or an interrupt that stopped the run
            self._state = "done"
            raise
        if not isinstance(item, Update):
            self.result = item
        elif item.final:
            self.result, self.trace = item.value, item.stage
        return item

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the run (if it still runs) and wait for it to unwind."""
        if self._state == "running":
            self._state = "closed"
        run_sync(self._items.aclose)


def stream_updates(source: Any, *, enable_batching: bool = True) -> UpdateStream[Update]:
    """Iterate over the updates of a run of ``source``; see the module docstring.

    Example:
        >>> for update in ot.stream_updates(strategy("Q")):   # doctest: +SKIP
        ...     print(update.name, update.value)
    """
    return UpdateStream(astream_updates(source), source, enable_batching)


def safe_stream(source: Any, *, enable_batching: bool = True) -> UpdateStream[Any]:
    """The successive results of a run of ``source``, for a ``with`` block that stops it.

    Example:
        >>> with ot.safe_stream(drafts("Q")) as results:   # doctest: +SKIP
        ...     for partial in results:
        ...         print(partial)
    """
    return UpdateStream(astream_results(source), source, enable_batching)


def stream_with_callback(
    source: Any, callback: Callable[[Any], Any], *, enable_batching: bool = True
) -> Any:
    """Run ``source``, calling ``callback`` (sync or async) with each successive result;
    return the run's result, the last value ``callback`` got."""
    with safe_stream(source, enable_batching=enable_batching) as results:
        for result in results:
            outcome = callback(result)
            if inspect.isawaitable(outcome):
                run_sync(lambda: outcome)  # noqa: B023 - awaited before the next step
    return results.result
