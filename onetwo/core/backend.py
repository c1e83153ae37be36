"""The contract every model backend follows.

A backend's methods implement builtins (``generate_text``...); :meth:`Backend.register`
binds them in the current registry; :meth:`Backend.identity` names what produces its
outputs (provider, model, settings that change them), so the cache never mixes two models.

Example:
    >>> from onetwo.backends.fake import FakeBackend
    >>> backend = FakeBackend(default_reply="ok")
    >>> backend.register()   # llm.generate_text now answers "ok"
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from onetwo.core.caching import CallCache, open_cache

__all__ = ["Backend"]


class Backend:
    """Base class of backends: identity, the optional call cache, and ``register()``.

    Args:
        model: the model name, as the provider spells it.
        cache: a ``onetwo.core.caching.CallCache``, a folder path to open one in, or
            ``None`` for no caching.
    """

    provider: ClassVar[str] = "custom"

    def __init__(
        self, *, model: str = "", cache: CallCache | str | os.PathLike[str] | None = None
    ) -> None:
        self.model = model
        self.cache: CallCache | None = None if cache is None else open_cache(cache)

    def identity(self) -> Mapping[str, Any]:
        """What produces this backend's outputs, part of every cache key: subclasses add
        the settings that change them (a server's URL...), never credentials."""
        return {"provider": self.provider, "model": self.model}

    def register(self) -> None:
        """Configure the builtins this backend implements in the current registry."""
        raise NotImplementedError(f"{type(self).__name__} does not implement register().")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"
