"""The backends' settings: methods that take them once, constructors that check them.

Constructor arguments are checked by name against one table (:func:`check_options`):
every backend, the retry policy and the rate limiter call it first thing, so
``OpenAIAPI(timeout=-1)`` fails where it is written, with the parameter, the value and
the fix, instead of as a puzzling error at the first call.

Example:
    >>> check_options("OpenAIAPI", timeout=-1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    onetwo.errors.InvalidArgumentError: OpenAIAPI(timeout=-1): timeout must be ...

Sampling settings:

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

import dataclasses
import importlib
import math
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

from onetwo.builtins.settings import SETTING_NAMES, check_setting
from onetwo.core.builtin import spelled_out
from onetwo.errors import InvalidArgumentError

__all__ = ["check_options", "takes_settings"]

F = TypeVar("F", bound=Callable[..., Any])


@dataclasses.dataclass(frozen=True)
class _Rule:
    """What one constructor argument must be: ``kind`` says whether its type is right,
    ``test`` whether its value is."""

    kind: Callable[[Any], bool]
    must: str
    example: str
    test: Callable[[Any], bool] = lambda value: True
    optional: bool = True


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _an(module: str, name: str, example: str) -> _Rule:
    """An instance of ``module.name``, imported when first needed (no import cycles)."""
    return _Rule(
        lambda value: isinstance(value, getattr(importlib.import_module(module), name)),
        f"a {name}",
        example,
    )


def _seconds(minimum: float, strict: bool) -> Callable[[Any], bool]:
    return lambda v: math.isfinite(v) and (v > minimum if strict else v >= minimum)


def _reply(value: Any) -> bool:
    """A FakeBackend reply: a text, texts, a callable or an exception (class or instance)."""
    if isinstance(value, str | BaseException) or callable(value):
        return True
    return isinstance(value, Sequence) and bool(value) and all(isinstance(v, str) for v in value)


def _is_pattern(value: Any) -> bool:
    try:
        re.compile(value)
    except (re.error, TypeError):
        return False
    return True


_POSITIVE_INT = "an int >= 1"
_FAKE_BUILTINS = {"chat", "embed", "generate_object", "generate_text", "score_text", "tokenize"}
_REPLY = "a text, a list of texts, a callable (prompt, **arguments) -> text, or an exception"
_RULES: dict[str, _Rule] = {
    "model": _Rule(_text, "a non-empty str", "'<the model's name>'", bool, optional=False),
    "api_key": _Rule(_text, "a non-empty str", "'sk-...' (or None: the environment's)", bool),
    "base_url": _Rule(
        _text,
        "an http:// or https:// URL",
        "'http://127.0.0.1:8080/v1'",
        lambda v: re.match(r"https?://[^/?#]+", v) is not None,
    ),
    "embedding_model": _Rule(_text, "a non-empty str", "'text-embedding-3-small'", bool),
    "embed_batch_size": _Rule(_integer, _POSITIVE_INT, "32", lambda v: v >= 1, optional=False),
    "timeout": _Rule(
        _number, "a number of seconds > 0", "60", _seconds(0, strict=True), optional=False
    ),
    "retry": _an("onetwo.backends._retry", "RetryPolicy", "RetryPolicy(attempts=3)"),
    "requests_per_second": _Rule(_number, "a number > 0", "5", _seconds(0, strict=True)),
    "max_concurrency": _Rule(_integer, _POSITIVE_INT, "4", lambda v: v >= 1),
    "rate_limiter": _an(
        "onetwo.backends._ratelimit", "RateLimiter", "RateLimiter(requests_per_second=5)"
    ),
    "server_kind": _Rule(
        _text,
        "one of 'openai', 'llama.cpp', 'compatible'",
        "'compatible'",
        lambda v: v in ("openai", "llama.cpp", "compatible"),
    ),
    "use_completions": _Rule(_flag, "True, False or None", "True"),
    "max_samples_per_request": _Rule(_integer, _POSITIVE_INT, "4", lambda v: v >= 1),
    "api_version": _Rule(_text, "a non-empty str", "'v1beta'", bool),
    "embedding_dimensions": _Rule(_integer, _POSITIVE_INT, "768", lambda v: v >= 1),
    "attempts": _Rule(_integer, _POSITIVE_INT, "5", lambda v: v >= 1, optional=False),
    "initial_backoff": _Rule(
        _number, "a number of seconds >= 0", "0.5", _seconds(0, strict=False), optional=False
    ),
    "max_backoff": _Rule(
        _number, "a number of seconds >= 0", "20", _seconds(0, strict=False), optional=False
    ),
    "max_retry_after": _Rule(
        _number, "a number of seconds >= 0", "60", _seconds(0, strict=False), optional=False
    ),
    "clock": _Rule(
        lambda v: callable(getattr(v, "now", None)) and callable(getattr(v, "sleep", None)),
        "a Clock (with now() and async sleep())",
        "onetwo.core.clock.VirtualClock()",
        optional=False,
    ),
    "replies": _Rule(
        lambda v: isinstance(v, Mapping) and all(isinstance(k, str) for k in v),
        "a mapping of prompt (str) to reply",
        "{'Q: 2+2?': ' 4'}",
        lambda v: all(_reply(r) for r in v.values()),
    ),
    "regex_replies": _Rule(
        lambda v: (
            isinstance(v, Sequence) and all(isinstance(p, tuple | list) and len(p) == 2 for p in v)
        ),
        "a list of (pattern, reply) pairs",
        "[(r'2\\+2', ' 4')]",
        lambda v: all(_is_pattern(p) and _reply(r) for p, r in v),
    ),
    "default_reply": _Rule(_reply, _REPLY, "'ok'", optional=True),
    "scores": _Rule(
        lambda v: callable(v) or isinstance(v, Mapping),
        "a mapping of target to score, or a callable (prompt, target) -> float",
        "{' Paris': 0.0}",
    ),
    "latency": _Rule(
        _number, "a number of seconds >= 0", "0.1", _seconds(0, strict=False), optional=False
    ),
    "embedding_size": _Rule(_integer, _POSITIVE_INT, "8", lambda v: v >= 1, optional=False),
    "batch_size": _Rule(_integer, _POSITIVE_INT, "4", lambda v: v >= 1, optional=False),
    "max_concurrent_batches": _Rule(_integer, _POSITIVE_INT, "2", lambda v: v >= 1, optional=False),
    "implements": _Rule(
        lambda v: isinstance(v, Collection) and all(isinstance(n, str) for n in v),
        "a collection of builtin names",
        "['generate_text', 'chat']",
        lambda v: set(v) <= _FAKE_BUILTINS,
    ),
    "n_parallel": _Rule(_integer, _POSITIVE_INT, "4", lambda v: v >= 1, optional=False),
    "n_ctx_per_slot": _Rule(_integer, "an int >= 16", "2048", lambda v: v >= 16, optional=False),
    "n_threads": _Rule(_integer, _POSITIVE_INT, "1", lambda v: v >= 1),
    "port": _Rule(_integer, "a port, 0 to 65535 (0: a free one)", "0", lambda v: 0 <= v <= 65535),
    "embedding": _Rule(_flag, "True or False", "True", optional=False),
    "verbose": _Rule(_flag, "True or False", "False", optional=False),
}


def check_options(owner: str, **arguments: Any) -> None:
    """Check constructor arguments by name against the backends' table of rules.

    Names the table does not know are left to the constructor, so a constructor may
    pass all its parameters as they stand: ``check_options(type(self).__name__,
    **locals())`` as its first line.

    Args:
        owner: what is being built, for the message (``"OpenAIAPI"``).
        **arguments: the arguments as given.

    Raises:
        InvalidArgumentError: an argument of the wrong type (``model=None``) or out of
            range (``timeout=-1``, ``latency=nan``); a ``TypeError`` and a ``ValueError``
            too. The sampling settings are checked as the builtins check them
            (``onetwo.builtins.settings.check_setting``).
    """
    for name, value in arguments.items():
        if name in SETTING_NAMES:  # default sampling settings: as the builtins check them
            if value is not None:
                check_setting(owner, name, value)
            continue
        rule = _RULES.get(name)
        if rule is None or (value is None and rule.optional):
            continue
        if rule.kind(value) and rule.test(value):
            continue
        raise InvalidArgumentError(
            f"{owner}({name}={value!r:.80}): {name} must be {rule.must}. "
            f"Pass e.g. {name}={rule.example}."
        )


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
