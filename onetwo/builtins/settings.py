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

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from onetwo.errors import InvalidArgumentError

__all__ = ["SETTING_NAMES", "ModelSettings", "check_setting", "merge", "validate"]


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


# What each setting takes: (is the value right?, what to say), for check_setting.
_RULES: dict[str, tuple[Any, str]] = {
    "temperature": (lambda v: _is_number(v) and v >= 0, "a number >= 0, e.g. 0.7 (0: greedy)"),
    "max_tokens": (lambda v: _is_int(v) and v >= 1, "a whole number of tokens >= 1, e.g. 64"),
    "top_k": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0, e.g. 40"),
    "top_p": (lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 to 1, e.g. 0.95"),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def check_setting(where: str, name: str, value: Any) -> Any:
    """Raise ``InvalidArgumentError`` for a bad setting; return the value to use.

    A single ``stop`` string becomes a one-element list (never a list of letters).

    Example:
        >>> check_setting("llm.generate_text", "stop", "END")
        ['END']
    """
    if name == "stop":
        stop = [value] if isinstance(value, str) else value
        if isinstance(stop, Sequence) and all(isinstance(s, str) for s in stop):
            return list(stop)
        what = "a str or a list of str, e.g. stop=['\\n']"
    else:
        ok, what = _RULES[name]
        if ok(value):
            return value
    raise InvalidArgumentError(f"{where}: {name} must be {what}; got {value!r:.60}.")


def validate(where: str, settings: Mapping[str, Any]) -> ModelSettings:
    """``settings`` checked with :func:`check_setting` (``None`` values are kept)."""
    return {  # type: ignore[return-value]
        k: v if v is None or k not in SETTING_NAMES else check_setting(where, k, v)
        for k, v in settings.items()
    }
