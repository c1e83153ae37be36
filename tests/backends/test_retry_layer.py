"""The retry layer and the rate limiter, on scripted failures and a recording clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from onetwo.backends import RateLimiter, RetryPolicy
from onetwo.backends._retry import parse_retry_after
from onetwo.errors import (
    BackendError,
    BackendHTTPError,
    BackendTimeout,
    BackendUnavailable,
    RateLimited,
)
from tests.rig.clock import RecordingClock


def scripted(*outcomes: BaseException | str) -> tuple[Callable[[], object], list[int]]:
    calls: list[int] = []

    async def send() -> str:
        calls.append(1)
        outcome = outcomes[min(len(calls), len(outcomes)) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return send, calls


def http(status: int, retry_after: float | None = None) -> BackendHTTPError:
    if status == 429:
        return RateLimited("slow down", retry_after=retry_after)
    return BackendHTTPError(f"HTTP {status}", status=status, retry_after=retry_after)


@pytest.mark.parametrize(
    "error",
    [http(408), http(429), http(500), http(503), BackendTimeout("t"), BackendUnavailable("u")],
    ids=["408", "429", "500", "503", "timeout", "connection"],
)
async def test_transient_failures_are_retried(error: BaseException) -> None:
    clock = RecordingClock()
    send, calls = scripted(error, error, "ok")
    assert await RetryPolicy(attempts=5, clock=clock).call(send) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 3
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_raise_at_once_with_status(status: int) -> None:
    clock = RecordingClock()
    send, calls = scripted(http(status), "ok")
    with pytest.raises(BackendHTTPError) as info:
        await RetryPolicy(clock=clock).call(send)  # type: ignore[arg-type]
    assert info.value.status == status
    assert len(calls) == 1 and clock.sleeps == []


async def test_unexpected_errors_are_not_retried() -> None:
    send, calls = scripted(KeyError("bug"), "ok")
    with pytest.raises(KeyError):
        await RetryPolicy(clock=RecordingClock()).call(send)  # type: ignore[arg-type]
    assert len(calls) == 1


async def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    clock = RecordingClock()
    send, calls = scripted(http(500))
    policy = RetryPolicy(attempts=6, initial_backoff=1.0, max_backoff=5.0, clock=clock)
    with pytest.raises(BackendHTTPError):
        await policy.call(send)  # type: ignore[arg-type]
    assert len(calls) == 6
    bounds = [1, 2, 4, 5, 5]
    assert all(0 <= s <= b for s, b in zip(clock.sleeps, bounds, strict=True))


async def test_retry_after_is_honoured_and_the_last_429_is_raised() -> None:
    clock = RecordingClock()
    send, _ = scripted(http(429, retry_after=2.5))
    with pytest.raises(RateLimited) as info:
        await RetryPolicy(attempts=3, clock=clock).call(send)  # type: ignore[arg-type]
    assert clock.sleeps == [2.5, 2.5]
    assert info.value.retry_after == 2.5 and info.value.status == 429


async def test_a_retry_after_beyond_the_cap_gives_up_at_once() -> None:
    clock = RecordingClock()
    send, calls = scripted(http(503, retry_after=3600), "ok")
    with pytest.raises(BackendHTTPError):
        await RetryPolicy(max_retry_after=60, clock=clock).call(send)  # type: ignore[arg-type]
    assert len(calls) == 1


async def test_retries_continue_from_a_first_attempt_the_caller_made(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = RecordingClock()
    send, calls = scripted(http(500), "ok")
    policy = RetryPolicy(attempts=3, initial_backoff=1.0, clock=clock)
    caplog.set_level("INFO", logger="onetwo.backends")
    assert await policy.call(send, what=lambda: "the call", failed=http(503)) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 2 and len(clock.sleeps) == 2  # attempts 2 and 3 of 3
    assert "the call failed (attempt 1 of 3): BackendHTTPError" in caplog.text
    send, calls = scripted("never sent")
    with pytest.raises(BackendHTTPError, match="HTTP 400"):
        await policy.call(send, failed=http(400))  # type: ignore[arg-type]
    assert calls == []  # a client error is not retried, whoever made the attempt


def test_parse_retry_after_reads_seconds_milliseconds_and_dates() -> None:
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None


def test_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


async def test_rate_limiter_caps_requests_in_flight() -> None:
    limiter = RateLimiter(max_concurrency=2)
    peak = 0

    async def request() -> None:
        nonlocal peak
        async with limiter.slot():
            peak = max(peak, limiter.stats()["in_flight"])
            await asyncio.sleep(0.01)

    await asyncio.gather(*(request() for _ in range(6)))
    assert peak == 2
    assert limiter.stats() == {"started": 6, "in_flight": 0, "waiting": 0}


async def test_rate_limiter_spaces_request_starts() -> None:
    clock = RecordingClock()
    limiter = RateLimiter(requests_per_second=4, clock=clock)
    starts: list[float] = []

    async def request() -> None:
        async with limiter.slot():
            starts.append(clock.now())

    for _ in range(3):
        await request()
    assert starts == [0.0, 0.25, 0.5]
    assert "requests_per_second=4" in repr(limiter)


def test_errors_raised_are_onetwo_errors() -> None:
    assert issubclass(RateLimited, BackendError)
    assert issubclass(BackendTimeout, BackendError)
