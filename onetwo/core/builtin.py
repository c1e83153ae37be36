"""Builtins: functions declared once and bound to an implementation at run time.

``@builtin`` turns a stub function (its signature and docstring are the contract) into a
:class:`Builtin`. Calling it returns a lazy :class:`BuiltinCall`, which runs the current
registry's implementation with keyword arguments, those not given (or ``None``) taken from
the configured defaults. A *default implementation* (the stub's body with ``default=True``,
or :meth:`Builtin.default_implementation`) answers when nothing is configured. Async
implementations run on the event loop, sync ones on :data:`SYNC_THREADS` threads in a copy
of the caller's context, so that a blocking call does not stall the run.

Example:
    >>> @builtin
    ... async def shout(text: str) -> str:
    ...     '''Say it louder.'''
    >>> shout.configure(lambda text: text.upper())
    >>> ot.run(shout("hi"))   # doctest: +SKIP
    'HI'
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import functools
import inspect
import os
import queue
import threading
import typing
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar

from onetwo.core import tracing
from onetwo.core.executable import Executable, coroutines_of
from onetwo.core.registry import Binding, current_registry
from onetwo.core.tracing import current_node as current_trace_node
from onetwo.errors import ConfigurationError, InvalidArgumentError

__all__ = [
    "SYNC_THREADS",
    "Builtin",
    "BuiltinCall",
    "builtin",
    "check_arguments",
    "in_sync_pool",
    "spelled_out",
]

SYNC_THREADS = 100
"""Threads for sync implementations: as many as ``ot.par_iter`` runs at once by default."""

P = ParamSpec("P")
T = TypeVar("T")

_EMPTY = inspect.Parameter.empty
Check = Callable[[str, str, Any], Any]
"""``check(builtin_name, parameter, value)``: raises on a bad value, returns the value to use."""
_NO_DEFAULT = "has no parameter(s) {} to set a default for; its parameters are {}"


class Builtin(Generic[P, T]):
    """A named, swappable operation; see the module docstring.

    Attributes:
        name: the registry key, e.g. ``"llm.generate_text"``.
        checks: by parameter name, what validates an argument when the builtin is called
            (it lets executables through: their results are not checked).
    """

    __name__: str  # the stub's, as its docstring, module and ``__wrapped__``

    def __init__(
        self,
        stub: Callable[P, Awaitable[T]],
        *,
        name: str | None = None,
        checks: Mapping[str, Check] | None = None,
        default: bool = False,
    ) -> None:
        functools.update_wrapper(self, stub)
        self.name = name or f"{stub.__module__.rsplit('.', 1)[-1]}.{stub.__name__}"
        sig = spelled_out(stub)
        self.__signature__ = sig
        params = list(sig.parameters.values())
        self._positional = tuple(
            p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
        self._params = frozenset(p.name for p in params)
        self._required = tuple(p.name for p in params if p.default is _EMPTY)
        # The declared non-None defaults (e.g. samples=1) are passed to implementations
        # that accept them, so every implementation sees the builtin's own semantics.
        self._declared = {
            p.name: p.default for p in params if p.default is not _EMPTY and p.default is not None
        }
        self.checks = checks or {}
        self._default_binding = Binding.of(stub, {}) if default else None
        self._fill: tuple[Binding, dict[str, Any]] | None = None  # see _binding_and_fill

    def __repr__(self) -> str:
        return f"<builtin {self.name}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> BuiltinCall[T]:
        if len(args) > len(self._positional):
            raise InvalidArgumentError(
                f"{self.name}() takes {len(self._positional)} positional arguments "
                f"but {len(args)} were given."
            )
        if kwargs and not self._params.issuperset(kwargs):
            check_arguments(f"{self.name}()", kwargs, self._params)
        # `kwargs` is a fresh dict: fill it in place (memory per pending call matters).
        given: dict[str, Any] = kwargs
        if args:
            duplicate = [n for n in self._positional[: len(args)] if n in given]
            if duplicate:
                raise InvalidArgumentError(f"{self.name}() got multiple values for {duplicate}.")
            given.update(zip(self._positional, args))
        for name in self._required:
            if name not in given:
                raise InvalidArgumentError(
                    f"{self.name}() is missing the required argument {name!r}."
                )
        checks = self.checks
        if checks:
            for name, value in given.items():
                check = checks.get(name)
                if check is not None and value is not None and not isinstance(value, Executable):
                    given[name] = check(self.name, name, value)
        return BuiltinCall(self, given)

    def fallback(self, *args: P.args, **kwargs: P.kwargs) -> BuiltinCall[T]:
        """A call from another builtin's default implementation (``chat`` → this) that
        leaves out the arguments the implementation does not declare."""
        call = self(*args, **kwargs)
        call._lenient = True
        return call

    def default_implementation(self, impl: Callable[..., Any]) -> Callable[..., Any]:
        """Decorator: the implementation used when no backend configured this builtin."""
        self._default_binding = Binding.of(impl, {})
        return impl

    def configure(self, impl: Callable[..., Any], /, **defaults: Any) -> None:
        """Bind ``impl`` in the current registry, with defaults (also for ``impl``'s own)."""
        self._bind(Binding.of(impl, {}), defaults)

    def update(self, **defaults: Any) -> None:
        """Change the defaults of the current binding, keeping its implementation."""
        self._bind(self._binding(), defaults)

    def _bind(self, binding: Binding, defaults: Mapping[str, Any]) -> None:
        allowed = self._params | (binding.accepts or frozenset())
        check_arguments(self.name, defaults, allowed, _NO_DEFAULT)
        current_registry()[self.name] = binding.with_defaults(**defaults)

    def reset_defaults(self) -> None:
        """Drop the configured defaults, keeping the implementation."""
        registry = current_registry()
        binding = registry.get(self.name)
        if binding is not None:
            registry[self.name] = dataclasses.replace(binding, defaults={})

    def unconfigure(self) -> None:
        """Remove the binding from the current registry (the default implementation stays)."""
        current_registry().pop(self.name, None)

    @property
    def defaults(self) -> dict[str, Any]:
        """The defaults configured in the current registry."""
        binding = current_registry().get(self.name)
        return dict(binding.defaults) if binding is not None else {}

    @property
    def implementation(self) -> Callable[..., Any] | None:
        """The implementation the current registry would call, or ``None``."""
        binding = current_registry().get(self.name) or self._default_binding
        return binding.impl if binding is not None else None

    def _binding(self) -> Binding:
        """The binding a call runs now: the registry's, else the default implementation."""
        binding = current_registry().get(self.name) or self._default_binding
        if binding is not None:
            return binding
        raise ConfigurationError(
            f"{self.name} is not configured: no backend registered an implementation for it. "
            "Register a backend first, e.g. `from onetwo.backends import fake; "
            "fake.FakeBackend(default_reply='...').register()` or "
            "`onetwo.backends.local_backend().register()`, or bind a function with "
            f"`{self.name}.configure(fn)`."
        )

    def _binding_and_fill(self) -> tuple[Binding, dict[str, Any]]:
        """The binding, and the values a call starts from (kept until the binding changes)."""
        binding = self._binding()
        cached = self._fill
        if cached is None or cached[0] is not binding:
            accepts = binding.accepts
            fill = {k: v for k, v in self._declared.items() if accepts is None or k in accepts}
            fill.update({k: v for k, v in binding.defaults.items() if v is not None})
            self._fill = cached = (binding, fill)
        return cached


def spelled_out(stub: Callable[..., Any]) -> inspect.Signature:
    """The stub's signature with ``**settings: Unpack[SomeTypedDict]`` spelled out.

    One keyword-only parameter (default ``None``) per key: shared arguments declared once.
    """
    sig = inspect.signature(stub)
    params = list(sig.parameters.values())
    if not params or params[-1].kind is not params[-1].VAR_KEYWORD:
        return sig
    hint = typing.get_type_hints(stub, include_extras=True).get(params[-1].name)
    if typing.get_origin(hint) is not typing.Unpack:
        return sig
    keys = typing.get_type_hints(typing.get_args(hint)[0])
    first = next((i for i, p in enumerate(params) if p.kind is p.KEYWORD_ONLY), len(params) - 1)
    spelled = [
        inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=t)
        for k, t in keys.items()
    ]
    return sig.replace(parameters=[*params[:first], *spelled, *params[first:-1]])


