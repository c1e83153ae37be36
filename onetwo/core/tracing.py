"""Tracing: what a strategy did, as a tree of timed calls.

With tracing on, every builtin call and every :func:`trace` function adds a :class:`Trace`
node under the current one: name, inputs, outputs or error, times, and the ``details``
backends and caches report with :func:`annotate` (``backend``, ``model``, token counts,
``latency``, ``cache_hit``). Off (the default), a traced call costs one ``ContextVar.get``;
on, a node keeps references to inputs and outputs, never copies.

Example:
    >>> from onetwo import ot
    >>> from onetwo.backends.fake import FakeBackend
    >>> from onetwo.builtins import llm
    >>> from onetwo.core import tracing
    >>> FakeBackend(default_reply=" 4").register()
    >>> @ot.make_executable
    ... @tracing.trace
    ... async def solve(question: str) -> str:
    ...     return await llm.generate_text(question)
    >>> answer, trace = ot.run(solve("2+2="), enable_tracing=True)
    >>> [node.name for node in trace.walk()]
    ['solve', 'llm.generate_text']
    >>> trace.children[0].details["backend"]
    'fake'
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar, overload

from onetwo.core._trace_tree import Trace, TraceStats
from onetwo.core.clock import wall_time
from onetwo.core.executable import Executable, FunctionExecutable, make_executable
from onetwo.core.sampling import current_sampling_key

__all__ = [
    "Trace",
    "TraceStats",
    "annotate",
    "capture",
    "current_node",
    "is_enabled",
    "run_traced",
    "stage_listener",
    "trace",
    "trace_builtin",
]

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
_Dict = dict[str, Any]  # inputs (arguments by name) and details
_Namer = Callable[[tuple[Any, ...], _Dict], _Dict]

# The node new calls attach to; None means tracing is off. Other modules read it with one
# `.get()` on their hot path; only this module sets it.
current_node: ContextVar[Trace | None] = ContextVar("onetwo_trace_node", default=None)

# Called as listener(node, value) when a traced stage ends (value = its outputs) or a
# traced generator yields (value = the partial result). Set by onetwo.core.streaming.
stage_listener: ContextVar[Callable[[Trace, Any], None] | None] = ContextVar(
    "onetwo_stage_listener", default=None
)


def is_enabled() -> bool:
    """Whether calls made here are being traced."""
    return current_node.get() is not None


def annotate(details: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
    """Add details to the node of the call running now; a no-op when tracing is off.

    Standard keys: ``backend``, ``model``, ``prompt_tokens``, ``completion_tokens``,
    ``latency`` (seconds), ``cache_hit``, ``finish_reason``; later values win.
    """
    node = current_node.get()
    if node is not None:
        node.details.update(details or (), **fields)


def _open(parent: Trace | None, name: str, kind: str, inputs: _Dict, details: _Dict) -> Trace:
    node = Trace(name, kind, inputs, None, None, wall_time(), None, details)
    if parent is not None:
        parent.children.append(node)
    return node


def _report(node: Trace, value: Any) -> None:
    """``value`` is what ``node`` has output so far; tell the stage listener."""
    node.outputs = value
    listener = stage_listener.get()
    if listener is not None:
        listener(node, value)


def _close(node: Trace, outputs: Any, error: BaseException | None = None) -> None:
    node.end = wall_time()
    node.error = error
    _report(node, outputs)


async def _run_node(name: str, kind: str, inputs: _Dict, details: _Dict, call: Awaitable[T]) -> T:
    """Await ``call`` (not started yet) as a new node under the current one."""
    node = _open(current_node.get(), name, kind, inputs, details)
    token = current_node.set(node)
    try:
        result = await call
    except BaseException as e:
        _close(node, None, e)
        raise
    finally:
        current_node.reset(token)
    _close(node, result)
    return result


@contextlib.contextmanager
def _current(node: Trace | None) -> Iterator[None]:
    """``node`` is current inside; a generator's end or an error raised inside ends it."""
    token = current_node.set(node)
    try:
        yield
    except BaseException as e:
        if node is not None:
            ended = isinstance(e, GeneratorExit | StopIteration | StopAsyncIteration)
            _close(node, node.outputs, None if ended else e)
        raise
    finally:
        current_node.reset(token)


