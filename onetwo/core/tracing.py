"""Tracing: what a strategy did, as a tree of timed calls.

When tracing is on, every builtin call (``llm.generate_text``...) and every function
decorated with :func:`trace` adds a :class:`Trace` node under the node that was current
when it started. A node holds the name, the inputs, the outputs or the error, the start
and end times, and, for model calls, the ``details`` the backend and the cache reported:
``backend``, ``model``, ``prompt_tokens``, ``completion_tokens``, ``latency``,
``cache_hit``.

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

In a notebook a trace displays as a collapsible tree (``_repr_html_``).

Costs. With tracing off (the default) a traced call pays one ``ContextVar.get``. With it
on, a node keeps *references* to the inputs and outputs, never copies: a strategy that
mutates an argument after a call shows the mutated value in the trace.

For backend and cache authors: call :func:`annotate` while a call runs to add details to
its node (a no-op when tracing is off)::

    tracing.annotate(cache_hit=True)
    tracing.annotate(prompt_tokens=12, completion_tokens=3, latency=0.31)

Builtin nodes already get ``backend`` (the provider) and ``model`` when the bound
implementation is a method of a ``onetwo.core.backend.Backend``. Annotate from the
caller's context: code that runs in another task (e.g. inside a batch, which serves many
callers) must annotate after the caller gets its result back, not inside the batch.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar, overload

from onetwo.core.backend import Backend
from onetwo.core.executing import Executable, make_executable
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

# The node new calls attach to; None means tracing is off. Other modules read it with one
# `.get()` on their hot path; only this module sets it.
current_node: ContextVar[Trace | None] = ContextVar("onetwo_trace_node", default=None)

# Called as listener(node, value) when a traced stage ends (value = its outputs) or a
# traced generator yields (value = the partial result). Set by onetwo.core.streaming.
Listener = Callable[["Trace", Any], None]
stage_listener: ContextVar[Listener | None] = ContextVar("onetwo_stage_listener", default=None)


@dataclasses.dataclass(frozen=True, slots=True)
class TraceStats:
    """Totals over a trace's tree: what a notebook user asks first.

    Attributes:
        calls: builtin calls (``llm.generate_text``, ``llm.chat``...).
        model_calls: calls answered by a backend (they carry a ``backend`` detail).
        prompt_tokens: the sum of the reported prompt tokens.
        completion_tokens: the sum of the reported completion tokens.
        cache_hits: calls the cache answered.
        cache_misses: calls the cache looked up and did not find.
        errors: nodes that ended with an error.
    """

    calls: int = 0
    model_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    errors: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TraceStats) -> TraceStats:
        return TraceStats(
            *(a + b for a, b in zip(dataclasses.astuple(self), dataclasses.astuple(other)))
        )


class Trace:
    """One traced call and the calls it made (``children``, in the order they started).

    Attributes:
        name: what ran, e.g. ``"llm.generate_text"`` or a function's name.
        kind: ``"builtin"``, ``"function"`` or ``"run"`` (a whole run, or one example
            of an evaluation).
        inputs: the arguments, by name (for builtins: the effective arguments, defaults
            filled in).
        outputs: the result (for a traced generator: the last value yielded so far).
        error: the exception the call raised, if any.
        start: when it started (``time.time()``).
        end: when it ended, or ``None`` while it runs.
        details: what the backend and cache reported (see the module docstring).
        children: the traced calls made while this one ran.
    """

    # A leaf (most nodes: one per model call) has no children list until it gets a child:
    # a long trace then holds half as many objects for the garbage collector to scan.
    __slots__ = (
        "_children",
        "details",
        "end",
        "error",
        "inputs",
        "kind",
        "name",
        "outputs",
        "start",
    )

    def __init__(
        self,
        name: str,
        kind: str = "function",
        inputs: dict[str, Any] | None = None,
        outputs: Any = None,
        error: BaseException | None = None,
        start: float = 0.0,
        end: float | None = None,
        details: dict[str, Any] | None = None,
        children: list[Trace] | None = None,
    ) -> None:
        self.name = name
        self.kind = kind
        self.inputs = {} if inputs is None else inputs
        self.outputs = outputs
        self.error = error
        self.start = start
        self.end = end
        self.details = {} if details is None else details
        self._children = children

    @property
    def children(self) -> list[Trace]:
        if self._children is None:
            self._children = []
        return self._children

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or ``None`` while running."""
        return None if self.end is None else self.end - self.start

    def walk(self) -> Iterator[Trace]:
        """This node and every node below it, depth first, parents before children."""
        stack = [self]
        while stack:
            node = stack.pop()
            yield node
            if node._children:
                stack.extend(reversed(node._children))

    def find(self, name: str) -> Trace | None:
        """The first node (depth first) called ``name``, or ``None``."""
        return next((n for n in self.walk() if n.name == name), None)

    def calls(self, name: str | None = None) -> list[Trace]:
        """The builtin calls in this tree (only those called ``name``, if given)."""
        return [n for n in self.walk() if n.kind == "builtin" and (name is None or n.name == name)]

    def stats(self) -> TraceStats:
        """Call, token, cache and error counts over this tree."""
        calls = model_calls = prompt = completion = hits = misses = errors = 0
        for node in self.walk():
            errors += node.error is not None
            calls += node.kind == "builtin"
            d = node.details
            if d:
                model_calls += "backend" in d
                prompt += d.get("prompt_tokens") or 0
                completion += d.get("completion_tokens") or 0
                hit = d.get("cache_hit")
                hits += hit is True
                misses += hit is False
        return TraceStats(calls, model_calls, prompt, completion, hits, misses, errors)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy: values JSON cannot hold become their ``repr``."""
        return {
            "name": self.name,
            "kind": self.kind,
            "inputs": {k: _jsonable(v) for k, v in self.inputs.items()},
            "outputs": _jsonable(self.outputs),
            "error": None if self.error is None else repr(self.error),
            "start": self.start,
            "end": self.end,
            "details": {k: _jsonable(v) for k, v in self.details.items()},
            "children": [c.to_dict() for c in self.children],
        }

    def __repr__(self) -> str:
        # Cheap on purpose (no walk of the tree): asyncio and debuggers call repr freely.
        parts = [repr(self.name), self.kind]
        if self._children:
            parts.append(f"{len(self._children)} children")
        d = self.details
        if "backend" in d:
            parts.append(f"{d['backend']}:{d.get('model', '')}")
        if "prompt_tokens" in d or "completion_tokens" in d:
            parts.append(f"{d.get('prompt_tokens', '?')}+{d.get('completion_tokens', '?')} tokens")
        if d.get("cache_hit") is not None:
            parts.append("cache hit" if d["cache_hit"] else "cache miss")
        if self.duration is not None:
            parts.append(f"{self.duration * 1000:.1f} ms")
        if self.error is not None:
            parts.append(f"error={self.error!r:.60}")
        return f"Trace({', '.join(parts)})"

    def _repr_html_(self) -> str:
        from onetwo.core.rendering import HTMLRenderer

        return HTMLRenderer().render(self)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return repr(value)


# --- recording -------------------------------------------------------------------------


def is_enabled() -> bool:
    """Whether calls made here are being traced."""
    return current_node.get() is not None


def annotate(details: Mapping[str, Any] | None = None, /, **fields: Any) -> None:
    """Add details to the node of the call running now; a no-op when tracing is off.

    Standard keys: ``backend``, ``model``, ``prompt_tokens``, ``completion_tokens``,
    ``latency`` (seconds, as the backend measured it), ``cache_hit`` (``True``/``False``),
    ``finish_reason``. Later values replace earlier ones. Pass a dict (e.g. the
    ``include_details`` dict a backend already built) or keywords, or both.

    Example:
        >>> tracing.annotate(cache_hit=False, prompt_tokens=12)   # doctest: +SKIP
    """
    node = current_node.get()
    if node is not None:
        if details:
            node.details.update(details)
        if fields:
            node.details.update(fields)


def _open(parent: Trace | None, name: str, kind: str, inputs: dict[str, Any]) -> Trace:
    node = Trace(name, kind, inputs, start=time.time())
    if parent is not None:
        parent.children.append(node)
    return node


def _close(node: Trace, outputs: Any = None, error: BaseException | None = None) -> None:
    node.end = time.time()
    node.outputs = outputs
    node.error = error
    listener = stage_listener.get()
    if listener is not None:
        listener(node, outputs)


async def _traced(
    name: str, kind: str, inputs: dict[str, Any], details: dict[str, Any], call: Awaitable[T]
) -> T:
    """Await ``call`` (not started yet) as a new node under the current one.

    The one coroutine of a traced async call: once per builtin call when tracing is on,
    so it opens and closes the node itself rather than through helpers.
    """
    node = Trace(name, kind, inputs, None, None, time.time(), None, details)
    parent = current_node.get()
    if parent is not None:
        parent.children.append(node)
    token = current_node.set(node)
    try:
        result = await call
    except BaseException as e:
        _close(node, error=e)
        raise
    finally:
        current_node.reset(token)
    node.end = time.time()
    node.outputs = result
    listener = stage_listener.get()
    if listener is not None:
        listener(node, result)
    return result


def trace_builtin(
    name: str, inputs: dict[str, Any], impl: Callable[..., Any], call: Awaitable[T]
) -> Coroutine[Any, Any, T]:
    """``call`` (one builtin call, not started yet), recorded as a ``"builtin"`` node.

    Called by ``BuiltinCall`` only when tracing is on. Model calls (``impl`` a method of
    a :class:`~onetwo.core.backend.Backend`) get the backend's provider and model.
    """
    owner = getattr(impl, "__self__", None)
    if isinstance(owner, Backend):
        details: dict[str, Any] = {"backend": owner.provider, "model": owner.model}
    else:
        details = {}
    key = current_sampling_key()
    if key:
        details["sampling_key"] = key
    return _traced(name, "builtin", inputs, details, call)


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
    node = _open(parent, name or _name_of(awaitable), "run", inputs or {})
    token = current_node.set(node)
    outputs: Any = None
    error: Exception | None = None
    try:
        outputs = await awaitable
    except Exception as e:
        error = e
    finally:
        current_node.reset(token)
    # Not `_close`: the end of a run is not a stage of itself (streaming reports it apart).
    node.end, node.outputs, node.error = time.time(), outputs, error
    if unwrap and len(node.children) == 1 and _is_traced_call(awaitable):
        if parent is not None:
            parent.children[parent.children.index(node)] = node.children[0]
        node = node.children[0]
    return node


async def run_traced(executable: Awaitable[T]) -> tuple[T, Trace]:
    """Run ``executable`` with tracing on; return ``(result, trace)`` or raise its error.

    This is what ``ot.run(executable, enable_tracing=True)`` does. When the executable is
    itself one traced call (a ``@trace`` function, a builtin), the trace is that call's
    node; otherwise a ``"run"`` node, named after the executable, holds the calls.
    """
    node = await capture(executable, unwrap=True)
    if node.error is not None:
        raise node.error
    return node.outputs, node


def _is_traced_call(awaitable: Any) -> bool:
    if isinstance(awaitable, _TracedExecutable) or getattr(awaitable, "builtin", None):
        return True
    spec = getattr(awaitable, "_spec", None)  # a make_executable call of a @trace function
    return getattr(getattr(spec, "fn", None), "__onetwo_traced__", False) is True


def _name_of(awaitable: Any) -> str:
    spec = getattr(awaitable, "_spec", None)  # a make_executable call
    if spec is not None:
        return _short_name(spec.fn)
    builtin = getattr(awaitable, "builtin", None)  # a builtin call
    if builtin is not None:
        return str(builtin.name)
    if isinstance(awaitable, Executable):  # e.g. "par_iter(chunk_size=2)"
        text = repr(awaitable)
        return text if len(text) <= 60 else text[:59] + "…"
    return type(awaitable).__name__.lstrip("_")


def _short_name(fn: Any) -> str:
    return str(getattr(fn, "__qualname__", repr(fn))).rsplit("<locals>.", 1)[-1]


# --- the decorator -----------------------------------------------------------------------


class _Inputs:
    """Names a call's arguments; the signature is read once, at decoration time."""

    __slots__ = ("_signature", "_skip")

    def __init__(self, fn: Callable[..., Any], skip: Iterable[str]) -> None:
        try:
            self._signature: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have no signature
            self._signature = None
        params = self._signature.parameters if self._signature is not None else {}
        first = next(iter(params), None)
        self._skip = frozenset(skip) | ({first} if first in ("self", "cls") else set())

    def __call__(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self._signature is None:
            return {"args": args, "kwargs": kwargs}
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError:  # the call itself will raise the real error
            return {"args": args, "kwargs": kwargs}
        bound.apply_defaults()
        return {k: v for k, v in bound.arguments.items() if k not in self._skip}


class _TracedExecutable(Executable[T]):
    __slots__ = ("_executable", "_name")

    def __init__(self, executable: Executable[T], name: str) -> None:
        self._executable = executable
        self._name = name

    def __repr__(self) -> str:
        return f"trace({self._executable!r}, name={self._name!r})"

    async def _run(self) -> T:
        if current_node.get() is None:
            return await self._executable
        return await _traced(self._name, "function", {}, {}, self._executable)


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

    When not to use it: on tiny helpers called thousands of times per run; the trace
    then gets big without telling more.
    """
    if fn is None:
        return functools.partial(trace, name=name, skip=skip)
    if isinstance(fn, Executable):
        return _TracedExecutable(fn, name or _name_of(fn))
    spec = getattr(fn, "__onetwo_spec__", None)
    if spec is not None:  # @trace above @make_executable: trace the function inside
        return make_executable(non_executed_args=spec.skip)(trace(spec.fn, name=name, skip=skip))
    if not callable(fn):
        raise TypeError(f"trace() needs a function or an Executable, got {type(fn).__name__}.")
    traced = _wrap(fn, name or _short_name(fn), _Inputs(fn, skip))
    traced.__onetwo_traced__ = True
    return traced


def _wrap(fn: Callable[..., Any], name: str, inputs: _Inputs) -> Any:
    if inspect.iscoroutinefunction(fn):
        return _wrap_async(fn, name, inputs)
    if inspect.isasyncgenfunction(fn):
        return _wrap_async_gen(fn, name, inputs)
    if inspect.isgeneratorfunction(fn):
        return _wrap_gen(fn, name, inputs)
    return _wrap_sync(fn, name, inputs)


def _wrap_async(fn: Callable[..., Any], name: str, inputs: _Inputs) -> Any:
    @functools.wraps(fn)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        if current_node.get() is None:
            return await fn(*args, **kwargs)
        return await _traced(name, "function", inputs(args, kwargs), {}, fn(*args, **kwargs))

    return traced


def _wrap_sync(fn: Callable[..., Any], name: str, inputs: _Inputs) -> Any:
    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Any:
        parent = current_node.get()
        if parent is None:
            return fn(*args, **kwargs)
        node = _open(parent, name, "function", inputs(args, kwargs))
        token = current_node.set(node)
        try:
            result = fn(*args, **kwargs)
        except BaseException as e:
            _close(node, error=e)
            raise
        finally:
            current_node.reset(token)
        _close(node, result)
        return result

    return traced


def _partial(node: Trace | None, value: Any) -> None:
    if node is None:
        return
    node.outputs = value
    listener = stage_listener.get()
    if listener is not None:
        listener(node, value)


def _end(node: Trace | None, error: BaseException | None = None) -> None:
    if node is not None:
        _close(node, node.outputs, error)


# The wrappers of generators forward the whole protocol (``send``/``asend``, ``throw``,
# ``close``), so that a traced generator behaves as the one it wraps. The node is current
# only while the generator's own code runs: the consumer may resume it from elsewhere.


def _wrap_async_gen(fn: Callable[..., Any], name: str, inputs: _Inputs) -> Any:
    @functools.wraps(fn)
    async def traced(*args: Any, **kwargs: Any) -> Any:
        parent = current_node.get()
        gen = fn(*args, **kwargs)
        node = None if parent is None else _open(parent, name, "function", inputs(args, kwargs))
        step: Callable[[], Awaitable[Any]] = gen.__anext__
        while True:
            token = current_node.set(node)
            try:
                value = await step()
            except StopAsyncIteration:
                _end(node)
                return
            except BaseException as e:
                _end(node, e)
                raise
            finally:
                current_node.reset(token)
            _partial(node, value)
            try:
                sent = yield value
            except GeneratorExit:  # closed early (e.g. after a `break`): close it too
                token = current_node.set(node)
                try:
                    await gen.aclose()
                except BaseException as e:
                    _end(node, e)
                    raise
                finally:
                    current_node.reset(token)
                _end(node)
                raise
            except BaseException as e:
                step = functools.partial(gen.athrow, e)
            else:
                step = gen.__anext__ if sent is None else functools.partial(gen.asend, sent)

    return traced


def _wrap_gen(fn: Callable[..., Any], name: str, inputs: _Inputs) -> Any:
    @functools.wraps(fn)
    def traced(*args: Any, **kwargs: Any) -> Any:
        parent = current_node.get()
        gen = fn(*args, **kwargs)
        if parent is None:
            return (yield from gen)
        node = _open(parent, name, "function", inputs(args, kwargs))
        step: Callable[[], Any] = gen.__next__
        while True:
            token = current_node.set(node)
            try:
                value = step()
            except StopIteration as stop:
                _end(node)
                return stop.value
            except BaseException as e:
                _end(node, e)
                raise
            finally:
                current_node.reset(token)
            _partial(node, value)
            try:
                sent = yield value
            except GeneratorExit:  # closed early (e.g. after a `break`): close it too
                token = current_node.set(node)
                try:
                    gen.close()
                except BaseException as e:
                    _end(node, e)
                    raise
                finally:
                    current_node.reset(token)
                _end(node)
                raise
            except BaseException as e:
                step = functools.partial(gen.throw, e)
            else:
                step = gen.__next__ if sent is None else functools.partial(gen.send, sent)

    return traced
