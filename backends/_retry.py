"""The one retry layer of the real backends, their rate limiter, and per-loop state.

Every backend turns its SDK's exceptions into onetwo's (see ``onetwo.errors``) and sends
each request through :meth:`RetryPolicy.call`, with the SDK's own retries turned off, so
that retries happen in exactly one place:

* retried, with exponential backoff and full jitter, or after the server's
  ``retry-after`` when it gave one: timeouts (:class:`BackendTimeout`), connection
  errors (:class:`BackendUnavailable`), and HTTP 408, 429 and 5xx;
* raised at once: every other status (400, 401, 403, 404...), as
  :class:`BackendHTTPError` with ``.status`` and ``.body``.

The last error is raised as it is when the attempts run out (a 429 is
:class:`RateLimited`). Because the cache decorator sits outside this layer, a failed
call is never cached.

Example:
    >>> policy = RetryPolicy(attempts=3, initial_backoff=0.1)
    >>> result = await policy.call(lambda: send_request())  # doctest: +SKIP

``ot.run`` runs each call on a fresh event loop, so anything bound to a loop (SDK
clients, semaphores, the rate limiter's state) lives in a :class:`PerLoop` and is
created on first use in each loop.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import tenacity

from onetwo.core.clock import SYSTEM_CLOCK, Clock
from onetwo.errors import BackendError, BackendHTTPError, BackendTimeout, BackendUnavailable

__all__ = [
    "RETRYABLE_STATUSES",
    "PerLoop",
    "RateLimiter",
    "RetryPolicy",
    "is_retryable",
    "parse_retry_after",
]

T = TypeVar("T")

logger = logging.getLogger("onetwo.backends")

RETRYABLE_STATUSES = frozenset({408, 429})


def is_retryable(error: BaseException) -> bool:
    """Whether a failed request is worth sending again (timeouts, drops, 408/429/5xx)."""
    if isinstance(error, BackendHTTPError):
        return error.status in RETRYABLE_STATUSES or 500 <= error.status <= 599
    return isinstance(error, BackendTimeout | BackendUnavailable)


def parse_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait according to ``retry-after-ms`` / ``retry-after``, or ``None``.

    ``retry-after`` may be a number of seconds or an HTTP date.
    """
    if not headers:
        return None
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lowered:
            return max(0.0, float(lowered["retry-after-ms"]) / 1000)
        value = lowered.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            date = email.utils.parsedate_to_datetime(value)
            return max(0.0, date.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a failed request.

    Args:
        attempts: total tries, the first one included (1 means no retry).
        initial_backoff: seconds before the first retry; doubles on each retry, with
            full jitter (a random wait between 0 and the bound).
        max_backoff: cap on the computed backoff.
        max_retry_after: cap on a server's ``retry-after``; a longer ask gives up at once
            rather than hang a notebook for minutes.
        clock: what waits between attempts (a ``VirtualClock`` in tests).
    """

    attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 60.0
    clock: Clock = field(default=SYSTEM_CLOCK, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"RetryPolicy.attempts must be >= 1, got {self.attempts}.")

    def _wait(self, state: tenacity.RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            return min(float(asked), self.max_retry_after)
        jitter = tenacity.wait_random_exponential(
            multiplier=self.initial_backoff, max=self.max_backoff
        )
        return float(jitter(state))

    def _should_retry(self, error: BaseException) -> bool:
        if not is_retryable(error):
            return False
        asked = getattr(error, "retry_after", None)
        return asked is None or asked <= self.max_retry_after

    async def call(self, send: Callable[[], Awaitable[T]], *, what: str = "request") -> T:
        """Await ``send()``, retrying it as the policy says; raise the last error.

        Args:
            send: a zero-argument callable returning a fresh awaitable per attempt. It
                must raise onetwo's :class:`BackendError` subclasses.
            what: a short description of the call for the log (never a credential).
        """
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self._should_retry),
            sleep=self.clock.sleep,
            reraise=True,
            before_sleep=lambda s: _log_retry(s, what, self.attempts),
        )
        return await retrying(send)


def _log_retry(state: tenacity.RetryCallState, what: str, attempts: int) -> None:
    error = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.info(
        "%s failed (attempt %d of %d): %s: %s; retrying in %.2fs",
        what,
        state.attempt_number,
        attempts,
        type(error).__name__,
        error,
        wait,
    )


class PerLoop(Generic[T]):
    """A value created lazily once per running event loop (SDK clients, semaphores).

    When the loop shuts down (``asyncio.run`` finalizes async generators before closing
    it, and so does every ``ot.run``), the value is dropped and ``close(value)`` awaited:
    an HTTP client never outlives its loop and never leaks a socket.

    Example:
        >>> clients = PerLoop(make_client, close=lambda c: c.aclose())
        >>> client = clients.get()   # inside a coroutine  # doctest: +SKIP
    """

    def __init__(
        self,
        factory: Callable[[], T],
        *,
        close: Callable[[T], Awaitable[object]] | None = None,
    ) -> None:
        self._factory = factory
        self._close = close
        self._values: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        # The loop holds its async generators weakly: keep each finalizer alive here.
        self._finalizers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, AsyncIterator[None]
        ] = weakref.WeakKeyDictionary()

    def get(self) -> T:
        """The value for the running loop; created on the first call in that loop."""
        loop = asyncio.get_running_loop()
        value = self._values.get(loop)
        if value is None:
            value = self._values[loop] = self._factory()
            finalizer = self._finalizers[loop] = self._finalizer(loop, value)
            _start(finalizer)
        return value

    async def _finalizer(self, loop: asyncio.AbstractEventLoop, value: T) -> AsyncIterator[None]:
        try:
            yield
        finally:
            self._values.pop(loop, None)
            self._finalizers.pop(loop, None)
            if self._close is not None:
                await self._close(value)

    def values(self) -> list[T]:
        """The values of the loops that are still running."""
        return list(self._values.values())


def _start(agen: AsyncIterator[None]) -> None:
    """Run an async generator to its first ``yield`` without awaiting.

    Its first step registers it with the running loop (``sys.set_asyncgen_hooks``), which
    finalizes it at shutdown.
    """
    try:
        agen.__anext__().send(None)  # type: ignore[attr-defined]
    except StopIteration:
        pass
    else:  # pragma: no cover - the generator only yields
        raise RuntimeError("the finalizer did not stop at its yield")


class _LimiterState:
    def __init__(self, max_concurrency: int | None) -> None:
        self.semaphore = asyncio.Semaphore(max_concurrency) if max_concurrency else None
        self.next_start = 0.0
        self.in_flight = 0
        self.waiting = 0
        self.started = 0


class RateLimiter:
    """Caps requests per second and requests in flight, separately in each event loop.

    Each ``ot.run`` has its own loop, so each run gets its own budget; two backends that
    share one limiter share its budget.

    Args:
        requests_per_second: at most this many request starts per second, evenly spaced
            (``None``: no limit).
        max_concurrency: at most this many requests in flight (``None``: no limit).
        clock: what spaces the requests (a ``VirtualClock`` in tests).

    Example:
        >>> limiter = RateLimiter(requests_per_second=5, max_concurrency=2)
        >>> async with limiter.slot():   # doctest: +SKIP
        ...     await send_request()
    """

    def __init__(
        self,
        requests_per_second: float | None = None,
        max_concurrency: int | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        if requests_per_second is not None and requests_per_second <= 0:
            raise ValueError(f"requests_per_second must be > 0, got {requests_per_second}.")
        if max_concurrency is not None and max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}.")
        self.requests_per_second = requests_per_second
        self.max_concurrency = max_concurrency
        self.clock = clock
        self._states: PerLoop[_LimiterState] = PerLoop(lambda: _LimiterState(max_concurrency))

    @property
    def unlimited(self) -> bool:
        return self.requests_per_second is None and self.max_concurrency is None

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for the limits to allow one more request, and hold a slot while inside."""
        if self.unlimited:
            yield
            return
        state = self._states.get()
        state.waiting += 1
        try:
            if state.semaphore is not None:
                await state.semaphore.acquire()
            try:
                if self.requests_per_second is not None:
                    now = self.clock.now()
                    start = max(now, state.next_start)
                    state.next_start = start + 1.0 / self.requests_per_second
                    if start > now:
                        await self.clock.sleep(start - now)
            except BaseException:
                if state.semaphore is not None:
                    state.semaphore.release()
                raise
        finally:
            state.waiting -= 1
        state.in_flight += 1
        state.started += 1
        try:
            yield
        finally:
            state.in_flight -= 1
            if state.semaphore is not None:
                state.semaphore.release()

    def stats(self) -> dict[str, int]:
        """Requests started, in flight and waiting, summed over live event loops."""
        states = self._states.values()
        return {
            "started": sum(s.started for s in states),
            "in_flight": sum(s.in_flight for s in states),
            "waiting": sum(s.waiting for s in states),
        }

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"RateLimiter(requests_per_second={self.requests_per_second}, "
            f"max_concurrency={self.max_concurrency}, in_flight={s['in_flight']}, "
            f"waiting={s['waiting']})"
        )


def describe_body(body: Any, limit: int = 300) -> str:
    """A short, printable rendering of an error body for messages."""
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and "message" in error:
            return str(error["message"])[:limit]
    text = str(body)
    return text if len(text) <= limit else text[:limit] + "…"


def ensure_backend_error(error: BaseException) -> BackendError:
    """Wrap anything unexpected raised while talking to a server into a BackendError."""
    if isinstance(error, BackendError):
        return error
    return BackendError(f"{type(error).__name__}: {error}")
