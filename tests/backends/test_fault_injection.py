"""Retries, error types, rate limits and the cache under injected faults, on real servers.

A FaultProxy (tests/rig/faults.py) sits between the backend and the llama.cpp server (or
the Gemini shim) and spoils the next requests as scripted: 429 with retry-after, 500,
malformed JSON, JSON of the wrong shape, an HTML page, a slow, trickled or stalled answer,
a dropped or reset connection, a redirect. Every request it receives is counted. Waits
(retry-after, backoff, rate limits) go through a RecordingClock, so they are checked
exactly and nothing sleeps.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends import RateLimiter, RetryPolicy
from onetwo.builtins import llm
from onetwo.core.content import Message, PredefinedRole
from onetwo.errors import (
    BackendError,
    BackendHTTPError,
    BackendTimeout,
    BackendUnavailable,
    NetworkBlocked,
    RateLimited,
)
from tests.rig.clock import RecordingClock
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


def test_retry_after_is_waited_out_then_the_call_succeeds(rig: tuple[FaultProxy, Any]) -> None:
    proxy, make = rig
    clock = RecordingClock()
    make(retry=RetryPolicy(attempts=3, initial_backoff=0.01, clock=clock))
    proxy.inject(Fault.status(429, retry_after=7), Fault.status(503, retry_after=0.5))
    assert ot.run(GENERATE)
    assert clock.sleeps == [7.0, 0.5]  # the server's waits, not the 0.01 s backoff
    assert len(proxy.paths) == 3


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
    proxy.inject(Fault.status(status, retry_after=0.01))
    with pytest.raises(BackendHTTPError) as info:
        ot.run(GENERATE)
    assert len(proxy.paths) == 1  # not even a retry-after makes a 4xx worth resending
    error = info.value
    assert type(error) is BackendHTTPError and error.status == status
    assert f"injected HTTP {status}" in str(error)
    assert f"injected HTTP {status}" in json.dumps(error.body)  # the server's own body


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
    proxy.inject(*[Fault.status(500)] * 3, Fault.status(400), Fault.malformed())
    for _ in range(3):  # retries exhausted; a client error; a malformed answer
        with pytest.raises(BackendError):
            ot.run(GENERATE)
    assert len(proxy.paths) == 5
    first = ot.run(GENERATE)  # no failure was cached: the model is called
    assert len(proxy.paths) == 6
    assert ot.run(GENERATE) == first  # the success was: no request
    assert len(proxy.paths) == 6
    # A fresh backend on the same folder replays the success.
    make(cache=tmp_path / "cache")
    assert ot.run(GENERATE) == first
    assert len(proxy.paths) == 6


def test_cache_hits_skip_the_retry_layer_and_the_server(
    rig: tuple[FaultProxy, Any], tmp_path: Path
) -> None:
    proxy, make = rig
    make(cache=tmp_path / "cache")
    first = ot.run(GENERATE)
    assert len(proxy.paths) == 1
    # The server now fails every request; a hit must neither retry nor reach it.
    proxy.inject(*[Fault.status(503, retry_after=30)] * 5)
    assert ot.run(GENERATE) == first
    assert len(proxy.paths) == 1


def test_requests_per_second_spaces_requests_across_runs(rig: tuple[FaultProxy, Any]) -> None:
    proxy, make = rig
    clock = RecordingClock(advances=False)  # concurrent waits add up the same in any order
    backend = make(rate_limiter=RateLimiter(requests_per_second=4, clock=clock))
    calls = [llm.generate_text(f"Count to {i}:") for i in range(3)]
    for _ in range(2):
        assert len(ot.run(ot.parallel(*calls))) == 3
    # One budget for the process: starts 0.25 s apart, the second run's after the first's.
    assert sorted(clock.sleeps) == [0.25, 0.5, 0.75, 1.0, 1.25]
    assert len(proxy.paths) == 6
    assert backend.rate_limiter.stats() == {"started": 6, "in_flight": 0, "waiting": 0}


def test_a_redirect_off_the_machine_is_blocked(rig: tuple[FaultProxy, Any]) -> None:
    proxy, make = rig
    make(retry=RetryPolicy(attempts=1))
    proxy.inject(Fault.redirect("http://10.255.0.1:9/v1/completions"))
    with pytest.raises(NetworkBlocked, match=r"10\.255\.0\.1"):  # both SDKs follow redirects
        ot.run(GENERATE)
    assert len(proxy.paths) == 1


# --- answers spoiled in time or in shape: each ends in a retry or a BackendError within
# the attempt's timeout (a trickling server once kept a timeout=1.0 attempt alive 9 s).

TIMEOUT = 1.0
WITHIN = TIMEOUT + 1.0  # the deadline, plus a second for the machinery on a busy machine


def timed_failure(error: type[BaseException]) -> tuple[BaseException, float]:
    began = time.monotonic()
    with pytest.raises(error) as info:
        ot.run(GENERATE)
    return info.value, time.monotonic() - began


@pytest.mark.parametrize(
    "fault",
    [Fault.trickle(0.1, chunk=4), Fault.stall(30)],
    ids=["trickle", "stall"],
)
def test_a_slow_answer_is_bounded_by_the_attempt_timeout_then_retried(
    rig: tuple[FaultProxy, Any], fault: Fault
) -> None:
    proxy, make = rig
    make(timeout=TIMEOUT, retry=RetryPolicy(attempts=1))
    proxy.inject(fault)
    error, elapsed = timed_failure(BackendTimeout)
    assert elapsed < WITHIN, f"{fault.kind}: the attempt lasted {elapsed:.1f}s"
    assert "timeout=1s" in str(error) and "whole attempt" in str(error)
    make(timeout=TIMEOUT)  # with retries, the next attempt gets the real answer
    proxy.inject(fault)
    began = time.monotonic()
    assert ot.run(GENERATE)
    assert time.monotonic() - began < WITHIN + TIMEOUT
    assert len(proxy.paths) == 3


def test_a_reset_connection_is_retried_then_backend_unavailable(
    rig: tuple[FaultProxy, Any],
) -> None:
    proxy, make = rig
    make(timeout=TIMEOUT)
    proxy.inject(Fault.reset())
    assert ot.run(GENERATE)
    assert len(proxy.paths) == 2
    make(timeout=TIMEOUT, retry=RetryPolicy(attempts=1))
    proxy.inject(Fault.reset())
    _, elapsed = timed_failure(BackendUnavailable)
    assert elapsed < WITHIN


@pytest.mark.parametrize(
    "fault",
    [
        Fault.wrong_shape(),
        Fault.wrong_shape({"choices": [], "candidates": []}),
        Fault.wrong_shape({"choices": [{"unexpected": 1}], "candidates": [{"unexpected": 1}]}),
        Fault.wrong_shape([1, 2]),
        Fault.html(),
    ],
    ids=["object", "empty", "wrong-items", "list", "html"],
)
def test_an_answer_of_the_wrong_shape_is_a_backend_error_not_retried(
    rig: tuple[FaultProxy, Any], fault: Fault
) -> None:
    proxy, make = rig
    make(timeout=TIMEOUT)
    proxy.inject(fault)
    error, elapsed = timed_failure(BackendError)
    assert type(error) is BackendError, repr(error)  # not a TypeError, AttributeError...
    assert "JSON" in str(error) or "answered with" in str(error)
    assert elapsed < WITHIN
    assert len(proxy.paths) == 1  # the same server would answer the same: no retry
    assert ot.run(GENERATE)  # and the backend is fine for the next call


@pytest.mark.parametrize(
    "call",
    [
        llm.chat([Message(PredefinedRole.USER, "Hi")]),
        llm.embed("Hi"),
        llm.generate_object("A number:", int),
    ],
    ids=["chat", "embed", "generate_object"],
)
@pytest.mark.parametrize("fault", [Fault.wrong_shape(), Fault.html()], ids=["object", "html"])
def test_every_request_kind_refuses_a_wrong_answer(
    rig: tuple[FaultProxy, Any], call: Any, fault: Fault
) -> None:
    proxy, make = rig
    make(timeout=TIMEOUT)
    proxy.inject(fault)
    with pytest.raises(BackendError) as info:
        ot.run(call)
    assert type(info.value) is BackendError, repr(info.value)
    assert len(proxy.paths) == 1
