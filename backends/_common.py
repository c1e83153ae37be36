"""Small pieces the remote backends share: the key's holder and redaction, chat turns,
HTTP errors, usage and details, structured output, the error of a missing SDK."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import pydantic

from onetwo.core import tracing
from onetwo.core.content import Chunk, ChunkList, Message
from onetwo.errors import BackendHTTPError, OutputParseError, RateLimited

__all__ = [
    "Secret",
    "answer_problem",
    "details",
    "has_media",
    "http_error",
    "missing_sdk",
    "object_schema",
    "parse_json",
    "redact",
    "split_url",
    "turns",
    "usage",
]


class Secret:
    """Holds a credential; prints as ``***`` so it cannot leak through a repr or a trace.

    Every value held is also remembered for :func:`redact`, which blanks it out of error
    texts, error bodies and the SDKs' log lines (a server may echo a key in a 401 body, a
    URL may carry one in its query).
    """

    __slots__ = ("value",)
    known: ClassVar[set[str]] = set()
    """Every credential a ``Secret`` has held in this process."""

    def __init__(self, value: str) -> None:
        self.value = value
        if len(value) >= 4:  # shorter ones would blank out ordinary words
            Secret.known.add(value)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __reduce__(self) -> Any:
        raise TypeError("a Secret (an API key) is not picklable, so it never reaches a file")


def redact(value: Any) -> Any:
    """``value`` with every known credential replaced by ``***``: a text, or the strings
    inside a decoded JSON body (dicts and lists); anything else is returned unchanged."""
    if isinstance(value, str):
        for secret in sorted(Secret.known, key=len, reverse=True):
            value = value.replace(secret, "***")
        return value
    if isinstance(value, Mapping):
        return {redact(k): redact(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redact(v) for v in value)
    return value


class _Redacting(logging.Filter):
    """Blanks credentials out of a log record (the SDKs log each request's URL)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if Secret.known:
            message = record.getMessage()
            clean = redact(message)
            if clean != message:
                record.msg, record.args = clean, None
        return True


for _name in ("httpx", "httpx2", "openai._base_client", "google_genai._api_client"):
    logging.getLogger(_name).addFilter(_Redacting())

_SECRET_PARAMS = ("key", "token", "secret", "auth", "sig", "pass", "credential")


def split_url(url: str) -> tuple[str, str, dict[str, Any]]:
    """A base URL split into what a client is given, what may be shown, and the rest.

    A key in the URL's userinfo (``https://user:KEY@host``) or query (``?key=KEY``) must
    reach the server but nothing else: the client gets the URL without them, its httpx
    client gets them as ``auth=`` and ``params=`` (the third value), and the shown URL,
    used in cache identities and reprs, has ``***`` in their place. Both are held as
    :class:`Secret`, so :func:`redact` blanks them out of errors and logs.

    Example:
        >>> split_url("https://u:KEY@h/v1?key=K2&v=1")[:2]
        ('https://h/v1', 'https://u:***@h/v1?key=***&v=1')
    """
    parts = urlsplit(url)
    if not (parts.password or parts.username or parts.query):
        return url, url, {}
    http_args: dict[str, Any] = {}
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    shown_host = host
    if parts.username or parts.password:
        user, password = parts.username or "", parts.password or ""
        Secret(password)
        http_args["auth"] = (user, password)
        shown_host = f"{user}:***@{host}" if password else f"{user}@{host}"
    params = parse_qsl(parts.query, keep_blank_values=True)
    shown_query = []
    for name, value in params:
        if any(word in name.lower() for word in _SECRET_PARAMS) and value:
            Secret(value)
            value = "***"
        shown_query.append(f"{name}={value}")
    if params:
        http_args["params"] = params
    clean = urlunsplit((parts.scheme, host, parts.path, "", ""))
    shown = urlunsplit((parts.scheme, shown_host, parts.path, "&".join(shown_query), ""))
    return clean, shown, http_args


def _has(field: str, kind: type) -> Callable[[Any], bool]:
    return lambda item: isinstance(getattr(item, field, None), kind)


# request → (the answer's list field, what each item of it must have)
_SHAPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "completions": ("choices", _has("text", str)),
    "score_text": ("choices", _has("text", str)),
    "chat": ("choices", lambda choice: getattr(choice, "message", None) is not None),
    "embeddings": ("data", _has("embedding", list)),
    "generateContent": (
        "candidates",
        lambda c: (
            getattr(c, "content", None) is not None or getattr(c, "finish_reason", None) is not None
        ),
    ),
    "batchEmbedContents": ("embeddings", _has("values", list)),
}


def answer_problem(what: str, answer: Any) -> str | None:
    """What is wrong with a request's parsed answer, or ``None`` when it has the API's shape.

    The SDKs check little (OpenAI's hands back the text of a non-JSON body and builds
    objects from JSON of any shape; Gemini's turns that into an empty answer), so their
    answers are checked here, by the request's name: a text where JSON was expected (an
    HTML page), or an answer without its list of choices (candidates, vectors), or with
    an item lacking what the API always sends. A Gemini answer may have no candidates
    when it carries the prompt feedback of a blocked prompt.
    """
    if isinstance(answer, str | bytes):
        return f"a text where JSON was expected: {answer!r:.120}"
    if what not in _SHAPES:
        return None
    field, item_ok = _SHAPES[what]
    items = getattr(answer, field, None)
    if not items and getattr(answer, "prompt_feedback", None) is not None:
        return None
    if not isinstance(items, list) or not items:
        return f"an answer without {field}: {answer!r:.120}"
    if not all(item_ok(item) for item in items):
        return f"{field} not of the API's shape: {items!r:.120}"
    return None


def missing_sdk(module: str, package: str, extra: str) -> ImportError:
    """The error of a backend module whose SDK is not installed."""
    return ImportError(
        f"{module} needs the `{package}` package, which is not installed. Install it "
        f'with: pip install "onetwo[{extra}]"'
    )


def has_media(content: Any) -> bool:
    """Whether a prompt or a message's content holds anything but text."""
    if isinstance(content, ChunkList):
        return any(not isinstance(c.content, str) for c in content)
    if isinstance(content, Chunk):
        return not isinstance(content.content, str)
    return isinstance(content, bytes)


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
