"""Retries, error types and the cache under injected faults, in front of the real servers.

A FaultProxy (tests/rig/faults.py) sits between the backend and the llama.cpp server (or
the Gemini shim) and spoils the next requests as scripted: 429 with retry-after, 500,
malformed JSON, a slow answer, a dropped connection. Every request it receives is counted.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends._retry import RetryPolicy
from onetwo.builtins import llm
from onetwo.errors import (
    BackendError,
    BackendHTTPError,
    BackendTimeout,
    BackendUnavailable,
    RateLimited,
)
from tests.rig.faults import Fault, FaultProxy

pytestmark = pytest.mark.rig

RETRY = RetryPolicy(attempts=3, initial_backoff=0.01, max_backoff=0.05)


def openai_backend(proxy: FaultProxy, **kwargs: Any) -> Any:
    from onetwo.backends.openai_api import OpenAIAPI

    kwargs.setdefault("retry", RETRY)
    backend = OpenAIAPI(
        "smollm2",
        base_url=proxy.url + "/v1",
        server_kind="llama.cpp",
        max_tokens=4,
        temperature=0.0,
        **kwargs,
    )
    backend.register()
    return backend


def gemini_backend(proxy: FaultProxy, **kwargs: Any) -> Any:
    genai_api = pytest.importorskip("onetwo.backends.google_genai_api")
    kwargs.setdefault("retry", RETRY)
    backend = genai_api.GoogleGenAIAPI(
        "gemini-2.5-flash",
        api_key="k",
        base_url=proxy.url,
        max_tokens=4,
        temperature=0.0,
        **kwargs,
    )
    backend.register()
    return backend


@pytest.fixture(params=["openai", "gemini"])
def rig(request: pytest.FixtureRequest) -> tuple[FaultProxy, Any]:
    """(proxy, make_backend) for each backend, behind its own proxy."""
    if request.param == "openai":
        proxy = request.getfixturevalue("fault_proxy")
        return proxy, lambda **kw: openai_backend(proxy, **kw)
    proxy = request.getfixturevalue("gemini_fault_proxy")
    return proxy, lambda **kw: gemini_backend(proxy, **kw)


GENERATE = llm.generate_text("The capital of France is")


def test_429_with_retry_after_is_waited_out_then_succeeds(rig: tuple[FaultProxy, Any]) -> None:
    proxy, make = rig
    make()
    proxy.inject(Fault.status(429, retry_after=0.3))
    began = time.monotonic()
    assert ot.run(GENERATE)
    assert time.monotonic() - began >= 0.3
    assert len(proxy.paths) == 2


def test_5xx_is_retried_with_backoff(rig: tuple[FaultProxy, Any]) -> None:
    proxy, make = rig
    make()
    proxy.inject(Fault.status(500), Fault.status(503))
    assert ot.run(GENERATE)
    assert len(proxy.paths) == 3


def test_persistent_429_raises_rate_limited_after_the_last_attempt(
    rig: tuple[FaultProxy, Any],
) -> None:
    proxy, make = rig
    make()
    proxy.inject(*[Fault.status(429, retry_after=0.01)] * 3)
    with pytest.raises(RateLimited) as info:
        ot.run(GENERATE)
    assert info.value.status == 429 and info.value.retry_after == pytest.approx(0.01)
    assert len(proxy.paths) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_not_retried(rig: tuple[FaultProxy, Any], status: int) -> None:
    proxy, make = rig
    make()
    proxy.inject(Fault.status(status))
    with pytest.raises(BackendHTTPError) as info:
        ot.run(GENERATE)
    assert info.value.status == status
    assert "injected" in str(info.value)
    assert len(proxy.paths) == 1


def test_malformed_json_is_a_backend_error_not_retried(rig: tuple[FaultProxy, Any]) -> None:
    proxy, make = rig
    make()
    proxy.inject(Fault.malformed())
    with pytest.raises(BackendError) as info:
        ot.run(GENERATE)
    assert not isinstance(info.value, BackendHTTPError)
    assert len(proxy.paths) == 1


def test_a_slow_answer_times_out_and_the_retry_succeeds(rig: tuple[FaultProxy, Any]) -> None:
    proxy, make = rig
    make(timeout=0.5)
    proxy.inject(Fault.slow(1.5))
    assert ot.run(GENERATE)
    assert len(proxy.paths) == 2
    proxy.inject(Fault.slow(1.5))
    make(timeout=0.5, retry=RetryPolicy(attempts=1))
    with pytest.raises(BackendTimeout):
        ot.run(GENERATE)


def test_a_dropped_connection_is_retried(rig: tuple[FaultProxy, Any]) -> None:
    proxy, make = rig
    make()
    proxy.inject(Fault.drop())
    assert ot.run(GENERATE)
    assert len(proxy.paths) == 2
    proxy.inject(Fault.drop())
    make(retry=RetryPolicy(attempts=1))
    with pytest.raises(BackendUnavailable):
        ot.run(GENERATE)


def test_a_closed_port_is_backend_unavailable(rig: tuple[FaultProxy, Any]) -> None:
    proxy, make = rig
    make(retry=RetryPolicy(attempts=1))
    proxy.stop()
    with pytest.raises(BackendUnavailable):
        ot.run(GENERATE)


def test_nothing_from_a_failed_call_is_cached(rig: tuple[FaultProxy, Any], tmp_path: Path) -> None:
    proxy, make = rig
    make(cache=tmp_path / "cache")
    proxy.inject(*[Fault.status(500)] * 3)
    with pytest.raises(BackendHTTPError):
        ot.run(GENERATE)
    assert len(proxy.paths) == 3
    first = ot.run(GENERATE)  # the failure was not cached: the model is called
    assert len(proxy.paths) == 4
    assert ot.run(GENERATE) == first  # the success was: no request
    assert len(proxy.paths) == 4
    # A fresh backend on the same folder replays the success.
    make(cache=tmp_path / "cache")
    assert ot.run(GENERATE) == first
    assert len(proxy.paths) == 4