@dataclasses.dataclass(eq=False, repr=False, slots=True)
class BuiltinCall(Executable[T]):
    """One call of a builtin with its arguments; runs the current implementation."""

    _builtin: Builtin[Any, T]
    _given: dict[str, Any]
    _lenient: bool = False  # see Builtin.fallback

    @property
    def builtin(self) -> Builtin[Any, T]:
        return self._builtin

    @property
    def arguments(self) -> dict[str, Any]:
        """The arguments as given at the call (before defaults)."""
        return dict(self._given)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={_short(v)}" for k, v in self._given.items())
        return f"{self._builtin.name}({args})"

    def _run(self) -> Coroutine[Any, Any, T]:
        b = self._builtin
        binding, fill = b._binding_and_fill()
        kwargs = dict(fill)
        pending = None
        for k, v in self._given.items():
            if v is not None:
                kwargs[k] = v
                if isinstance(v, Executable):
                    pending = [*(pending or ()), k]
        accepts = binding.accepts
        if accepts is not None and not accepts.issuperset(kwargs):
            if not self._lenient:
                raise _unsupported(b, binding, kwargs)
            kwargs = {k: v for k, v in kwargs.items() if k in accepts}
            pending = [k for k in pending or () if k in kwargs] or None
        if pending is None and binding.is_async:  # fast path: no coroutine of ours around it
            call = binding.impl(**kwargs)
        else:
            call = _call_slow(binding, kwargs, pending)
        if current_trace_node.get() is None:  # tracing off: this is all it costs
            return call
        return tracing.trace_builtin(b.name, kwargs, binding.impl, call)