def trace_builtin(
    name: str, inputs: _Dict, impl: Callable[..., Any], call: Awaitable[T]
) -> Coroutine[Any, Any, T]:
    """``call`` (one builtin call, not started yet), recorded as a ``"builtin"`` node.

    Called by ``BuiltinCall`` only when tracing is on. A builtin bound to a method of an
    object with a ``provider`` and a ``model`` (every ``Backend``) records them.
    """
    owner = getattr(impl, "__self__", None)
    provider = getattr(owner, "provider", None)
    details: dict[str, Any] = {}
    if isinstance(provider, str):
        details.update(backend=provider, model=getattr(owner, "model", ""))
    key = current_sampling_key()
    if key:
        details["sampling_key"] = key
    return _run_node(name, "builtin", inputs, details, call)


async def capture(
    awaitable: Awaitable[Any],
    *,
    name: str | None = None,
    inputs: dict[str, Any] | None = None,
    unwrap: bool = False,
) -> Trace:
    """Run ``awaitable`` (e.g. an executable) under a new ``"run"`` node and return it.

    Tracing is on inside; the node is attached to the current node, if any. An
    ``Exception`` is recorded in ``node.error``, not raised. With ``unwrap``, when
    ``awaitable`` is one traced call (a ``@trace`` function, a builtin call), its own node
    is returned instead of a ``"run"`` node around it.
    """
    parent = current_node.get()
    node = _open(parent, name or _name_of(awaitable), "run", inputs or {}, {})
    token = current_node.set(node)
    try:
        node.outputs = await awaitable
    except Exception as e:
        node.error = e
    finally:
        current_node.reset(token)
    # Not `_close`: the end of a run is not a stage of itself (streaming reports it apart).
    node.end = wall_time()
    if unwrap and len(node.children) == 1 and _is_traced_call(awaitable):
        if parent is not None:
            parent.children[parent.children.index(node)] = node.children[0]
        node = node.children[0]
    return node


async def run_traced(executable: Awaitable[T]) -> tuple[T, Trace]:
    """``ot.run(executable, enable_tracing=True)``: ``(result, trace)``, or its error raised.

    The trace is the call's own node if it is one traced call, else a ``"run"`` node.
    """
    node = await capture(executable, unwrap=True)
    if node.error is not None:
        raise node.error
    return node.outputs, node


def _is_traced_call(awaitable: Any) -> bool:
    if getattr(awaitable, "builtin", None) is not None:  # a builtin call
        return True
    fn = awaitable.function if isinstance(awaitable, FunctionExecutable) else None
    return getattr(fn, "__onetwo_traced__", False) is True


def _name_of(awaitable: Any) -> str:
    if isinstance(awaitable, FunctionExecutable):
        return _short_name(awaitable.function)
    builtin = getattr(awaitable, "builtin", None)  # a builtin call
    if builtin is not None:
        return str(builtin.name)
    if isinstance(awaitable, Executable):  # e.g. "par_iter(chunk_size=2)"
        text = repr(awaitable)
        return text if len(text) <= 60 else text[:59] + "…"
    if hasattr(awaitable, "__qualname__"):  # a coroutine
        return _short_name(awaitable)
    return type(awaitable).__name__.lstrip("_")


def _short_name(fn: Any) -> str:
    return str(getattr(fn, "__qualname__", repr(fn))).rsplit("<locals>.", 1)[-1]


# --- the decorator -----------------------------------------------------------------------


@overload
def trace(
    fn: Executable[T], /, *, name: str | None = None, skip: Iterable[str] = ()
) -> Executable[T]: ...
@overload
def trace(fn: F, /, *, name: str | None = None, skip: Iterable[str] = ()) -> F: ...
@overload
def trace(*, name: str | None = None, skip: Iterable[str] = ()) -> Callable[[F], F]: ...


