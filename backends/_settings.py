"""Backend methods that take the sampling settings once, as ``**settings``.

A backend method declares ``**settings: Unpack[ModelSettings]`` instead of spelling the
five parameters again; :func:`takes_settings` gives it the signature a reader of
signatures expects: one keyword-only parameter per setting, default ``None``. The
registry (which rejects arguments an implementation does not take) and the call cache
(whose keys hold every parameter, defaults included) both read that signature, so such
a method behaves exactly as one that spelled the parameters.

Example:
    >>> class MyBackend(Backend):
    ...     @takes_settings()
    ...     async def generate_text(self, prompt: str, **settings: Unpack[ModelSettings]) -> str:
    ...         return f"{prompt} at {settings.get('temperature')}"
    >>> list(inspect.signature(MyBackend.generate_text).parameters)
    ['self', 'prompt', 'temperature', 'max_tokens', 'stop', 'top_k', 'top_p']
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from onetwo.builtins.settings import SETTING_NAMES

__all__ = ["takes_settings"]

F = TypeVar("F", bound=Callable[..., Any])


def takes_settings(*, omit: Collection[str] = ()) -> Callable[[F], F]:
    """Decorator: the method's ``**settings`` show as the settings' own parameters.

    Args:
        omit: settings the method does not take (e.g. ``stop`` for structured output).
    """
    names = [n for n in SETTING_NAMES if n not in omit]

    def decorate(fn: F) -> F:
        sig = inspect.signature(fn)
        params = [p for p in sig.parameters.values() if p.kind is not p.VAR_KEYWORD]
        params += [
            inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=None) for n in names
        ]
        fn.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
        return fn

    return decorate
