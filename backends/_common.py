"""Small pieces the remote backends share: the key's holder, chat turns, HTTP errors,
usage and details, structured output, the error of a missing SDK."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pydantic

from onetwo.core import tracing
from onetwo.core.content import ChunkList, Message
from onetwo.errors import BackendHTTPError, OutputParseError, RateLimited

__all__ = [
    "Secret",
    "details",
    "http_error",
    "missing_sdk",
    "object_schema",
    "parse_json",
    "turns",
    "usage",
]


class Secret:
    """Holds a credential; prints as ``***`` so it cannot leak through a repr or a trace."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __reduce__(self) -> Any:
        raise TypeError("a Secret (an API key) is not picklable, so it never reaches a file")


def missing_sdk(module: str, package: str, extra: str) -> ImportError:
    """The error of a backend module whose SDK is not installed."""
    return ImportError(
        f"{module} needs the `{package}` package, which is not installed. Install it "
        f'with: pip install "onetwo[{extra}]"'
    )


def turns(messages: Sequence[Message], backend: str) -> list[tuple[str, str]]:
    """``(role, text)`` of each message; ``TypeError`` for a bare prompt or bytes."""
    if isinstance(messages, str | ChunkList):
        raise TypeError(
            f"chat needs a sequence of Message, got {messages!r:.80}; use llm.instruct(text) "
            "for a single user turn."
        )
    out = []
    for m in messages:
        if isinstance(m.content, bytes):
            raise TypeError(f"{backend}.chat supports text content only, got bytes.")
        out.append((str(m.role), str(m.content)))
    return out


def http_error(
    status: int, body: Any, *, source: str, retry_after: float | None
) -> BackendHTTPError:
    """The error for an HTTP error answer: :class:`RateLimited` for a 429.

    Args:
        status: the HTTP status.
        body: the decoded error body; its message goes into the error's text.
        source: where the answer came from (a URL, never a credential).
        retry_after: the server's ``retry-after`` in seconds, if it gave one.
    """
    message = f"HTTP {status} from {source}: {_describe(body)}"
    cls = RateLimited if status == 429 else BackendHTTPError
    return cls(message, status=status, body=body, retry_after=retry_after)


def _describe(body: Any, limit: int = 300) -> str:
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and "message" in error:
            return str(error["message"])[:limit]
    text = str(body)
    return text if len(text) <= limit else text[:limit] + "…"


def usage(
    *, finish_reason: Any, prompt_tokens: int | None, completion_tokens: int | None, latency: float
) -> dict[str, Any]:
    """A request's usage, the first part of ``details``; with tracing on, it is annotated
    on the call's trace node too (a cache hit has none)."""
    out = {
        "finish_reason": finish_reason,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "latency": latency,
    }
    tracing.annotate(out)
    return out


def details(
    usage: Mapping[str, Any],
    model: str | None,
    logprobs: list[tuple[str, float]] | None,
    **own: Any,
) -> dict[str, Any]:
    """The ``details`` of ``include_details=True``, the same for all backends: the
    request's ``usage`` (with a sample's ``own`` values), the model and the log-probs."""
    out: dict[str, Any] = {**usage, **own, "model": model}
    if logprobs is not None:
        out["logprobs"] = logprobs
    return out


def object_schema(cls: Any) -> tuple[dict[str, Any], bool]:
    """The JSON schema for ``cls``, and whether it was wrapped as ``{"value": ...}``.

    Structured-output APIs want an object at the top; ``int`` or ``list[str]`` are
    wrapped in one.
    """
    try:
        schema = pydantic.TypeAdapter(cls).json_schema()
    except pydantic.PydanticUserError as e:
        raise TypeError(f"generate_object cannot make a JSON schema for {cls!r}: {e}") from e
    if schema.get("type") == "object" or "properties" in schema:
        return schema, False
    defs = schema.pop("$defs", None)
    wrapped: dict[str, Any] = {
        "type": "object",
        "properties": {"value": schema},
        "required": ["value"],
    }
    if defs:
        wrapped["$defs"] = defs
    return wrapped, True


def parse_json(text: str, cls: Any, wrapped: bool) -> Any:
    """Validate a structured-output reply into ``cls`` or raise ``OutputParseError``."""
    try:
        data = json.loads(text)
        if wrapped:
            data = data["value"]
        return pydantic.TypeAdapter(cls).validate_python(data)
    except (ValueError, KeyError, TypeError, pydantic.ValidationError) as e:
        name = getattr(cls, "__name__", repr(cls))
        raise OutputParseError(
            f"generate_object: the model's structured output is not a valid {name}: {e}. "
            f"Output: {text!r:.200}. Raise max_tokens if it was cut off.",
            text=text,
        ) from e
