"""What :class:`~onetwo.backends.openai_api.OpenAIAPI` sends and gets back: messages in,
texts and details out, SDK exceptions turned into onetwo's."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import openai

from onetwo.backends._common import details, http_error
from onetwo.backends._llamacpp import logprob_entries
from onetwo.backends._retry import parse_retry_after
from onetwo.core import tracing
from onetwo.core.content import ChunkList, Message
from onetwo.errors import BackendError, BackendTimeout, BackendUnavailable, NetworkBlocked

__all__ = ["drop_prefix", "map_error", "results", "to_messages"]

_ROLES = {"user": "user", "model": "assistant", "system": "system"}


def map_error(error: Exception, timeout: float) -> BaseException:
    """The onetwo error for an SDK exception; others are returned unchanged."""
    cause = error.__cause__ or error.__context__
    if isinstance(cause, NetworkBlocked):  # raised by the guard's hook inside the SDK
        return cause
    if isinstance(error, openai.APITimeoutError):
        return BackendTimeout(f"The server did not answer within {timeout:g}s.")
    if isinstance(error, openai.APIConnectionError):
        url = getattr(error.request, "url", "")
        detail = f"{type(cause).__name__}: {cause}" if cause else str(error)
        return BackendUnavailable(f"Could not reach the server at {url}: {detail}")
    if isinstance(error, openai.APIStatusError):
        return http_error(
            error.status_code,
            error.body,
            source=str(error.request.url),
            retry_after=parse_retry_after(dict(error.response.headers)),
        )
    if isinstance(error, openai.APIResponseValidationError | json.JSONDecodeError):
        return BackendError(f"The server's answer was not the expected JSON: {error}")
    return error


def to_messages(messages: Sequence[Message]) -> list[dict[str, Any]]:
    """onetwo messages as the chat endpoint's ``messages`` (MODEL is ``assistant``)."""
    if isinstance(messages, str | ChunkList):
        raise TypeError(
            f"chat needs a sequence of Message, got {messages!r:.80}; use llm.instruct(text) "
            "for a single user turn."
        )
    out = []
    for m in messages:
        if isinstance(m.content, bytes):
            raise TypeError("OpenAIAPI.chat supports text content only, got bytes.")
        out.append({"role": _ROLES.get(str(m.role), str(m.role)), "content": str(m.content)})
    return out


def drop_prefix(result: Any, prefix: str) -> Any:
    """Remove an echoed assistant prefix from a reply (or a ``(reply, details)`` pair)."""
    if isinstance(result, tuple):
        return (drop_prefix(result[0], prefix), result[1])
    return result[len(prefix) :] if result.startswith(prefix) else result


def results(
    response: Any, latency: float, include_details: bool, text_of: Callable[[Any], str | None]
) -> list[Any]:
    """The texts of the choices in order, or ``(text, details)`` pairs.

    With tracing on, the call's trace node is annotated with the response's usage.
    """
    choices = sorted(response.choices, key=lambda ch: ch.index)
    texts = [text_of(ch) or "" for ch in choices]
    traced = tracing.is_enabled()
    if not include_details and not traced:
        return texts
    usage = getattr(response, "usage", None)
    prompt_tokens = getattr(usage, "prompt_tokens", None)
    completion_tokens = getattr(usage, "completion_tokens", None)
    if traced:
        tracing.annotate(
            finish_reason=choices[0].finish_reason if choices else None,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            latency=latency,
        )
    if not include_details:
        return texts
    out = []
    for choice, text in zip(choices, texts):
        logprobs = _logprobs(choice.logprobs, text)
        own_tokens = completion_tokens
        if len(choices) > 1:
            # usage covers the whole request (OpenAI sums the samples, llama.cpp reports
            # one of them): a sample's own count is the tokens it returned.
            own_tokens = len(logprobs) if logprobs is not None else None
        info = details(
            finish_reason=choice.finish_reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=own_tokens,
            latency=latency,
            model=getattr(response, "model", None),
            logprobs=logprobs,
        )
        out.append((text, info))
    return out


def _logprobs(logprobs: Any, text: str) -> list[tuple[str, float]] | None:
    if logprobs is None:
        # llama.cpp sends none for an empty completion; otherwise the server has none.
        return None if text else []
    entries = logprob_entries(logprobs)
    return [(str(e.get("token", "")), float(e.get("logprob", 0.0))) for e in entries]
