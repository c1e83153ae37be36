"""``backend("provider:model")``: a real backend from a short name, for notebooks.

Nothing here imports a model SDK: the backend's module is imported when it is asked for,
and says which extra to install if its SDK is missing.

Example:
    >>> from onetwo.backends import backend
    >>> backend("local:smollm2").register()         # embedded llama.cpp, no API key
    >>> backend("openai:gpt-4o-mini", cache="cache/").register()  # doctest: +SKIP
    >>> backend("gemini:gemini-2.5-flash").register()             # doctest: +SKIP
    >>> backend("fake", default_reply="4").register()  # scripted, no model: dry runs, tests
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onetwo.backends.local import LocalModel
    from onetwo.core.backend import Backend

__all__ = ["PROVIDERS", "backend", "local_backend"]

# provider → (module, class name, default model)
PROVIDERS: dict[str, tuple[str, str, str]] = {
    "local": ("onetwo.backends.local", "LocalModel", "smollm2"),
    "openai": ("onetwo.backends.openai_api", "OpenAIAPI", "gpt-4o-mini"),
    "gemini": ("onetwo.backends.google_genai_api", "GoogleGenAIAPI", "gemini-2.5-flash"),
    "fake": ("onetwo.backends.fake", "FakeBackend", "fake"),  # the model part names its script
}
_ALIASES = {"google": "gemini", "llama.cpp": "local"}


def backend(spec: str, **kwargs: Any) -> Backend:
    """Build the backend named by ``"provider:model"`` (or just ``"provider"``).

    Args:
        spec: ``"local:smollm2"``, ``"openai:gpt-4o-mini"``, ``"gemini:gemini-2.5-flash"``,
            ``"fake"`` (the scripted :class:`~onetwo.backends.fake.FakeBackend`; ``"fake:name"``
            names its model); the model part may be left out for the provider's default.
        **kwargs: passed to the backend's constructor (``cache=``, ``base_url=``,
            ``default_reply=``...).
    """
    provider, _, model = spec.partition(":")
    provider = _ALIASES.get(provider.strip().lower(), provider.strip().lower())
    if provider not in PROVIDERS:
        raise ValueError(
            f"Unknown backend provider {provider!r} in {spec!r}; use one of "
            f"{sorted(PROVIDERS)}, e.g. 'local:smollm2', 'openai:gpt-4o-mini' or 'fake'."
        )
    module_name, class_name, default_model = PROVIDERS[provider]
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(model=model.strip() or default_model, **kwargs)


def local_backend(model: str = "smollm2", **kwargs: Any) -> LocalModel:
    """The embedded local model (llama.cpp in-process), e.g. ``local_backend().register()``."""
    from onetwo.backends import local

    return local.local_backend(model, **kwargs)
