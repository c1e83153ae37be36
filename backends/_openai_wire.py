"""What :class:`~onetwo.backends.openai_api.OpenAIAPI` sends and gets back: messages
(with images and tool calls) in, texts, details, log-probs and tool calls out, SDK
exceptions turned into onetwo's."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import openai

from onetwo.backends._common import details, http_error, usage
from onetwo.backends._retry import parse_retry_after
from onetwo.core import tracing
from onetwo.core.content import Chunk, ChunkList, Message
from onetwo.errors import BackendError, BackendTimeout, BackendUnavailable, NetworkBlocked

__all__ = [
    "content_parts",
    "drop_prefix",
    "echoed_logprobs",
    "logprob_entries",
    "map_error",
    "results",
    "to_messages",
    "tool_calls",
    "tool_messages",
]

_ROLES = {"user": "user", "model": "assistant", "system": "system", "tool": "tool"}


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


def to_messages(turns: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """``(role, text)`` turns as the chat endpoint's ``messages`` (MODEL is ``assistant``)."""
    return [{"role": _ROLES.get(role, role), "content": text} for role, text in turns]


def content_parts(content: str | bytes | ChunkList | Chunk) -> str | list[dict[str, Any]]:
    """A message's content: its text, or content parts where it holds images (each sent
    as a ``data:`` URL)."""
    chunks = ChunkList([content]).chunks
    if all(isinstance(c.content, str) for c in chunks):
        return "".join(str(c) for c in chunks)
    parts: list[dict[str, Any]] = []
    for chunk in chunks:
        if isinstance(chunk.content, str):
            parts.append({"type": "text", "text": chunk.content})
            continue
        data, mime = chunk.as_bytes()
        url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        parts.append({"type": "image_url", "image_url": {"url": url}})
    return parts


def tool_messages(messages: Sequence[Any]) -> list[dict[str, Any]]:
    """``llm.chat_with_tools`` messages on the wire: a :class:`Message` as a role and its
    content (a TOOL message with its ``tool_call_id``); an earlier reply (the builtin's
    dict) as the assistant turn with its ``tool_calls``."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if isinstance(m, Mapping):
            entry: dict[str, Any] = {"role": "assistant", "content": m.get("text") or None}
            calls = [
                {
                    "id": c["id"],
                    "type": "function",
                    "function": {"name": c["name"], "arguments": json.dumps(c["arguments"])},
                }
                for c in m.get("tool_calls") or ()
            ]
            if calls:
                entry["tool_calls"] = calls
        elif isinstance(m, Message):
            role = str(m.role)
            entry = {"role": _ROLES.get(role, role), "content": content_parts(m.content)}
            if m.tool_call_id is not None:
                entry["tool_call_id"] = m.tool_call_id
        else:
            raise TypeError(
                f"llm.chat_with_tools needs Message objects (or earlier replies), got "
                f"{type(m).__name__}: {m!r:.80}."
            )
        out.append(entry)
    return out


def tool_calls(message: Any) -> list[dict[str, Any]]:
    """The tool calls of a chat reply, as ``{"id", "name", "arguments"}`` dicts."""
    out = []
    for call in getattr(message, "tool_calls", None) or ():
        try:
            arguments = json.loads(call.function.arguments or "{}")
        except json.JSONDecodeError as e:
            raise BackendError(
                f"The server's tool call {call.function.name!r} has arguments that are "
                f"not JSON: {call.function.arguments!r:.200}"
            ) from e
        out.append({"id": call.id, "name": call.function.name, "arguments": arguments})
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
    if not include_details and not tracing.is_enabled():
        return texts
    tokens = getattr(response, "usage", None)
    used = usage(
        finish_reason=choices[0].finish_reason if choices else None,
        prompt_tokens=getattr(tokens, "prompt_tokens", None),
        completion_tokens=getattr(tokens, "completion_tokens", None),
        latency=latency,
    )
    if not include_details:
        return texts
    out = []
    for choice, text in zip(choices, texts):
        logprobs = _logprobs(choice.logprobs, text)
        own = used["completion_tokens"]
        if len(choices) > 1:
            # usage covers the whole request (OpenAI sums the samples, llama.cpp reports
            # one of them): a sample's own count is the tokens it returned.
            own = len(logprobs) if logprobs is not None else None
        info = details(
            used,
            getattr(response, "model", None),
            logprobs,
            finish_reason=choice.finish_reason,
            completion_tokens=own,
        )
        out.append((text, info))
    return out


def _logprobs(logprobs: Any, text: str) -> list[tuple[str, float]] | None:
    if logprobs is None:
        # llama.cpp sends none for an empty completion; otherwise the server has none.
        return None if text else []
    entries = logprob_entries(logprobs)
    return [(str(e.get("token", "")), float(e.get("logprob", 0.0))) for e in entries]


def echoed_logprobs(choice: Any, text: str, start: int) -> list[float] | None:
    """The log-probs of the tokens of ``text[start:]`` in a completion that echoed
    ``text`` (``echo=True``, OpenAI's legacy log-probs format); ``None`` when the server
    sent no prompt log-probs. A token across ``start`` counts as the target's."""
    logprobs = getattr(choice, "logprobs", None)
    offsets = getattr(logprobs, "text_offset", None)
    values = getattr(logprobs, "token_logprobs", None)
    if not offsets or not values or not str(choice.text or "").startswith(text):
        return None
    ends = [*offsets[1:], len(choice.text)]
    return [
        float(v)
        for v, begin, end in zip(values, offsets, ends)
        if begin < len(text) and end > start and v is not None
    ]


def logprob_entries(logprobs: Any) -> list[dict[str, Any]]:
    """Per-token log-prob entries (``token``, ``logprob``, llama.cpp adds ``id``).

    Reads the chat format, llama.cpp's completions format (chat-style ``content``,
    which the SDK keeps in ``model_extra``) and OpenAI's legacy completions format.
    """
    if logprobs is None:
        return []
    content = getattr(logprobs, "content", None)
    if content is None and getattr(logprobs, "model_extra", None):
        content = logprobs.model_extra.get("content")
    if content is not None:
        return [c if isinstance(c, dict) else c.model_dump() for c in content]
    tokens = getattr(logprobs, "tokens", None) or []
    values = getattr(logprobs, "token_logprobs", None) or []
    return [{"token": t, "logprob": v} for t, v in zip(tokens, values)]
