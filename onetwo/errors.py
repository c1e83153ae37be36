"""The one exception tree of onetwo.

Every error onetwo raises on purpose derives from :class:`OneTwoError`, so a notebook
can catch them all with one ``except``. Plain argument misuse (a wrong type, an
out-of-range number) raises the built-in ``TypeError``/``ValueError`` instead.

```
OneTwoError
├── ConfigurationError      a builtin has no implementation, a backend is misconfigured
│   └── NetworkBlocked      the network guard refused a non-loopback address
├── BackendError            a model call failed
│   ├── BackendHTTPError    the server answered with an error status (.status, .body)
│   │   └── RateLimited     429, after retries were exhausted (.retry_after)
│   ├── BackendTimeout      no answer in time
│   ├── BackendUnavailable  could not connect, or the connection dropped
│   └── OutputParseError    the reply could not be parsed into the requested type
├── CacheError              the call cache cannot be used as asked
│   └── CacheMiss           replay mode found no entry for a call (.call)
├── InvalidArgumentError    a bad argument (also a TypeError and a ValueError)
└── TemplateError           a composable template failed (.template_name, .line)
    └── FormatError         c.f could not fill in its text (also a ValueError)
```

Example:
    >>> from onetwo.errors import OneTwoError
    >>> try:
    ...     raise ConfigurationError("llm.generate_text is not configured.")
    ... except OneTwoError as e:
    ...     print(type(e).__name__)
    ConfigurationError
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BackendError",
    "BackendHTTPError",
    "BackendTimeout",
    "BackendUnavailable",
    "CacheError",
    "CacheMiss",
    "ConfigurationError",
    "FormatError",
    "InvalidArgumentError",
    "NetworkBlocked",
    "OneTwoError",
    "OutputParseError",
    "RateLimited",
    "TemplateError",
]


class OneTwoError(Exception):
    """Root of every error onetwo raises on purpose.

    Errors pickle with their attributes (they cross process boundaries), even those whose
    constructor takes keyword-only arguments.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[OneTwoError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigurationError(OneTwoError):
    """Something is not set up: a builtin without implementation, a bad backend option."""


class NetworkBlocked(ConfigurationError):
    """The network guard refused to let a backend contact a non-loopback address."""


class BackendError(OneTwoError):
    """A call to a model backend failed."""


class BackendHTTPError(BackendError):
    """The backend answered with an HTTP error status.

    Attributes:
        status: the HTTP status code.
        body: the (decoded) response body, for diagnosis.
        retry_after: seconds the server asked us to wait (``retry-after``), if it said;
            a 503 may say so too, not only a 429.
    """

    def __init__(
        self, message: str, *, status: int, body: Any = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.retry_after = retry_after


class RateLimited(BackendHTTPError):
    """The backend kept answering 429 after every retry (``.retry_after`` if it said)."""

    def __init__(
        self, message: str, *, status: int = 429, body: Any = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status, body=body, retry_after=retry_after)


class BackendTimeout(BackendError):
    """The backend did not answer within the timeout."""


class BackendUnavailable(BackendError):
    """The backend could not be reached, or dropped the connection."""


class OutputParseError(BackendError):
    """The model's reply could not be parsed into the requested type.

    Attributes:
        text: the reply that failed to parse.
    """

    def __init__(self, message: str, *, text: str = "") -> None:
        super().__init__(message)
        self.text = text


class CacheError(OneTwoError):
    """The call cache cannot do what was asked (bad folder, unsupported value type...)."""


class CacheMiss(CacheError):
    """In ``replay`` mode, a call had no cached result.

    Attributes:
        call: a short description of the call that missed.
    """

    def __init__(self, message: str, *, call: str = "") -> None:
        super().__init__(message)
        self.call = call


class TemplateError(OneTwoError):
    """A composable template could not be parsed or rendered.

    Attributes:
        template_name: the template's name (or ``"<template>"``).
        line: the 1-based line number in the template, if known.
    """

    def __init__(self, message: str, *, template_name: str = "<template>", line: int | None = None):
        super().__init__(message)
        self.template_name = template_name
        self.line = line


class InvalidArgumentError(OneTwoError, TypeError, ValueError):
    """A call, chunk or message got an argument of the wrong type or value.

    It is a ``TypeError`` and a ``ValueError`` too: ``except ValueError`` (what OneTwo
    raised) and ``except TypeError`` both catch it. The message names the parameter, the
    value received and what to pass instead.
    """


class FormatError(TemplateError, ValueError):
    """``c.f`` could not fill in its text (a missing variable, a field it does not allow)."""
