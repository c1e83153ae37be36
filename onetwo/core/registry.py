"""The registry: which implementation (and which defaults) each builtin uses.

A backend's ``register()`` binds builtins (``llm.generate_text``...) to its methods in
the *current registry*, read when an executable runs, not when it is built. It is the
global one (:data:`function_registry`) unless ``with RegistryContext():`` works on a copy
or :func:`with_registry` runs an executable under a given one; :func:`copy_registry`
snapshots it.

Example:
    >>> from onetwo import ot
    >>> from onetwo.backends.fake import FakeBackend
    >>> with ot.RegistryContext():
    ...     FakeBackend(default_reply="A").register()
    ...     reg_a = ot.copy_registry()
    >>> # later: ot.run(ot.with_registry(strategy(), reg_a))
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
from collections import UserDict
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any, TypeVar

from onetwo.core.executable import Executable, make_executable
from onetwo.errors import InvalidArgumentError

__all__ = [
    "Binding",
    "Registry",
    "RegistryContext",
    "copy_registry",
    "current_registry",
    "function_registry",
    "set_registry",
    "with_current_registry",
    "with_registry",
]

T = TypeVar("T")
_KEYWORD = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@dataclasses.dataclass(frozen=True, slots=True)
class Binding:
    """An implementation bound to a builtin, with its configured defaults.

    Attributes:
        impl: the callable (sync or async, may return an executable).
        defaults: the values used when the caller passes ``None`` or nothing.
        accepts: the keyword names ``impl`` accepts, or ``None`` if it takes ``**kwargs``.
        is_async: whether ``impl`` is a coroutine function (decided once, here).
    """

    impl: Callable[..., Any]
    defaults: Mapping[str, Any]
    accepts: frozenset[str] | None
    is_async: bool

    @classmethod
    def of(cls, impl: Callable[..., Any], defaults: Mapping[str, Any]) -> Binding:
        if not callable(impl):
            raise InvalidArgumentError(
                f"the implementation must be callable, got {type(impl).__name__}."
            )
        accepts: frozenset[str] | None = None
        with contextlib.suppress(TypeError, ValueError):  # some builtins have no signature
            params = inspect.signature(impl).parameters.values()
            if not any(p.kind is p.VAR_KEYWORD for p in params):
                accepts = frozenset(p.name for p in params if p.kind in _KEYWORD)
        is_async = inspect.iscoroutinefunction(impl) or inspect.iscoroutinefunction(
            getattr(impl, "__call__", None)  # noqa: B004 - async callable objects
        )
        return cls(impl, dict(defaults), accepts, is_async)

    def with_defaults(self, **defaults: Any) -> Binding:
        return dataclasses.replace(self, defaults={**self.defaults, **defaults})

    @property
    def impl_name(self) -> str:
        """``impl`` for messages: ``Class.method`` for a bound method, else its name."""
        impl, owner = self.impl, getattr(self.impl, "__self__", None)
        name = getattr(impl, "__qualname__", None) or repr(impl)
        if owner is None:
            return name
        return f"{type(owner).__name__}.{getattr(impl, '__name__', name)}"


class Registry(UserDict[str, Binding]):
    """Maps builtin names (``"llm.generate_text"``) to their :class:`Binding`.

    ``registry[name] = fn`` binds a plain callable with no defaults.
    """

    def get(self, name: str, default: Any = None) -> Any:  # hot path: skip Mapping.get
        return self.data.get(name, default)

    def __setitem__(self, name: str, value: Binding | Callable[..., Any]) -> None:
        self.data[name] = value if isinstance(value, Binding) else Binding.of(value, {})

    def copy(self) -> Registry:
        """A snapshot: later changes to either registry do not affect the other."""
        return Registry(self.data)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={b.impl_name}" for k, b in sorted(self.data.items()))
        return f"Registry({items})"


_global_registry = Registry()
# Set inside RegistryContext and with_registry; None means "use the global registry".
_override: ContextVar[Registry | None] = ContextVar("onetwo_registry", default=None)


def current_registry() -> Registry:
    """The registry in force here: the innermost context's, else the global one."""
    registry = _override.get()
    return _global_registry if registry is None else registry


class _CurrentRegistryView(MutableMapping[str, Any]):
    """``ot.function_registry``: the current registry, as name → implementation.

    ``ot.function_registry("name", *args, **kwargs)`` (also ``ot.function_call``) is an
    executable calling the implementation registered as ``name`` when it runs.
    """

    def __call__(self, name: str, /, *args: Any, **kwargs: Any) -> Executable[Any]:
        return _call_registered(name, *args, **kwargs)

    def __getitem__(self, name: str) -> Callable[..., Any]:
        return current_registry()[name].impl

    def __setitem__(self, name: str, impl: Callable[..., Any]) -> None:
        current_registry()[name] = impl

    def __delitem__(self, name: str) -> None:
        del current_registry()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(current_registry())

    def __len__(self) -> int:
        return len(current_registry())

    def __repr__(self) -> str:
        return repr(current_registry())


@make_executable
def _call_registered(name: str, /, *args: Any, **kwargs: Any) -> Any:
    return current_registry()[name].impl(*args, **kwargs)


function_registry = _CurrentRegistryView()


def copy_registry() -> Registry:
    """A snapshot of the current registry, e.g. right after ``backend.register()``."""
    return current_registry().copy()


def set_registry(registry: Registry) -> None:
    """Make ``registry`` current: inside a ``RegistryContext`` until it exits, else globally."""
    global _global_registry
    _check_registry("set_registry", registry)
    if _override.get() is not None:
        _override.set(registry)
    else:
        _global_registry = registry


@contextlib.contextmanager
def RegistryContext(registry: Registry | None = None) -> Iterator[Registry]:  # OneTwo's name
    """A ``with`` block working on a copy of the current registry; changes stay inside.

    ``RegistryContext(registry)`` works on ``registry`` itself instead.

    Example:
        >>> with RegistryContext():
        ...     backend.register()          # doctest: +SKIP
        ...     reg = copy_registry()       # doctest: +SKIP
    """
    if registry is None:
        registry = current_registry().copy()
    token = _override.set(registry)
    try:
        yield registry
    finally:
        _override.reset(token)


@make_executable("executable")
async def _under_registry(executable: Executable[T], registry: Registry) -> T:
    with RegistryContext(registry):
        return await executable


def with_registry(executable: Executable[T], registry: Registry) -> Executable[T]:
    """``executable``, run with ``registry`` current (per task: several may run at once)."""
    if not isinstance(executable, Executable):
        raise InvalidArgumentError(
            f"with_registry() needs an Executable, got {type(executable).__name__}."
        )
    _check_registry("with_registry", registry)
    return _under_registry(executable, registry)


def _check_registry(where: str, registry: Any) -> None:
    if not isinstance(registry, Registry):
        raise InvalidArgumentError(
            f"{where}() needs a Registry, got {type(registry).__name__}. "
            "Get one from ot.copy_registry()."
        )


def with_current_registry(executable: Executable[T]) -> Executable[T]:
    """``executable`` pinned to a snapshot of the registry current *now*, at build time."""
    return with_registry(executable, copy_registry())
