"""Model settings: the sampling parameters every text builtin and backend shares.

One :class:`ModelSettings` type names them instead of each signature spelling them again.
A backend merges its own defaults under the call's with :func:`merge` and maps the result
onto its wire format; :func:`check_setting` refuses a bad value, saying what to pass.

Example:
    >>> merge({"temperature": 0.7, "max_tokens": 64}, {"temperature": None, "stop": ["\\n"]})
    {'temperature': 0.7, 'max_tokens': 64, 'stop': ['\\n']}
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

from onetwo.errors import InvalidArgumentError

__all__ = ["RULES", "SETTING_NAMES", "ModelSettings", "Rule", "check_setting", "merge"]


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
    """The ``layers`` (e.g. a backend's defaults, then the call's) merged: later layers
    win, ``None`` values never override, unknown keys are ignored."""
    merged: dict[str, Any] = {}
    for layer in filter(None, layers):
        merged.update({k: layer[k] for k in SETTING_NAMES if layer.get(k) is not None})
    return merged  # type: ignore[return-value]


Rule = tuple[Callable[[Any], bool], str]
"""(is the value right?, what to pass instead), for :func:`check_setting`."""

RULES: dict[str, Rule] = {
    "temperature": (lambda v: _is_number(v) and v >= 0, "a number >= 0, e.g. 0.7 (0: greedy)"),
    "max_tokens": (lambda v: _is_int(v) and v >= 1, "a whole number of tokens >= 1, e.g. 64"),
    "stop": (
        lambda v: isinstance(v, list | tuple) and all(isinstance(s, str) for s in v),
        "a str or a list of str, e.g. stop=['\\n']",
    ),
    "top_k": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0, e.g. 40"),
    "top_p": (lambda v: _is_number(v) and 0 <= v <= 1, "a number from 0 to 1, e.g. 0.95"),
}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)


def check_setting(where: str, name: str, value: Any, rules: Mapping[str, Rule] = RULES) -> Any:
    """Raise ``InvalidArgumentError`` if ``value`` breaks ``rules[name]``, else return it (a
    single ``stop`` string as a one-element list, never a list of letters).

    Example:
        >>> check_setting("llm.generate_text", "stop", "END")
        ['END']
    """
    if name == "stop" and isinstance(value, str):
        return [value]
    ok, what = rules[name]
    if not ok(value):
        shown = f"{type(value).__name__} {value!r:.60}"
        raise InvalidArgumentError(f"{where}: {name} must be {what}; got {shown}.")
    return value
