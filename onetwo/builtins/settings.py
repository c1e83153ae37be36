"""Model settings: the sampling parameters every text builtin and backend shares.

One :class:`ModelSettings` type names them (``temperature``, ``max_tokens``, ``stop``,
``top_k``, ``top_p``) instead of each signature spelling them again. A backend receives
them as keyword arguments, merges its own defaults under the call's with :func:`merge`, and
maps the result onto its wire format.

Example:
    >>> merge({"temperature": 0.7, "max_tokens": 64}, {"temperature": None, "stop": ["\\n"]})
    {'temperature': 0.7, 'max_tokens': 64, 'stop': ['\\n']}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

__all__ = ["SETTING_NAMES", "ModelSettings", "merge"]


class ModelSettings(TypedDict, total=False):
    """Sampling parameters of one call; a missing key or ``None`` means "the default"."""

    temperature: float | None
    max_tokens: int | None
    stop: Sequence[str] | None
    top_k: int | None
    top_p: float | None


SETTING_NAMES: tuple[str, ...] = tuple(ModelSettings.__annotations__)
"""The names of the settings, in declaration order."""


def merge(*layers: Mapping[str, Any] | None) -> ModelSettings:
    """Later layers win, ``None`` values never override; unknown keys are ignored.

    Args:
        *layers: e.g. the backend's defaults, then the call's arguments.
    """
    merged: dict[str, Any] = {}
    for layer in layers:
        if not layer:
            continue
        for name in SETTING_NAMES:
            value = layer.get(name)
            if value is not None:
                merged[name] = value
    return merged  # type: ignore[return-value]
