"""Streaming: watch a run progress, one update per traced stage that completes.

A long strategy (an evaluation, a multi-step agent) can take minutes. Instead of waiting
for ``ot.run``, iterate over its updates: each builtin call and each ``@tracing.trace``
function that finishes yields an :class:`Update`, in the order they finish; a traced
generator also yields one per value it yields (a partial result). The last update has
``final=True`` and carries the run's result and its whole trace.

Example:
    >>> from onetwo import ot
    >>> with ot.safe_stream(strategy("Q")) as updates:   # doctest: +SKIP
    ...     for update in updates:
    ...         print(update)
    Update('llm.generate_text' done: ' blue')
    Update('strategy' final: {'answer': ' blue'})

The run goes on in onetwo's runtime while the caller consumes. :func:`safe_stream` stops
it when the ``with`` block exits (even through an error or a ``break``) and waits for it
to unwind. :func:`stream_updates` is the same stream (also usable in a ``with``); its run
stops when it is dropped, e.g. after a ``break``. In async code use :func:`astream_updates`.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import threading
from collections.abc import AsyncGenerator, Iterator
from typing import Any

from onetwo.core import tracing
from onetwo.core.executing import Executable
from onetwo.core.running import run_sync

__all__ = ["Update", "UpdateStream", "astream_updates", "safe_stream", "stream_updates"]


@dataclasses.dataclass(frozen=True, slots=True)
class Update:
    """One step of a streamed run.

    Attributes:
        stage: the trace node of the stage (for the final update: the whole run's trace).
        value: what the stage produced: its outputs, or a partial result while it runs.
        final: True for the last update, whose ``value`` is the run's result.
        partial: True when the stage still runs (a traced generator yielded ``value``).
    """

    stage: tracing.Trace
    value: Any
    final: bool = False
    partial: bool = False

    @property
    def name(self) -> str:
        return self.stage.name

    def __repr__(self) -> str:
        failed = not (self.final or self.partial) and self.stage.error is not None
        state = "final" if self.final else "partial" if self.partial else "done"
        state = "failed" if failed else state
        value = repr(self.stage.error if failed else self.value)
        value = value if len(value) <= 80 else value[:79] + "…"
        return f"Update({self.stage.name!r} {state}: {value})"

    def _repr_html_(self) -> str:
        from onetwo.core.rendering import HTMLRenderer

        return HTMLRenderer().render(self.stage)


async def astream_updates(executable: Executable[Any]) -> AsyncGenerator[Update, None]:
    """The updates of a run of ``executable``, from async code; see the module docstring.

    Raises the run's error, if it fails, after the updates that came before it.
    """
    # Items: an Update per stage, then the run's Trace. Not an asyncio.Queue: the consumer
    # peeks at the next item (see below).
    items: collections.deque[Update | tracing.Trace] = collections.deque()
    ready = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop_thread = threading.get_ident()

    def push(item: Update | tracing.Trace) -> None:
        items.append(item)
        ready.set()

    def on_stage(node: tracing.Trace, value: Any) -> None:
        update = Update(node, value, partial=node.end is None)
        if threading.get_ident() == loop_thread:
            push(update)
        else:  # a traced sync function running in a worker thread
            loop.call_soon_threadsafe(push, update)

    async def run() -> None:
        # This task has its own context: the listener is seen by the run, and no further.
        tracing.stage_listener.set(on_stage)
        push(await tracing.capture(executable, unwrap=True))

    task = asyncio.create_task(run())
    try:
        while True:
            if not items:
                ready.clear()
                await ready.wait()
                continue
            item = items.popleft()
            if isinstance(item, Update):
                # When the executable is one traced call, its own end is reported once, as
                # the final update (it is queued right before the run's Trace, which is it).
                if not (items and items[0] is item.stage):
                    yield item
                continue
            if item.error is not None:
                raise item.error
            yield Update(item, item.outputs, final=True)
            return
    finally:
        if not task.done():
            task.cancel()
        await asyncio.gather(task, return_exceptions=True)


class UpdateStream(Iterator[Update]):
    """The updates of a run, as a synchronous iterator; see the module docstring.

    After the last update, ``result`` and ``trace`` hold the run's result and trace; a
    closed stream has no more updates.
    """

    def __init__(self, executable: Executable[Any], *, enable_batching: bool = True) -> None:
        if not isinstance(executable, Executable):
            raise TypeError(
                f"stream_updates() needs an Executable, got {type(executable).__name__}: "
                f"{executable!r:.80}. Call the strategy first, e.g. "
                "ot.stream_updates(strategy(question))."
            )
        self.result: Any = None
        self.trace: tracing.Trace | None = None
        self._state = "running"
        self._executable = executable
        self._enable_batching = enable_batching
        # Steps on the runtime loop; dropped unfinished, the loop closes it: the run stops.
        self._updates = astream_updates(executable)

    def __repr__(self) -> str:
        return f"UpdateStream({self._executable!r}, {self._state})"

    def __iter__(self) -> UpdateStream:
        return self

    def __next__(self) -> Update:
        if self._state != "running":
            raise StopIteration
        try:
            # The first step starts the run, with this stream's options.
            item = run_sync(self._updates.__anext__, enable_batching=self._enable_batching)
        except StopAsyncIteration:
            self._state = "done"
            raise StopIteration from None
        except BaseException:  # the run's error, or an interrupt that stopped the run
            self._state = "done"
            raise
        if item.final:
            self.result, self.trace = item.value, item.stage
        return item

    def __enter__(self) -> UpdateStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the run (if it still runs) and wait for it to unwind."""
        if self._state == "running":
            self._state = "closed"
        run_sync(self._updates.aclose)


def stream_updates(executable: Executable[Any], *, enable_batching: bool = True) -> UpdateStream:
    """Iterate over the updates of a run of ``executable``; see the module docstring.

    Example:
        >>> for update in ot.stream_updates(strategy("Q")):   # doctest: +SKIP
        ...     print(update.name, update.value)
    """
    return UpdateStream(executable, enable_batching=enable_batching)


def safe_stream(executable: Executable[Any], *, enable_batching: bool = True) -> UpdateStream:
    """The updates of a run, for a ``with`` block that stops the run when it is left.

    Example:
        >>> with ot.safe_stream(strategy("Q")) as updates:   # doctest: +SKIP
        ...     for update in updates:
        ...         print(update)
    """
    return UpdateStream(executable, enable_batching=enable_batching)
