"""Tracing: what a strategy did, as a tree of timed calls.

When tracing is on, every builtin call and every :func:`trace` function adds a
:class:`Trace` node under the node current when it started: name, inputs, outputs or
error, start and end times, and for model calls the ``details`` the backend and cache
reported (``backend``, ``model``, ``prompt_tokens``, ``completion_tokens``, ``latency``,
``cache_hit``). In a notebook a trace displays as a collapsible tree.

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

Off (the default), a traced call costs one ``ContextVar.get``; on, a node keeps
references to inputs and outputs, never copies. Backends and caches add details with
:func:`annotate` from the caller's context (a batch annotates after each caller gets its
result back); a builtin bound to a method of an object with a ``provider`` and a
``model`` (every ``Backend``) gets them as ``backend`` and ``model``. The tree lives in
``_trace_tree``, the wrappers of ``@trace`` in ``_trace_wrappers``.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, TypeVar, overload

from onetwo.core._trace_tree import (
    Trace,
    TraceStats,
    current_node,
    open_node,
    run_node,
    stage_listener,
)
from onetwo.core._trace_wrappers import wrap
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


# --- recording -------------------------------------------------------------------------


def is_enabled() -> bool:
    """Whether calls made here are being traced."""
    return current_node.get() is not None


def annotate(details: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
    """Add details to the node of the call running now; a no-op when tracing is off.

    Standard keys: ``backend``, ``model``, ``prompt_tokens``, ``completion_tokens``,
    ``latency`` (seconds), ``cache_hit``, ``finish_reason``; later values win. Pass a
    dict (e.g. a backend's ``include_details`` dict), keywords, or both.
    """
    node = current_node.get()
    if node is not None:
        node.details.update(details or (), **fields)


def trace_builtin(
    name: str, inputs: dict[str, Any], impl: Callable[..., Any], call: Awaitable[T]
) -> Coroutine[Any, Any, T]:
    """``call`` (one builtin call, not started yet), recorded as a ``"builtin"`` node.

    Called by ``BuiltinCall`` only when tracing is on.
    """
    owner = getattr(impl, "__self__", None)
    provider = getattr(owner, "provider", None)
    details: dict[str, Any] = {}
    if isinstance(provider, str):
        details.update(backend=provider, model=getattr(owner, "model", ""))
    key = current_sampling_key()
    if key:
        details["sampling_key"] = key
    return run_node(name, "builtin", inputs, details, call)


async def capture(
    awaitable: Awaitable[Any],
    *,
    name: str | None = None,
    inputs: dict[str, Any] | None = None,
    unwrap: bool = False,
) -> Trace:
    """Run ``awaitable`` (e.g. an executable) under a new ``"run"`` node and return it.

    Tracing is on inside, whether or not it is outside; the node is attached to the
    current node, if any. An ``Exception`` is recorded in ``node.error``, not raised.
    With ``unwrap``, when ``awaitable`` is itself one traced call (a ``@trace`` function,
    a builtin call), its own node is returned instead of a ``"run"`` node around it.
    """
    parent = current_node.get()
    node = open_node(parent, name or _name_of(awaitable), "run", inputs or {})
    token = current_node.set(node)
    try:
        node.outputs = await awaitable
    except Exception as e:
        node.error = e
    finally:
        current_node.reset(token)
    # Not `close_node`: the end of a run is not a stage of itself (streaming reports it apart).
    node.end = wall_time()
    if unwrap and len(node.children) == 1 and _is_traced_call(awaitable):
        if parent is not None:
            parent.children[parent.children.index(node)] = node.children[0]
        node = node.children[0]
    return node


async def run_traced(executable: Awaitable[T]) -> tuple[T, Trace]:
    """Run ``executable`` with tracing on; return ``(result, trace)`` or raise its error.

    What ``ot.run(executable, enable_tracing=True)`` does: the trace is the call's own
    node if it is one traced call, else a ``"run"`` node named after it.
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
    traced = wrap(fn, name or _short_name(fn), skip)
    traced.__onetwo_traced__ = True
    return traced
