"""The Gemini backend: Google's Gemini API through the official ``google-genai`` SDK.

:class:`GoogleGenAIAPI` implements the LLM builtins on the SDK's async client
(``client.aio``): text, chat, structured output (response JSON schema), embeddings and
token counts. Gemini returns no prompt log-probs and has no tokenizer endpoint, so
``score_text`` (hence ``select``/``rank``) and ``tokenize`` raise a clear error.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> from onetwo.backends.google_genai_api import GoogleGenAIAPI
    >>> GoogleGenAIAPI("gemini-2.5-flash").register()   # reads GEMINI_API_KEY
    >>> ot.run(llm.instruct("Name a color.", max_tokens=5))  # doctest: +SKIP
    'Blue'

``base_url=`` points the SDK at another server speaking the same REST API (the tests use
a local shim in front of the real local model); ``api_version=`` picks ``v1``/``v1beta``.
Retries (SDK retries off), rate limits and the network guard: see ``_retry``,
``_ratelimit`` and ``network``. The API key never enters cache keys, traces, reprs or logs.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

try:
    import httpx2
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "onetwo.backends.google_genai_api needs the `google-genai` package, which is not "
        'installed. Install it with: pip install "onetwo[gemini]"'
    ) from e

from onetwo.backends import network
from onetwo.backends._common import Secret, details, http_error, object_schema, parse_json
from onetwo.backends._perloop import PerLoop
from onetwo.backends._ratelimit import RateLimiter
from onetwo.backends._retry import RetryPolicy, parse_retry_after
from onetwo.builtins import llm
from onetwo.core import batching, caching, tracing
from onetwo.core.backend import Backend
from onetwo.core.content import ChunkList, Message
from onetwo.errors import BackendError, BackendTimeout, BackendUnavailable, ConfigurationError

if TYPE_CHECKING:
    from onetwo.core.caching import CallCache

__all__ = ["GoogleGenAIAPI"]

T = TypeVar("T")
Prompt = str | ChunkList

_DEFAULT_URL = "https://generativelanguage.googleapis.com"
# The details a trace node gets for each call (the rest stay in include_details).
_TRACED_DETAILS = ("finish_reason", "prompt_tokens", "completion_tokens", "latency")


class GoogleGenAIAPI(Backend):
    """The LLM builtins on the Gemini API (see the module docstring).

    Args:
        model: e.g. ``"gemini-2.5-flash"``.
        api_key: the key; default ``$GEMINI_API_KEY`` or ``$GOOGLE_API_KEY``.
        base_url: another server speaking the Gemini REST API; default Google's.
        api_version: ``"v1"``, ``"v1beta"``...; default the SDK's.
        cache: a ``CallCache``, a folder, or ``None``.
        temperature, max_tokens: defaults when a call gives none.
        embedding_model: the model for ``embed``.
        embedding_dimensions: truncate embeddings to this size (``outputDimensionality``).
        embed_batch_size: most inputs per ``batchEmbedContents`` request.
        timeout: seconds per attempt before :class:`~onetwo.errors.BackendTimeout`.
        retry: the :class:`RetryPolicy` (default: 5 attempts, 0.5 s initial backoff).
        requests_per_second, max_concurrency: limits per run (per event loop); or pass
            a shared ``rate_limiter``.
    """

    provider = "gemini"

    def __init__(
        self,
        model: str = "gemini-2.5-flash",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        cache: CallCache | str | os.PathLike[str] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        embedding_model: str = "gemini-embedding-001",
        embedding_dimensions: int | None = None,
        embed_batch_size: int = 100,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        requests_per_second: float | None = None,
        max_concurrency: int | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(model=model, cache=cache)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.api_version = api_version
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.embedding_model = embedding_model
        self.embedding_dimensions = embedding_dimensions
        self.embed_batch_size = embed_batch_size
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.rate_limiter = rate_limiter or RateLimiter(requests_per_second, max_concurrency)
        self._api_key = Secret(api_key) if api_key else None
        self._clients: PerLoop[genai.client.AsyncClient] = PerLoop(
            self._make_client, close=lambda client: client.aclose()
        )

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if self.base_url:
            identity["base_url"] = self.base_url
        for name in ("temperature", "max_tokens", "embedding_model", "embedding_dimensions"):
            if getattr(self, name) is not None:
                identity[name] = getattr(self, name)
        return identity

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"GoogleGenAIAPI(model={self.model!r}{where})"

    def register(self) -> None:
        """Answer every LLM builtin (``instruct``, ``generate_texts``, ``select``... through
        their defaults); scoring and tokenizing raise a clear error."""
        llm.configure_backend(
            generate_text=self.generate_text,
            chat=self.chat,
            generate_object=self.generate_object,
            embed=self.embed,
            count_tokens=self.count_tokens,
            score_text=self.score_text,
            tokenize=self.tokenize,
        )

    # --- plumbing -------------------------------------------------------------------

    def _key(self) -> str:
        if self._api_key is not None:
            return self._api_key.value
        env = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        if env:
            return env
        raise ConfigurationError(
            "GoogleGenAIAPI has no API key: pass api_key=... or set the GEMINI_API_KEY "
            "environment variable."
        )

    def _make_client(self) -> genai.client.AsyncClient:
        network.check_url(self.base_url or _DEFAULT_URL)
        options = types.HttpOptions(
            base_url=self.base_url,
            api_version=self.api_version,
            timeout=int(self.timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),  # retries are ours
            async_client_args={
                "event_hooks": {"request": [network.guard_request]},
                "trust_env": not network.is_loopback_url(self.base_url or ""),
            },
        )
        # The Gemini API, even where $GOOGLE_GENAI_USE_VERTEXAI (set for Vertex AI work)
        # would switch the SDK to Vertex AI.
        client = genai.Client(vertexai=False, api_key=self._key(), http_options=options)
        return client.aio

    async def _call(self, what: str, send: Callable[[genai.client.AsyncClient], Awaitable[T]]) -> T:
        client = self._clients.get()

        async def attempt() -> T:
            async with self.rate_limiter.slot():
                try:
                    return await send(client)
                except Exception as e:
                    raise _map_error(e, self.timeout) from e

        return await self.retry.call(attempt, what=f"{self!r} {what}")

    def _config(
        self,
        temperature: float | None,
        max_tokens: int | None,
        stop: Sequence[str] | None,
        top_k: int | None,
        top_p: float | None,
        **extra: Any,
    ) -> types.GenerateContentConfig:
        temperature = self.temperature if temperature is None else temperature
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        return types.GenerateContentConfig(
            temperature=temperature,
            max_output_tokens=max_tokens,
            stop_sequences=list(stop) if stop else None,
            top_k=top_k,
            top_p=top_p,
            **extra,
        )

    async def _generate(
        self, contents: Any, config: types.GenerateContentConfig, include_details: bool
    ) -> Any:
        if include_details:
            config.response_logprobs = True
        began = time.monotonic()
        response = await self._call(
            "generateContent",
            lambda c: c.models.generate_content(model=self.model, contents=contents, config=config),
        )
        text = _text(response)
        traced = tracing.is_enabled()
        if not include_details and not traced:
            return text
        candidate = response.candidates[0] if response.candidates else None
        usage = response.usage_metadata
        finish = getattr(candidate, "finish_reason", None)
        info = details(
            finish_reason=getattr(finish, "value", finish),
            prompt_tokens=getattr(usage, "prompt_token_count", None),
            completion_tokens=getattr(usage, "candidates_token_count", None),
            latency=time.monotonic() - began,
            model=response.model_version,
            logprobs=_logprobs(candidate),
        )
        if traced:  # token counts for the call's trace node
            tracing.annotate({k: info[k] for k in _TRACED_DETAILS})
        return (text, info) if include_details else text

    # --- the builtins -----------------------------------------------------------------

    @caching.cache_method(name="llm.generate_text", is_sampled=True)
    async def generate_text(
        self,
        prompt: Prompt,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        include_details: bool = False,
    ) -> Any:
        """The model's reply to ``prompt`` (one user turn); ``(text, details)`` if asked."""
        config = self._config(temperature, max_tokens, stop, top_k, top_p)
        return await self._generate(str(prompt), config, include_details)

    # The server applies its own chat template: a formatter changes nothing, so it is
    # left out of the key (and may be any object).
    @caching.cache_method(name="llm.chat", is_sampled=True, ignore_args=["formatter"])
    async def chat(
        self,
        messages: Sequence[Message],
        *,
        formatter: Any = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        include_details: bool = False,
    ) -> Any:
        """The model's next turn; SYSTEM messages become the system instruction."""
        del formatter  # Gemini takes the turns natively
        contents, system = _to_contents(messages)
        config = self._config(
            temperature, max_tokens, stop, top_k, top_p, system_instruction=system
        )
        return await self._generate(contents, config, include_details)

    async def generate_object(
        self,
        prompt: Prompt,
        cls: Any,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> Any:
        """A value of type ``cls``, generated under its JSON schema and validated."""
        schema, wrapped = object_schema(cls)
        text = await self._generate_json(
            str(prompt),
            json.dumps(schema, sort_keys=True),
            temperature=temperature,
            max_tokens=max_tokens,
            top_k=top_k,
            top_p=top_p,
        )
        return parse_json(text, cls, wrapped)

    @caching.cache_method(name="llm.generate_object", is_sampled=True)
    async def _generate_json(
        self,
        prompt: str,
        schema: str,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
    ) -> str:
        config = self._config(
            temperature,
            max_tokens,
            None,
            top_k,
            top_p,
            response_mime_type="application/json",
            response_json_schema=json.loads(schema),
        )
        return str(await self._generate(prompt, config, False))

    @caching.cache_method(name="llm.embed")
    async def embed(self, content: Prompt) -> list[float]:
        """The embedding of ``content`` (``embedding_model``); concurrent calls are batched."""
        return await self._embed_batch(str(content))

    @batching.batch_method(batch_size=lambda self: self.embed_batch_size, max_concurrent_batches=4)
    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        config = types.EmbedContentConfig(output_dimensionality=self.embedding_dimensions)
        response = await self._call(
            "batchEmbedContents",
            lambda c: c.models.embed_content(
                model=self.embedding_model, contents=cast(Any, texts), config=config
            ),
        )
        vectors = [e.values for e in response.embeddings or []]
        if len(vectors) != len(texts) or any(v is None for v in vectors):
            raise BackendError(
                f"{self!r}: asked for {len(texts)} embeddings, the server returned "
                f"{len(vectors)} vectors."
            )
        return [list(v or ()) for v in vectors]

    @caching.cache_method(name="llm.count_tokens")
    async def count_tokens(self, content: Prompt) -> int:
        """How many tokens ``content`` is, as the server counts."""
        response = await self._call(
            "countTokens",
            lambda c: c.models.count_tokens(model=self.model, contents=str(content)),
        )
        return int(response.total_tokens or 0)

    async def score_text(self, prompt: Prompt, targets: Sequence[str]) -> list[float]:
        """Not available: raises :class:`ConfigurationError` with the reason."""
        raise ConfigurationError(
            f"{self!r} cannot score text (llm.score_text, select, rank): the Gemini API "
            "returns log-probs of generated tokens only, not of a given continuation. Use "
            "a backend that scores, e.g. onetwo.backends.local_backend()."
        )

    async def tokenize(self, content: Prompt) -> list[int]:
        """Not available: raises :class:`ConfigurationError` (use ``count_tokens``)."""
        raise ConfigurationError(
            f"{self!r} cannot tokenize: the Gemini API has no tokenizer endpoint. "
            "llm.count_tokens works."
        )


# --- helpers ----------------------------------------------------------------------------


def _to_contents(messages: Sequence[Message]) -> tuple[list[types.Content], str | None]:
    if isinstance(messages, str | ChunkList):
        raise TypeError(
            f"chat needs a sequence of Message, got {messages!r:.80}; use llm.instruct(text) "
            "for a single user turn."
        )
    contents: list[types.Content] = []
    system: list[str] = []
    for m in messages:
        if isinstance(m.content, bytes):
            raise TypeError("GoogleGenAIAPI.chat supports text content only, got bytes.")
        text = str(m.content)
        if str(m.role) == "system":
            system.append(text)
            continue
        role = "model" if str(m.role) == "model" else "user"
        contents.append(types.Content(role=role, parts=[types.Part(text=text)]))
    return contents, ("\n".join(system) if system else None)


def _text(response: types.GenerateContentResponse) -> str:
    candidates = response.candidates or []
    if not candidates or candidates[0].content is None:
        return ""
    return "".join(p.text or "" for p in candidates[0].content.parts or [] if not p.thought)


def _logprobs(candidate: Any) -> list[tuple[str, float]] | None:
    result = getattr(candidate, "logprobs_result", None)
    chosen = getattr(result, "chosen_candidates", None)
    if not chosen:
        return None
    return [(c.token or "", float(c.log_probability or 0.0)) for c in chosen]


def _map_error(error: Exception, timeout: float) -> BaseException:
    """The onetwo error for an SDK or transport exception; others are returned unchanged."""
    if isinstance(error, genai_errors.APIError):
        response = getattr(error, "response", None)
        headers = getattr(response, "headers", None)
        request = getattr(response, "request", None)
        return http_error(
            int(error.code or 0),
            error.details,
            source=str(request.url) if request is not None else "Gemini",
            retry_after=parse_retry_after(dict(headers) if headers else None),
        )
    if isinstance(error, httpx2.TimeoutException):
        return BackendTimeout(f"The server did not answer within {timeout:g}s.")
    if isinstance(error, httpx2.TransportError):
        url = error.request.url if error._request is not None else ""
        return BackendUnavailable(
            f"Could not reach the server at {url}: {type(error).__name__}: {error}"
        )
    if isinstance(error, json.JSONDecodeError):
        return BackendError(f"The server's answer was not valid JSON: {error}")
    return error
