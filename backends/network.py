"""The network guard: one global switch that keeps backends on the loopback interface.

Every real backend calls :func:`check_url` with the address it is about to contact,
before each request. With the guard on, anything but a loopback address (``127.0.0.0/8``,
``::1``, ``localhost``) raises :class:`~onetwo.errors.NetworkBlocked` instead of leaving
the machine. The test suite turns it on for the whole session, so a test can never reach
a paid API by accident; it is also on when the environment variable
``ONETWO_LOOPBACK_ONLY=1`` is set (for subprocesses and CI scripts).

Example:
    >>> from onetwo.backends import network
    >>> network.set_loopback_only(True)
    >>> network.check_url("http://127.0.0.1:8080/v1")   # fine
    >>> network.check_url("https://api.openai.com/v1")  # raises NetworkBlocked
    Traceback (most recent call last):
    ...
    onetwo.errors.NetworkBlocked: ...

Use :func:`loopback_only` as a context manager to turn it on for a block only.

A backend checks its base URL before it makes a client, and makes the client's httpx
client with :func:`httpx_args`: :func:`guard_request` as its request hook, so every
request (redirects and absolute URLs included) is checked before a connection is opened.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from onetwo.errors import NetworkBlocked

__all__ = [
    "check_url",
    "guard_request",
    "httpx_args",
    "is_loopback_only",
    "is_loopback_url",
    "loopback_only",
    "set_loopback_only",
]

_ENV = "ONETWO_LOOPBACK_ONLY"
_loopback_only: bool | None = None  # None: follow the environment variable


def set_loopback_only(enabled: bool | None) -> None:
    """Turn the guard on (``True``) or off (``False``); ``None`` follows the environment."""
    global _loopback_only
    _loopback_only = enabled


def is_loopback_only() -> bool:
    """Whether backends may only contact loopback addresses right now."""
    if _loopback_only is not None:
        return _loopback_only
    return os.environ.get(_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@contextmanager
def loopback_only(enabled: bool = True) -> Iterator[None]:
    """Set the guard for the duration of a ``with`` block, then restore it."""
    global _loopback_only
    previous = _loopback_only
    _loopback_only = enabled
    try:
        yield
    finally:
        _loopback_only = previous


@functools.lru_cache(maxsize=256)
def _is_loopback_host(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: only "localhost" is known to stay on this machine
        return False


def is_loopback_url(url: str) -> bool:
    """Whether ``url`` points at this machine (then HTTP proxies must not be used)."""
    return _is_loopback_host(urlsplit(str(url)).hostname or "")


def check_url(url: str) -> None:
    """Raise :class:`~onetwo.errors.NetworkBlocked` if the guard forbids contacting ``url``.

    Args:
        url: the full URL (or base URL) a backend is about to send a request to.
    """
    if is_loopback_only():
        _check_host(urlsplit(str(url)).hostname or "", url)


def _check_host(host: str, url: object) -> None:
    if not _is_loopback_host(host):
        raise NetworkBlocked(
            f"The network guard blocked a request to {host or str(url)!r}: only loopback "
            "addresses (127.0.0.1, ::1, localhost) are allowed while it is on (as in the "
            "test suite). Point the backend at a local server (base_url='http://127.0.0.1:"
            "PORT/v1') or turn the guard off with "
            "onetwo.backends.network.set_loopback_only(False)."
        )


async def guard_request(request: Any) -> None:
    """An ``httpx`` request event hook: :func:`check_url` on every request sent."""
    if is_loopback_only():
        _check_host(request.url.host, request.url)


def httpx_args(url: str) -> dict[str, Any]:
    """What a backend's httpx client is made with to talk to ``url``: the guard as its
    request hook, and no environment proxies for a server on this machine."""
    return {"event_hooks": {"request": [guard_request]}, "trust_env": not is_loopback_url(url)}
