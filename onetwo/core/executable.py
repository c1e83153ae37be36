"""Lazy executables: descriptions of work that run only when awaited or ``ot.run``.

An :class:`Executable` is a recipe, not a running task: building one (calling a builtin
or a :func:`make_executable` function) does nothing; each ``await`` runs it afresh (under
the registry and sampling key current then). Executable arguments run first, concurrently.

Example:
    >>> from onetwo import ot
    >>> @ot.make_executable
    ... async def shout(text: str) -> str:
    ...     return text.upper()
    >>> ot.run(shout("hi"))
    'HI'
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import inspect
import types
from collections.abc import Callable, Coroutine, Generator, Iterable
from contextvars import ContextVar
from typing import Any, Generic, TypeVar, overload

__all__ = [
    "Executable",
    "FunctionExecutable",
    "coroutines_of",
    "make_executable",
    "partial_results",
    "resolve_arguments",
    "set_composer",
]

# Set by ``ot.safe_stream`` around its run: [the executable streamed, report(value)]. Only
# that one reports its partial results (the values its generator yields), no nested one.
partial_results: ContextVar[list[Any] | None] = ContextVar("onetwo_partials", default=None)
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])
_compose: Callable[[Any, Any], Any] | None = None  # what `+` does: see set_composer


def set_composer(compose: Callable[[Any, Any], Any]) -> None:
    """Make ``executable + other`` (and ``other + executable``) return ``compose(a, b)``.

    The core knows nothing of prompts: importing ``onetwo.builtins`` registers its own.
    """
    global _compose
    _compose = compose


class Executable(Generic[T]):
    """A lazy computation producing a ``T``: await it, or pass it to ``ot.run``.

    Subclasses implement :meth:`_run`, returning a fresh coroutine each time; ``+``
    composes executables into prompts (see :func:`set_composer`).
    """

    __slots__ = ()

    def _run(self) -> Coroutine[Any, Any, T]:
        raise NotImplementedError

    def __await__(self) -> Generator[Any, None, T]:
        return self._run().__await__()

    def __add__(self, other: Any) -> Any:
        return NotImplemented if _compose is None else _compose(self, other)

    def __radd__(self, other: Any) -> Any:
        return NotImplemented if _compose is None else _compose(other, self)


def coroutines_of(executables: Iterable[Executable[Any]]) -> list[Coroutine[Any, Any, Any]]:
    """One fresh coroutine per executable, e.g. for ``asyncio.gather``.

    If one ``_run()`` fails at once (a builtin not configured), those made are closed.
    """
    coros: list[Coroutine[Any, Any, Any]] = []
    try:
        for e in executables:
            coros.append(e._run())
    except BaseException:
        for c in coros:
            c.close()
        raise
    return coros


# How a decorated function produces its value (decided once, at decoration time): a sync
# function, or as the first of these that holds.
_SYNC, _ASYNC, _ASYNC_GEN, _GEN = range(4)
_KINDS = (inspect.iscoroutinefunction, inspect.isasyncgenfunction, inspect.isgeneratorfunction)


class _FunctionSpec:
    __slots__ = ("copy_self", "fn", "kind", "name", "passed", "skip", "uncopied")

    def __init__(
        self,
        fn: Callable[..., Any],
        non_executed_args: Iterable[str],
        non_copied: Iterable[str],
        copy_self: bool,
    ) -> None:
        self.fn = fn
        self.copy_self = copy_self
        self.name = getattr(fn, "__qualname__", repr(fn))
        self.kind = next((kind for kind, test in enumerate(_KINDS, 1) if test(fn)), _SYNC)
        self.skip = frozenset(non_executed_args)
        # The arguments passed through unexecuted, and those a deepcopy shares: by name
        # and by position.
        self.passed = self._places("non_executed_args", self.skip)
        self.uncopied = self._places("non_copied_args", frozenset(non_copied))

    def _places(self, option: str, names: frozenset[str]) -> frozenset[int | str]:
        if not names:
            return frozenset()
        params = inspect.signature(self.fn).parameters
        unknown = names - params.keys()
        if unknown:
            raise ValueError(
                f"{option} names {sorted(unknown)}, which {self.name} does not have; its "
                f"parameters are {list(params)}."
            )
        positional = [
            p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        return names | {i for i, p in enumerate(positional) if p.name in names}


@dataclasses.dataclass(eq=False, repr=False, slots=True)
class FunctionExecutable(Executable[T]):
    """A call of a :func:`make_executable` function, bound to its arguments, not yet run."""

    _spec: _FunctionSpec
    _args: tuple[Any, ...]
    _kwargs: dict[str, Any]

    @property
    def function(self) -> Callable[..., Any]:
        """The decorated function this is a call of."""
        return self._spec.fn

    def __repr__(self) -> str:
        return f"<Executable {self._spec.name}(…)>"

    def __deepcopy__(self, memo: dict[int, Any]) -> FunctionExecutable[T]:
        # A copy (e.g. for independent samples holding state) shares the non-copied args.
        spec, fn = self._spec, self._spec.fn
        if spec.copy_self and isinstance(fn, types.MethodType):  # a bound method: copy its object
            spec = copy.copy(spec)
            spec.fn = types.MethodType(fn.__func__, copy.deepcopy(fn.__self__, memo))
        shared = spec.uncopied
        args = tuple(a if i in shared else copy.deepcopy(a, memo) for i, a in enumerate(self._args))
        kwargs = {k: v if k in shared else copy.deepcopy(v, memo) for k, v in self._kwargs.items()}
        return FunctionExecutable(spec, args, kwargs)

    async def _run(self) -> T:
        spec = self._spec
        args, kwargs = await resolve_arguments(self._args, self._kwargs, spec)
        streamed = partial_results.get()
        report = streamed[1] if streamed is not None and streamed[0] is self else _ignore
        fn, kind = spec.fn, spec.kind
        result: Any = None
        if kind == _ASYNC:
            result = await fn(*args, **kwargs)
        elif kind == _SYNC:
            result = fn(*args, **kwargs)
        elif kind == _ASYNC_GEN:
            async for result in fn(*args, **kwargs):  # the last value yielded is the result
                report(result)
        else:
            for result in fn(*args, **kwargs):
                report(result)
        # A strategy may return an executable (e.g. `return llm.generate_text(p)`), streamed
        # in its place, or a coroutine: run it.
        while isinstance(result, Executable) or inspect.iscoroutine(result):
            if report is not _ignore:
                streamed[0] = result  # type: ignore[index]
            result = await result
        return result


def _ignore(value: Any) -> None:
    """Where the partial results of an executable nobody streams go."""


async def resolve_arguments(
    args: tuple[Any, ...], kwargs: dict[str, Any], spec: _FunctionSpec | None = None
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Run the executables among ``args``/``kwargs`` concurrently; return the values.

    Those the spec's ``non_executed_args`` name pass through; with no executable, the
    inputs are returned as they are.
    """
    passed = () if spec is None else spec.passed
    pending: list[tuple[int | str, Executable[Any]]] = [
        (i, a) for i, a in enumerate(args) if isinstance(a, Executable) and i not in passed
    ]
    pending += [(k, v) for k, v in kwargs.items() if isinstance(v, Executable) and k not in passed]
    if not pending:
        return args, kwargs
    if len(pending) == 1:
        values = [await pending[0][1]]
    else:
        values = await asyncio.gather(*coroutines_of(e for _, e in pending))
    new_args, new_kwargs = list(args), dict(kwargs)
    for (where, _), value in zip(pending, values):
        if isinstance(where, int):
            new_args[where] = value
        else:
            new_kwargs[where] = value
    return tuple(new_args), new_kwargs


