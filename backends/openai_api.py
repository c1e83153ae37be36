"""The OpenAI backend: OpenAI's API, or any OpenAI-compatible server, via the official SDK.

:class:`OpenAIAPI` implements the LLM builtins on ``openai.AsyncOpenAI``. Point
``base_url`` at any OpenAI-compatible server (llama.cpp, vLLM...); on a llama.cpp server
(``server_kind="llama.cpp"``, as the embedded local model uses) it also tokenizes and
scores text exactly, so ``llm.select``/``llm.rank`` work on a real model.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> from onetwo.backends.openai_api import OpenAIAPI
    >>> OpenAIAPI("gpt-4o-mini", cache="~/.cache/onetwo").register()  # reads OPENAI_API_KEY
    >>> ot.run(llm.instruct("Name a color.", max_tokens=5))  # doctest: +SKIP
    'Blue.'

What each builtin sends:

* ``generate_text`` / ``generate_texts``: ``/v1/completions`` (the prompt is continued,
  ``n`` samples per request) on compatible servers; a one-message chat on OpenAI itself,
  whose models are chat-only (``use_completions=`` overrides).
* ``chat`` / ``instruct``: ``/v1/chat/completions``; a final MODEL message is a reply
  prefix that llama.cpp continues.
* ``generate_object``: structured output (``response_format`` with the JSON schema of
  the type), validated with pydantic.
* ``embed``: ``/v1/embeddings``. ``tokenize``/``count_tokens``/``score_text``: llama.cpp's
  ``/tokenize``, and log-probs of the target forced with a token-id grammar (``_llamacpp``).

Retries (SDK retries off), rate limits and the network guard: see ``_retry``,
``_ratelimit`` and ``network``. The API key never enters cache keys, traces, reprs or logs.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

try:
    import openai
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "onetwo.backends.openai_api needs the `openai` package, which is not installed. "
        'Install it with: pip install "onetwo[openai]"'
    ) from e

from onetwo.backends import _llamacpp, network
from onetwo.backends._common import Secret, object_schema, parse_json
from onetwo.backends._openai_wire import drop_prefix, map_error, results, to_messages
from onetwo.backends._perloop import PerLoop
from onetwo.backends._ratelimit import RateLimiter
from onetwo.backends._retry import RetryPolicy
from onetwo.builtins import llm
from onetwo.core import batching, caching
from onetwo.core.backend import Backend
from onetwo.core.content import ChunkList, Message
from onetwo.errors import BackendError, ConfigurationError

if TYPE_CHECKING:
    from onetwo.core.caching import CallCache

__all__ = ["OpenAIAPI", "ServerKind"]

T = TypeVar("T")
ServerKind = Literal["openai", "llama.cpp", "compatible"]
Prompt = str | ChunkList


class OpenAIAPI(Backend):
    """The LLM builtins on the OpenAI API or an OpenAI-compatible server (module doc).

    Args:
        model: the model name the server knows, e.g. ``"gpt-4o-mini"``.
        api_key: the key; default ``$OPENAI_API_KEY`` for OpenAI itself. A server at
            ``base_url`` gets only a key passed here, never the environment's.
        base_url: the server, e.g. ``"http://127.0.0.1:8080/v1"``; default OpenAI's.
        cache: a ``CallCache``, a folder, or ``None``.
        server_kind: ``"openai"`` (default without ``base_url``), ``"llama.cpp"``
            (adds tokenize, count_tokens and score_text), or ``"compatible"`` (default
            with ``base_url``).
        use_completions: send ``generate_text`` to ``/v1/completions`` (default: every
            server kind but ``"openai"``).
        temperature: default temperature when a call gives none (``None``: the server's).
        max_tokens: default output cap when a call gives none.
        embedding_model: the model for ``embed`` (default: OpenAI's
            ``text-embedding-3-small`` on OpenAI, else ``model``).
        timeout: seconds per attempt before :class:`~onetwo.errors.BackendTimeout`.
        retry: the :class:`RetryPolicy` (default: 5 attempts, 0.5 s initial backoff).
        requests_per_second, max_concurrency: limits per run (per event loop); or pass
            a shared ``rate_limiter``.
        max_samples_per_request: split ``generate_texts`` into requests of at most this
            many samples (``n``); llama.cpp allows at most its number of slots.
        embed_batch_size: most inputs per embeddings request (concurrent ``embed``
            calls are batched).
    """

    provider = "openai"

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        cache: CallCache | str | os.PathLike[str] | None = None,
        server_kind: ServerKind | None = None,
        use_completions: bool | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        embedding_model: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        requests_per_second: float | None = None,
        max_concurrency: int | None = None,
        rate_limiter: RateLimiter | None = None,
        max_samples_per_request: int | None = None,
        embed_batch_size: int = 32,
    ) -> None:
        super().__init__(model=model, cache=cache)
        # The SDK would read $OPENAI_BASE_URL itself; read it here so that the cache
        # identity records which server answered (a proxy may serve another model).
        url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        self.base_url = url.rstrip("/") if url else None
        self.server_kind: ServerKind = server_kind or ("compatible" if base_url else "openai")
        self.use_completions = (
            use_completions if use_completions is not None else self.server_kind != "openai"
        )
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.embedding_model = embedding_model or (
            "text-embedding-3-small" if self.server_kind == "openai" else model
        )
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.rate_limiter = rate_limiter or RateLimiter(requests_per_second, max_concurrency)
        self.max_samples_per_request = max_samples_per_request
        self.embed_batch_size = embed_batch_size
        self._api_key = Secret(api_key) if api_key else None
        self._clients: PerLoop[dict[str, openai.AsyncOpenAI]] = PerLoop(dict, close=_close_all)

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if self.base_url:
            identity["base_url"] = self.base_url
        for name in ("temperature", "max_tokens"):
            if getattr(self, name) is not None:
                identity[name] = getattr(self, name)
        # Settings that change what a builtin returns for the same arguments.
        identity["generate_text_via"] = "completions" if self.use_completions else "chat"
        if self.embedding_model != self.model:
            identity["embedding_model"] = self.embedding_model
        return identity

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"{type(self).__name__}(model={self.model!r}{where})"

    # --- registration ---------------------------------------------------------------

    @property
    def can_tokenize(self) -> bool:
        return self.server_kind == "llama.cpp"

    def register(self) -> None:
        """Answer every LLM builtin: those this server supports directly, ``instruct``,
        ``select`` and ``rank`` through their defaults built on them; what the server cannot
        do (scoring, tokenizing off llama.cpp) raises a clear error.
        """
        llm.configure_backend(
            generate_text=self.generate_text,
            generate_texts=self.generate_texts,
            chat=self.chat,
            generate_object=self.generate_object,
            embed=self.embed,
            score_text=self.score_text,
            tokenize=self.tokenize,
            count_tokens=self.count_tokens,
        )

    # --- plumbing -------------------------------------------------------------------

    async def _base_url(self) -> str | None:
        return self.base_url

    def _request_model(self) -> str:
        return self.model

    async def _client(self) -> openai.AsyncOpenAI:
        base_url = await self._base_url()
        clients = self._clients.get()
        key = base_url or ""
        client = clients.get(key)
        if client is None:
            network.check_url(base_url or "https://api.openai.com/v1")
            client = clients[key] = openai.AsyncOpenAI(
                api_key=self._key(),
                base_url=base_url,
                max_retries=0,  # retries happen in one layer: ours
                timeout=self.timeout,
                http_client=openai.DefaultAsyncHttpxClient(
                    event_hooks={"request": [network.guard_request]},
                    # Environment proxies must not intercept a server on this machine.
                    trust_env=not network.is_loopback_url(base_url or ""),
                ),
            )
        return client

    def _key(self) -> str:
        if self._api_key is not None:
            return self._api_key.value
        if self.server_kind != "openai":
            # Never send $OPENAI_API_KEY to another server; most local ones need no key.
            return "unused"
        env = os.environ.get("OPENAI_API_KEY")
        if env:
            return env
        raise ConfigurationError(
            "OpenAIAPI has no API key: pass api_key=... or set the OPENAI_API_KEY "
            "environment variable (or pass base_url= for a local OpenAI-compatible server)."
        )

    async def _call(self, what: str, send: Callable[[openai.AsyncOpenAI], Awaitable[T]]) -> T:
        """Send one request through the rate limiter and the retry policy."""
        client = await self._client()

        async def attempt() -> T:
            async with self.rate_limiter.slot():
                try:
                    return await send(client)
                except Exception as e:
                    raise map_error(e, self.timeout) from e

        return await self.retry.call(attempt, what=f"{self!r} {what}")

    def _sampling(
        self,
        temperature: float | None,
        max_tokens: int | None,
        stop: Sequence[str] | None,
        top_k: int | None,
        top_p: float | None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {}
        temperature = self.temperature if temperature is None else temperature
        max_tokens = self.max_tokens if max_tokens is None else max_tokens
        if temperature is not None:
            args["temperature"] = temperature
        if max_tokens is not None:
            args["max_tokens"] = max_tokens
        if stop:
            args["stop"] = list(stop)
        if top_p is not None:
            args["top_p"] = top_p
        if top_k is not None:
            if self.server_kind == "openai":
                raise ValueError(
                    f"top_k={top_k} is not supported by the OpenAI API; drop it, or use "
                    "top_p. (OpenAI-compatible servers such as llama.cpp accept it.)"
                )
            args["extra_body"] = {"top_k": top_k}
        return args

    # --- generation -----------------------------------------------------------------

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
        """Continue ``prompt``; ``(text, details)`` with ``include_details``."""
        sampling = self._sampling(temperature, max_tokens, stop, top_k, top_p)
        results = await self._generate(str(prompt), 1, sampling, include_details)
        return results[0]

    @caching.cache_method(name="llm.generate_texts", is_sampled=True)
    async def generate_texts(
        self,
        prompt: Prompt,
        samples: int = 1,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        include_details: bool = False,
    ) -> list[Any]:
        """``samples`` completions, ``n`` at a time (split to the server's limit)."""
        if samples < 0:
            raise ValueError(f"samples must be >= 0, got {samples}.")
        sampling = self._sampling(temperature, max_tokens, stop, top_k, top_p)
        size = self.max_samples_per_request or samples or 1
        sizes = [min(size, samples - i) for i in range(0, samples, size)]
        parts = await asyncio.gather(
            *(self._generate(str(prompt), n, sampling, include_details) for n in sizes)
        )
        return [r for part in parts for r in part]

    async def _generate(
        self, prompt: str, n: int, sampling: dict[str, Any], include_details: bool
    ) -> list[Any]:
        if not self.use_completions:
            messages = [{"role": "user", "content": prompt}]
            return await self._chat(messages, n, sampling, include_details)
        extra: dict[str, Any] = {"n": n} if n != 1 else {}
        if include_details:
            extra["logprobs"] = 1
        began = time.monotonic()
        response = await self._call(
            "completions",
            lambda c: c.completions.create(
                model=self._request_model(), prompt=prompt, **sampling, **extra
            ),
        )
        return results(response, time.monotonic() - began, include_details, lambda ch: ch.text)

    async def _chat(
        self,
        messages: list[dict[str, Any]],
        n: int,
        sampling: dict[str, Any],
        include_details: bool,
        **extra: Any,
    ) -> list[Any]:
        if n != 1:
            extra["n"] = n
        if include_details:
            extra["logprobs"] = True
        began = time.monotonic()
        response = await self._call(
            "chat",
            lambda c: c.chat.completions.create(
                model=self._request_model(), messages=cast(Any, messages), **sampling, **extra
            ),
        )
        return results(
            response, time.monotonic() - began, include_details, lambda ch: ch.message.content
        )

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
        """The model's next turn, from the chat endpoint (``formatter`` is not needed).

        A final MODEL message is a prefix: llama.cpp continues it; only the continuation
        is returned.
        """
        del formatter  # the server applies the model's own chat template
        sampling = self._sampling(temperature, max_tokens, stop, top_k, top_p)
        wire = to_messages(messages)
        [result] = await self._chat(wire, 1, sampling, include_details)
        if wire and wire[-1]["role"] == "assistant":
            result = drop_prefix(result, wire[-1]["content"])
        return result

    # --- structured output ------------------------------------------------------------

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
        # Cached as text, so the cache never has to store the caller's types.
        sampling = self._sampling(temperature, max_tokens, None, top_k, top_p)
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": json.loads(schema), "strict": False},
        }
        results = await self._chat(
            [{"role": "user", "content": prompt}],
            1,
            sampling,
            False,
            response_format=response_format,
        )
        return str(results[0])

    # --- embeddings, tokens, scores ---------------------------------------------------

    @caching.cache_method(name="llm.embed")
    async def embed(self, content: Prompt) -> list[float]:
        """The embedding vector of ``content`` (``embedding_model``).

        Concurrent calls travel together, ``embed_batch_size`` inputs per request.
        """
        return await self._embed_batch(str(content))

    @batching.batch_method(batch_size=lambda self: self.embed_batch_size, max_concurrent_batches=4)
    async def _embed_batch(self, texts: list[str]) -> list[list[float]]:
        response = await self._call(
            "embeddings",
            lambda c: c.embeddings.create(model=self._embedding_model(), input=texts),
        )
        data = sorted(response.data, key=lambda d: d.index)
        if len(data) != len(texts):
            raise BackendError(
                f"{self!r}: asked for {len(texts)} embeddings, the server returned {len(data)}."
            )
        return [list(d.embedding) for d in data]

    def _embedding_model(self) -> str:
        # The same model serving both: ask for it by the name the server knows it by.
        if self.embedding_model == self.model:
            return self._request_model()
        return self.embedding_model

    def _refuse(self, what: str) -> ConfigurationError:
        return ConfigurationError(
            f"{self!r} cannot {what}: this needs a llama.cpp server (its /tokenize endpoint "
            f"and forced-token log-probs), and server_kind is {self.server_kind!r}. Use the "
            "embedded model (onetwo.backends.local_backend()) or "
            "OpenAIAPI(base_url=..., server_kind='llama.cpp') for a llama.cpp server."
        )

    @caching.cache_method(name="llm.tokenize")
    async def tokenize(self, content: Prompt) -> list[int]:
        """The model's token ids for ``content`` (llama.cpp servers only)."""
        if not self.can_tokenize:
            raise self._refuse("tokenize text")
        return await _llamacpp.tokenize(self, str(content))

    async def count_tokens(self, content: Prompt) -> int:
        """How many tokens ``content`` is (llama.cpp servers only)."""
        return len(await self.tokenize(content))

    @caching.cache_method(name="llm.score_text")
    async def score_text(self, prompt: Prompt, targets: Sequence[str]) -> list[float]:
        """Log-probability of each target after ``prompt`` (sum over its tokens).

        Exact on llama.cpp servers: each target is forced with a token-id grammar and the
        log-probs of its tokens are summed (see ``onetwo.backends._llamacpp``).
        """
        if not self.can_tokenize:
            raise self._refuse("score text (llm.score_text, select, rank)")
        return await _llamacpp.score(self, str(prompt), targets)


async def _close_all(clients: dict[str, openai.AsyncOpenAI]) -> None:
    for client in clients.values():
        await client.close()
