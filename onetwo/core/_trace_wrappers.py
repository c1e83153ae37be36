"""How ``@tracing.trace`` wraps a function: sync, async, generator or async generator.

Each wrapper records one call as a ``"function"`` node (its arguments by name, its
result or error, its times) when tracing is on, and costs one ``ContextVar.get`` when it
is off. Generators record each value they yield as a partial result, the last one as
the output; their wrappers forward the whole generator protocol.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from onetwo.core._trace_tree import Trace, close_node, current_node, open_node, report, run_node

__all__ = ["wrap"]

_Namer = Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]


def wrap(fn: Callable[..., Any], name: str, skip: Iterable[str]) -> Any:
    """``fn`` recording each call as a node called ``name``, without the ``skip`` args."""
    inputs = _namer(fn, skip)
    if inspect.iscoroutinefunction(fn):
        return _wrap_async(fn, name, inputs)
    if inspect.isasyncgenfunction(fn):
        return _wrap_async_gen(fn, name, inputs)
    if inspect.isgeneratorfunction(fn):
        return _wrap_gen(fn, name, inputs)
    return _wrap_sync(fn, name, inputs)


def _namer(fn: Callable[..., Any], skip: Iterable[str]) -> _Namer:
    """Names a call's arguments; the signature is read once, at decoration time."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature
        return lambda args, kwargs: {"args": args, "kwargs": kwargs}
    first = next(iter(signature.parameters), None)
    skipped = frozenset(skip) | ({first} if first in ("self", "cls") else set())

    def inputs(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:  # the call itself will raise the real error
            return {"args": args, "kwargs": kwargs}
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k not in skipped}

    return inputs


def _wrap_async(fn: Callable[..., Any], name: str, inputs: _Namer) -> Any:
    @functools.wraps(fn)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        if current_node.get() is None:
            return await fn(*args, **kwargs)
        return await run_node(name, "function", inputs(args, kwargs), {}, fn(*args, **kwargs))

    return traced


def _wrap_sync(fn: Callable[..., Any], name: str, inputs: _Namer) -> Any:
    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Any:
        parent = current_node.get()
        if parent is None:
            return fn(*args, **kwargs)
        node = open_node(parent, name, "function", inputs(args, kwargs))
        with _current(node):
            result = fn(*args, **kwargs)
        close_node(node, result)
        return result

    return traced


@contextlib.contextmanager
def _current(node: Trace | None) -> Iterator[None]:
    """``node`` is current inside; an error raised inside ends it, then propagates."""
    token = current_node.set(node)
    try:
        yield
    except BaseException as e:
        if node is not None:
            close_node(node, node.outputs, e)
        raise
    finally:
        current_node.reset(token)


def _report(node: Trace | None, value: Any) -> None:
    if node is not None:
        report(node, value)


def _end(node: Trace | None) -> None:
    if node is not None:
        close_node(node, node.outputs)


# The wrappers of generators forward the whole protocol (``send``/``asend``, ``throw``,
# ``close``), so that a traced generator behaves as the one it wraps. The node is current
# only while the generator's own code runs: the consumer may resume it from elsewhere.


def _wrap_async_gen(fn: Callable[..., Any], name: str, inputs: _Namer) -> Any:
    @functools.wraps(fn)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        parent = current_node.get()
        gen = fn(*args, **kwargs)
        node = None if parent is None else open_node(parent, name, "function", inputs(args, kwargs))
        step: Callable[[], Awaitable[Any]] = gen.__anext__
        while True:
            with _current(node):
                try:
                    value = await step()
                except StopAsyncIteration:
                    _end(node)
                    return
            _report(node, value)
            try:
                sent = yield value
            except GeneratorExit:  # closed early (e.g. after a `break`): close it too
                with _current(node):
                    await gen.aclose()
                _end(node)
                raise
            except BaseException as e:
                step = functools.partial(gen.athrow, e)
            else:
                step = gen.__anext__ if sent is None else functools.partial(gen.asend, sent)

    return traced


def _wrap_gen(fn: Callable[..., Any], name: str, inputs: _Namer) -> Any:
    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Any:
        parent = current_node.get()
        gen = fn(*args, **kwargs)
        if parent is None:
            return (yield from gen)
        node = open_node(parent, name, "function", inputs(args, kwargs))
        step: Callable[[], Any] = gen.__next__
        while True:
            with _current(node):
                try:
                    value = step()
                except StopIteration as stop:
                    close_node(node, node.outputs)
                    return stop.value
            report(node, value)
            try:
                sent = yield value
            except GeneratorExit:  # closed early (e.g. after a `break`): close it too
                with _current(node):
                    gen.close()
                close_node(node, node.outputs)
                raise
            except BaseException as e:
                step = functools.partial(gen.throw, e)
            else:
                step = gen.__next__ if sent is None else functools.partial(gen.send, sent)

    return traced