async def _call_slow(binding: Binding, kwargs: dict[str, Any], pending: list[str] | None) -> Any:
    if pending is not None:  # executable arguments run first, concurrently
        values = await asyncio.gather(*coroutines_of(kwargs[k] for k in pending))
        kwargs.update(zip(pending, values))
    if binding.is_async:
        return await binding.impl(**kwargs)
    result = await in_sync_pool(binding.impl, **kwargs)
    if inspect.isawaitable(result):  # (an executable is awaitable)
        result = await result
    return result


async def in_sync_pool(fn: Callable[..., T], /, **kwargs: Any) -> T:
    """``fn(**kwargs)`` on the pool of sync implementations, in a copy of this context.

    Cancelling the caller cancels a call not started yet (it never starts). Example:
    ``await in_sync_pool(requests.post, url=url, json=body)``.
    """
    done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
    _pool.submit((done, contextvars.copy_context(), fn, kwargs))
    return await done


_Job = tuple[asyncio.Future[Any], contextvars.Context, Callable[..., Any], dict[str, Any]]


class _SyncPool:
    """Up to :data:`SYNC_THREADS` daemon threads, started on demand, taking jobs in order.

    Lighter than a ``ThreadPoolExecutor`` (no second future per call: the submit is on
    the loop's hot path), and remade in a forked child. Finished calls wait in an inbox
    per loop: 100 calls ending at once wake their loop once, not 100 times.
    """

    def __init__(self) -> None:
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.threads = self.idle = 0  # started; waiting for a job and not promised one yet
        self.inbox: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Any], Any]]] = {}

    def submit(self, job: _Job) -> None:
        with self.lock:
            start = not self.idle and self.threads < SYNC_THREADS
            self.threads += start
            self.idle = max(0, self.idle - 1)  # a waiting thread, if any, is promised the job
        self.jobs.put(job)
        if start:
            threading.Thread(target=self._serve, name="onetwo-sync", daemon=True).start()

    def _serve(self) -> None:
        while True:
            self._run(self.jobs.get())  # its frame holds the job: gone while this waits
            with self.lock:
                self.idle += 1

    def _run(self, job: _Job) -> None:
        done, context, impl, kwargs = job
        if done.cancelled():  # its caller gave up before a thread was free
            return
        try:
            outcome = functools.partial(done.set_result, context.run(impl, **kwargs))
        except BaseException as error:  # as run_in_executor: KeyboardInterrupt reaches the caller
            if isinstance(error, StopIteration):  # a future refuses it (as a coroutine does)
                wrapped = RuntimeError(f"{getattr(impl, '__name__', impl)} raised StopIteration")
                wrapped.__cause__, error = error, wrapped
            outcome = functools.partial(done.set_exception, error)
        loop = done.get_loop()
        with self.lock:
            waiting = self.inbox.setdefault(loop, [])
            waiting.append((done, outcome))
            wake = len(waiting) == 1
        if wake:
            try:
                loop.call_soon_threadsafe(self._deliver, loop)
            except RuntimeError:  # the loop is closed: nobody waits any more
                with self.lock:
                    del self.inbox[loop]

    def _deliver(self, loop: asyncio.AbstractEventLoop) -> None:
        with self.lock:
            finished = self.inbox.pop(loop)
        for done, outcome in finished:
            if not done.done():  # done: its caller was cancelled
                outcome()


def _new_pool() -> None:
    global _pool
    _pool = _SyncPool()  # a forked child has none of the threads


_pool = _SyncPool()
os.register_at_fork(after_in_child=_new_pool)


def _unsupported(
    b: Builtin[Any, Any], binding: Binding, kwargs: dict[str, Any]
) -> InvalidArgumentError:
    assert binding.accepts is not None
    extra = sorted(set(kwargs) - binding.accepts)
    return InvalidArgumentError(
        f"{b.name} was called with {', '.join(f'{k}={_short(kwargs[k])}' for k in extra)}, "
        f"but its implementation {binding.impl_name} does not accept "
        f"{'it' if len(extra) == 1 else 'them'}. Drop the argument, or configure a backend "
        "that supports it."
    )


def check_arguments(
    where: str,
    given: Iterable[str],
    allowed: Collection[str],
    problem: str = "got unexpected argument(s) {}; it takes {}",
) -> None:
    """Raise ``InvalidArgumentError`` (a ``TypeError``) naming the ``given`` names that
    are not ``allowed``.

    ``problem`` is filled with the unknown names and the allowed ones, sorted: e.g.
    ``check_arguments("c.chat()", {"tmp": 1}, ["temperature"])`` raises "c.chat() got
    unexpected argument(s) ['tmp']; it takes ['temperature']."
    """
    unknown = sorted(set(given).difference(allowed))
    if unknown:
        raise InvalidArgumentError(f"{where} {problem.format(unknown, sorted(allowed))}.")


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def builtin(stub: Callable[P, Awaitable[T]]) -> Builtin[P, T]:
    """Declare a builtin from a stub function (its signature and docstring)."""
    return Builtin(stub)
