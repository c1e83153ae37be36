"""Backend methods that take the sampling settings once, as ``**settings``.

A backend method declares ``**settings: Unpack[ModelSettings]`` instead of spelling the
five parameters again; :func:`takes_settings` gives it the signature the builtins show
(``onetwo.core.builtin`` spells them out the same way): one keyword-only parameter per
setting, default ``None``. The registry (which rejects arguments an implementation does
not take) and the call cache (whose keys hold every parameter, defaults included) both
read that signature, so such a method behaves, and is keyed, exactly as one that spelled
the parameters.

Example:
    >>> class MyBackend(Backend):
    ...     @takes_settings()
    ...     async def generate_text(self, prompt: str, **settings: Unpack[ModelSettings]) -> str:
    ...         return f"{prompt} at {settings.get('temperature')}"
    >>> list(inspect.signature(MyBackend.generate_text).parameters)
    ['self', 'prompt', 'temperature', 'max_tokens', 'stop', 'top_k', 'top_p']
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, TypeVar

from onetwo.core.builtin import spelled_out

__all__ = ["takes_settings"]

F = TypeVar("F", bound=Callable[..., Any])


def takes_settings(*, omit: Collection[str] = ()) -> Callable[[F], F]:
    """Decorator: the method's ``**settings`` show as the settings' own parameters.

    Args:
        omit: settings the method does not take (e.g. ``stop`` for structured output).
    """

    def decorate(fn: F) -> F:
        sig = spelled_out(fn)
        params = [p for p in sig.parameters.values() if p.name not in omit]
        fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        return fn

    return decorate
