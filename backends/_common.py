"""Small pieces the real backends share: secrets, HTTP errors, details, structured output."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pydantic

from onetwo.errors import BackendHTTPError, OutputParseError, RateLimited

__all__ = ["Secret", "details", "http_error", "object_schema", "parse_json"]


class Secret:
    """Holds a credential; prints as ``***`` so it cannot leak through a repr or a trace."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __reduce__(self) -> Any:
        raise TypeError("a Secret (an API key) is not picklable, so it never reaches a file")


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


def details(
    *,
    finish_reason: Any,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    latency: float,
    model: str | None,
    logprobs: list[tuple[str, float]] | None,
) -> dict[str, Any]:
    """The ``details`` dict returned with ``include_details=True``, the same for all."""
    out: dict[str, Any] = {
        "finish_reason": finish_reason,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "latency": latency,
        "model": model,
    }
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