def trace(fn: Any = None, /, *, name: str | None = None, skip: Iterable[str] = ()) -> Any:
    """Record each call of ``fn`` as a node of the trace (when tracing is on).

    Works on sync and async functions, (async) generators (each value yielded is a
    partial result, the last one the output), methods (``self`` is not recorded),
    ``@ot.make_executable`` functions, and executables (``trace(executable, name=...)``).

    Args:
        fn: what to trace (when used as ``@trace`` without parentheses).
        name: the node's name; by default the function's name.
        skip: parameter names not to record (large or secret arguments).

    Example:
        >>> @ot.make_executable
        ... @tracing.trace(skip=["api_key"])
        ... async def ask(question: str, api_key: str) -> str:
        ...     return await llm.generate_text(question)

    Not for tiny helpers called thousands of times per run: the trace grows, not tells.
    """
    if fn is None:
        return functools.partial(trace, name=name, skip=skip)
    if isinstance(fn, Executable):
        executable = fn

        async def run() -> Any:
            return await executable

        return make_executable(trace(run, name=name or _name_of(fn)))()
    spec = getattr(fn, "__onetwo_spec__", None)
    if spec is not None:  # @trace above @make_executable: trace the function inside
        return make_executable(non_executed_args=spec.skip)(trace(spec.fn, name=name, skip=skip))
    if not callable(fn):
        raise TypeError(f"trace() needs a function or an Executable, got {type(fn).__name__}.")
    if inspect.iscoroutinefunction(fn):
        wrap = _wrap_async
    elif inspect.isasyncgenfunction(fn):
        wrap = _wrap_async_gen
    else:
        wrap = _wrap_gen if inspect.isgeneratorfunction(fn) else _wrap_sync
    traced = wrap(fn, name or _short_name(fn), _namer(fn, skip))
    traced.__onetwo_traced__ = True
    return traced


def _namer(fn: Callable[..., Any], skip: Iterable[str]) -> _Namer:
    """Names a call's arguments; the signature is read once, at decoration time."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have no signature
        return lambda args, kwargs: {"args": args, "kwargs": kwargs}
    first = next(iter(signature.parameters), None)
    skipped = frozenset(skip) | ({first} if first in ("self", "cls") else set())

    def inputs(args: tuple[Any, ...], kwargs: _Dict) -> _Dict:
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
        return await _run_node(name, "function", inputs(args, kwargs), {}, fn(*args, **kwargs))

    return traced


def _wrap_sync(fn: Callable[..., Any], name: str, inputs: _Namer) -> Any:
    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Any:
        parent = current_node.get()
        if parent is None:
            return fn(*args, **kwargs)
        node = _open(parent, name, "function", inputs(args, kwargs), {})
        with _current(node):
            result = fn(*args, **kwargs)
        _close(node, result)
        return result

    return traced


# A traced generator behaves as the one it wraps (``send``, ``throw``, ``close`` reach it);
# its node is current only while its own code runs: the consumer may resume it elsewhere.


def _wrap_async_gen(fn: Callable[..., Any], name: str, inputs: _Namer) -> Any:
    @functools.wraps(fn)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        parent = current_node.get()
        gen = fn(*args, **kwargs)
        node = None if parent is None else _open(parent, name, "function", inputs(args, kwargs), {})
        step, arg = gen.asend, None
        while True:
            try:
                with _current(node):
                    value = await step(arg)
            except StopAsyncIteration:
                return
            if node is not None:
                _report(node, value)
            try:
                step, arg = gen.asend, (yield value)
            except BaseException as e:  # GeneratorExit too: closed early, it closes `gen`
                step, arg = gen.athrow, e

    return traced


def _wrap_gen(fn: Callable[..., Any], name: str, inputs: _Namer) -> Any:
    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Any:
        parent = current_node.get()
        gen = fn(*args, **kwargs)
        if parent is None:
            return (yield from gen)
        node = _open(parent, name, "function", inputs(args, kwargs), {})
        step, arg = gen.send, None
        while True:
            try:
                with _current(node):
                    value = step(arg)
            except StopIteration as stop:
                return stop.value
            _report(node, value)
            try:
                step, arg = gen.send, (yield value)
            except BaseException as e:  # GeneratorExit too: closed early, it closes `gen`
                step, arg = gen.throw, e

    return traced
