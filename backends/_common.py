"""Small pieces the real backends share: secrets, client lifetime, structured output."""

from __future__ import annotations

import json
from typing import Any

import pydantic

from onetwo.errors import OutputParseError

__all__ = ["Secret", "details", "object_schema", "parse_json"]


class Secret:
    """Holds a credential; prints as ``***`` so it cannot leak through a repr or a trace."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __reduce__(self) -> Any:
        raise TypeError("a Secret (an API key) is not picklable, so it never reaches a file")


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
