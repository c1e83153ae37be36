"""The one retry layer of the real backends.

Every backend turns its SDK's exceptions into onetwo's (see ``onetwo.errors``) and sends
each request through :meth:`RetryPolicy.call`, with the SDK's own retries turned off, so
that retries happen in exactly one place, where the cache and the rate limiter see every
attempt:

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
"""

from __future__ import annotations

import email.utils
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import tenacity

from onetwo.backends._settings import check_options
from onetwo.core.clock import SYSTEM_CLOCK, Clock, wall_time
from onetwo.errors import BackendHTTPError, BackendTimeout, BackendUnavailable

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "is_retryable", "parse_retry_after"]

T = TypeVar("T")

logger = logging.getLogger("onetwo.backends")

RETRYABLE_STATUSES = frozenset({408, 429})
"""Statuses worth resending besides every 5xx: request timeout and rate limited."""


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
            return max(0.0, date.timestamp() - wall_time())
    except (TypeError, ValueError):
        return None


def _asked_wait(error: BaseException | None) -> float | None:
    return error.retry_after if isinstance(error, BackendHTTPError) else None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a backend retries a failed request.

    Args:
        attempts: total tries, the first one included (1 means no retry).
        initial_backoff: seconds before the first retry; doubles on each retry, with
            full jitter (a random wait between 0 and the bound).
        max_backoff: cap on the computed backoff.
        max_retry_after: cap on a server's ``retry-after``; a longer ask gives up at once
            rather than hang a notebook for minutes.
        clock: what waits between attempts (a recording or virtual clock in tests).

    Example:
        >>> from onetwo.backends import RetryPolicy
        >>> OpenAIAPI("gpt-4o-mini", retry=RetryPolicy(attempts=8))  # doctest: +SKIP
    """

    attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    max_retry_after: float = 60.0
    clock: Clock = field(default=SYSTEM_CLOCK, compare=False, repr=False)

    def __post_init__(self) -> None:
        check_options(
            "RetryPolicy",
            attempts=self.attempts,
            initial_backoff=self.initial_backoff,
            max_backoff=self.max_backoff,
            max_retry_after=self.max_retry_after,
            clock=self.clock,
        )

    def _wait(self, state: tenacity.RetryCallState) -> float:
        asked = _asked_wait(state.outcome.exception() if state.outcome else None)
        if asked is not None:
            return asked  # _should_retry gave up on asks beyond max_retry_after
        jitter = tenacity.wait_random_exponential(
            multiplier=self.initial_backoff, max=self.max_backoff
        )
        return float(jitter(state))

    def _should_retry(self, error: BaseException) -> bool:
        if not is_retryable(error):
            return False
        asked = _asked_wait(error)
        return asked is None or asked <= self.max_retry_after

    async def call(
        self,
        send: Callable[[], Awaitable[T]],
        *,
        what: str | Callable[[], str] = "request",
        failed: BaseException | None = None,
    ) -> T:
        """Await ``send()``, retrying it as the policy says; raise the last error.

        The first attempt is a plain ``await``: the retry machinery (tenacity) is
        entered only when it fails with an error worth retrying.

        Args:
            send: a zero-argument callable returning a fresh awaitable per attempt. It
                must raise onetwo's :class:`~onetwo.errors.BackendError` subclasses.
            what: a short description of the call for the log (never a credential), or
                a function making it when a retry is logged.
            failed: the error of a first attempt the caller already made; the retries
                continue from it (as when ``send()`` had raised it).
        """
        if failed is None:
            try:
                return await send()
            except Exception as e:
                failed = e
        if self.attempts == 1 or not self._should_retry(failed):
            raise failed

        first: BaseException | None = failed

        async def again() -> T:
            nonlocal first
            if first is not None:  # the first attempt, already made: tenacity counts it
                error, first = first, None
                raise error
            return await send()

        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception(self._should_retry),
            sleep=self.clock.sleep,
            reraise=True,
            before_sleep=lambda s: _log_retry(
                s, what if isinstance(what, str) else what(), self.attempts
            ),
        )
        return await retrying(again)


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