@overload
def make_executable(fn: F, /) -> Callable[..., Executable[Any]]: ...
@overload
def make_executable(
    *non_executed: str,
    non_executed_args: Iterable[str] = (),
    non_copied_args: Iterable[str] = (),
    copy_self: bool = True,
) -> Callable[[F], Callable[..., Executable[Any]]]: ...


def make_executable(
    fn: Callable[..., Any] | str | None = None,
    /,
    *non_executed: str,
    non_executed_args: Iterable[str] = (),
    non_copied_args: Iterable[str] = (),
    copy_self: bool = True,
) -> Any:
    """Turn a function into a factory of lazy executables.

    Works on sync and async functions, (async) generators (the last value yielded is the
    result), methods and callable objects. Calling the decorated function runs nothing: it
    returns an :class:`Executable` bound to the arguments. Decorating twice changes nothing.

    Args:
        fn: the function (when used as ``@make_executable`` without parentheses).
        *non_executed: as ``non_executed_args``, written ``@make_executable("step")``.
        non_executed_args: parameter names whose executable arguments are passed
            through as executables instead of being run first.
        non_copied_args: parameter names whose arguments a ``copy.deepcopy`` of the
            executable shares instead of copying (thread-safe resources).
        copy_self: for a method, whether a deepcopy of the executable copies ``self``.

    Example:
        >>> @make_executable("step")
        ... async def twice(step):
        ...     return [await step, await step]
    """
    if isinstance(fn, str):
        non_executed, fn = (fn, *non_executed), None
    skip = (*non_executed, *non_executed_args)

    def decorate(f: Callable[..., Any]) -> Callable[..., Executable[Any]]:
        if hasattr(f, "__onetwo_spec__"):
            return f
        if not (inspect.isroutine(f) or inspect.isclass(f) or isinstance(f, functools.partial)):
            f = f.__call__  # type: ignore[operator] # a callable object: its method says if it is async
        code = getattr(f, "__code__", None)
        has_self = code is not None and code.co_varnames[:1] == ("self",)
        keep_self = [] if copy_self or not has_self or inspect.ismethod(f) else ["self"]
        spec = _FunctionSpec(f, skip, [*non_copied_args, *keep_self], copy_self)

        @functools.wraps(f)
        def factory(*args: Any, **kwargs: Any) -> Executable[Any]:
            return FunctionExecutable(spec, args, kwargs)

        factory.__onetwo_spec__ = spec  # type: ignore[attr-defined]
        return factory

    return decorate if fn is None else decorate(fn)
