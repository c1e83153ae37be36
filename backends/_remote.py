"""The shared base of the remote HTTP backends: one request path, one shape.

:class:`RemoteBackend` is what :class:`~onetwo.backends.openai_api.OpenAIAPI` and
:class:`~onetwo.backends.google_genai_api.GoogleGenAIAPI` have in common: their
identity, their default sampling settings (merged under each call's with
``onetwo.builtins.settings.merge``), the key (never in a trace, cache or log), the SDK
clients (made once on onetwo's runtime loop, ``onetwo.core.runtime``, and kept for the
process), and every builtin's skeleton: caching,
argument checks, structured output, batched embeddings. A subclass maps
:class:`~onetwo.builtins.settings.ModelSettings` onto its wire format and says how to
send each kind of request.

Every request goes one way, :meth:`RemoteBackend._call`::

    _on_loop(                          # runtime.on_runtime: where clients and limits live
        retry policy(                  # tenacity, entered only after a failed attempt
            rate limiter slot(         # skipped when unlimited
                timeout(               # one deadline for the whole attempt
                    SDK request        # whose httpx hook is the network guard
                ) -> answer check      # a text or the wrong shape is a BackendError
            ) -> error mapping         # SDK exceptions become onetwo's, keys redacted
        )
    )

and its usage (tokens, finish reason, latency) is annotated on the call's trace node
when tracing is on.

Example:
    >>> class MyAPI(RemoteBackend[MyClient]):   # doctest: +SKIP
    ...     provider, default_url, key_env = "mine", "https://api.example.com", ("MY_KEY",)
    ...     def _make_client(self, base_url, http_args): return MyClient(self._key(), ...)
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, Unpack, cast

import pydantic

from onetwo.backends import network
from onetwo.backends._common import (
    Secret,
    answer_problem,
    has_media,
    object_schema,
    parse_json,
    redact,
    split_url,
    turns,
)
from onetwo.backends._ratelimit import RateLimiter
from onetwo.backends._retry import RetryPolicy
from onetwo.backends._settings import check_options, takes_settings
from onetwo.builtins import llm
from onetwo.builtins.settings import ModelSettings, merge
from onetwo.core import batching, caching, runtime, streaming
from onetwo.core.backend import Backend
from onetwo.core.clock import SYSTEM_CLOCK
from onetwo.core.content import ChunkList, Message
from onetwo.errors import (
    BackendError,
    BackendHTTPError,
    BackendTimeout,
    ConfigurationError,
    InvalidArgumentError,
    OneTwoError,
)

if TYPE_CHECKING:
    from onetwo.core.caching import CallCache

__all__ = ["Prompt", "RemoteBackend", "RemoteOptions", "now"]

T = TypeVar("T")
Client = TypeVar("Client")
Prompt = str | ChunkList

now = SYSTEM_CLOCK.now
"""The time a request's latency is measured with."""


def _emit(text: str) -> None:
    """Hand a piece of a streamed text to ``ot.stream_updates`` (empty pieces are dropped)."""
    if text:
        streaming.emit_delta(text)


_SDKS = ("openai", "google.genai", "httpx", "httpx2", "pydantic")


def _read_by_sdk(error: BaseException) -> bool:
    """Whether ``error`` (a ``TypeError``, ``ValueError``...) was raised inside an SDK's
    own code: the SDK choking on an answer of the wrong shape. Raised in our code, the
    same errors are bugs, and stay what they are."""
    if not isinstance(error, AttributeError | TypeError | KeyError | IndexError | ValueError):
        return False
    frame = error.__traceback__
    while frame is not None and frame.tb_next is not None:
        frame = frame.tb_next
    module = str(frame.tb_frame.f_globals.get("__name__", "")) if frame else ""
    return any(module == sdk or module.startswith(sdk + ".") for sdk in _SDKS)


class RemoteOptions(ModelSettings, total=False):
    """The constructor options every remote backend takes (see :class:`RemoteBackend`)."""

    api_key: str | None
    base_url: str | None
    embedding_model: str | None
    embed_batch_size: int
    cache: CallCache | str | os.PathLike[str] | None
    timeout: float
    retry: RetryPolicy | None
    requests_per_second: float | None
    max_concurrency: int | None
    rate_limiter: RateLimiter | None


_OPTIONS = RemoteOptions.__required_keys__ | RemoteOptions.__optional_keys__
_TOKEN_BUILTINS = ("count_tokens", "detokenize", "tokenize")


def _same_task_type(batch: list[tuple[str, str | None]], request: tuple[str, str | None]) -> Any:
    """An embedding request joins a batch of its own task type (one request per type)."""
    return (not batch or batch[0][1] == request[1], False)


_MODEL_FIRST = "the model's name as the first argument: {cls}({model!r})"
_ONETWO_NAMES = {  # the reference OneTwo's constructor arguments, and what to write here
    "model_name": _MODEL_FIRST,
    "generate_model_name": _MODEL_FIRST,
    "chat_model_name": _MODEL_FIRST,
    "embed_model_name": "embedding_model=",
    "max_retries": "retry=RetryPolicy(attempts=max_retries + 1)",
    "initial_base_delay": "retry=RetryPolicy(initial_backoff=...)",
    "max_base_delay": "retry=RetryPolicy(max_backoff=...)",
    "max_qps": "requests_per_second=",
    "threadpool_size": "max_concurrency=",
    "cache_filename": "cache= (a folder: written on every call, nothing to save)",
    "vertexai": "not needed: GoogleGenAIAPI is the Gemini API",
    "enable_streaming": "not needed: llm.stream_text streams",
}


class RemoteBackend(Backend, Generic[Client]):
    """The LLM builtins on a remote HTTP API; subclasses speak its wire format.

    Args:
        model: the model name the server knows.
        **options: the :class:`RemoteOptions`:

            * ``api_key``: the key; default: the first of :attr:`key_env` that is set.
            * ``base_url``: the server; default :attr:`default_url`. A key in its
              userinfo or query reaches the server only: reprs and the cache identity
              show ``***`` (:func:`~onetwo.backends._common.split_url`).
            * ``embedding_model``: the model for ``embed`` (default ``model``).
            * ``embed_batch_size``: most inputs per embeddings request (concurrent
              ``embed`` calls are batched; default 32).
            * ``cache``: a ``CallCache``, a folder, or ``None``.
            * ``timeout``: seconds per attempt, the whole of it (connecting, sending,
              reading every byte), before :class:`~onetwo.errors.BackendTimeout`
              (default 60); a server trickling its answer cannot stretch it.
            * ``retry``: the :class:`RetryPolicy` (default: 5 attempts, 0.5 s initial
              backoff).
            * ``requests_per_second``, ``max_concurrency``: limits for the process
              (every run, every thread); or pass a shared ``rate_limiter``.
            * ``temperature``, ``max_tokens``, ``stop``, ``top_k``, ``top_p``: default
              sampling settings for calls that give none; part of the cache identity.
    """

    default_url: ClassVar[str] = ""
    """Where requests go without ``base_url``."""
    key_env: ClassVar[tuple[str, ...]] = ()
    """The environment variables that may hold the key, in order."""
    builtins: ClassVar[tuple[str, ...]] = (
        "chat",
        "count_tokens",
        "embed",
        "generate_object",
        "generate_text",
        "score_text",
        "stream_text",
        "tokenize",
    )
    """The LLM builtins :meth:`register` binds to this backend's methods."""

    def __init__(self, model: str, **options: Unpack[RemoteOptions]) -> None:
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            theirs = [
                f"{name}= is "
                + _ONETWO_NAMES[name].format(
                    cls=type(self).__name__,
                    model=str(cast(dict[str, Any], options)[name]).removeprefix("models/"),
                )
                for name in unknown
                if name in _ONETWO_NAMES
            ]
            hint = f" OneTwo's names: {'; '.join(theirs)}." if theirs else ""
            raise InvalidArgumentError(
                f"{type(self).__name__}() got unexpected argument(s) {unknown}.{hint} Besides "
                f"its own, it takes {sorted(_OPTIONS)}."
            )
        check_options(type(self).__name__, model=model, **options)
        super().__init__(model=model, cache=options.get("cache"))
        self.settings: ModelSettings = merge(options)
        base_url = options.get("base_url")
        # What the client is given, what may be shown, the credentials the URL carried.
        self._url, self.base_url, self._url_args = split_url(base_url) if base_url else ("", "", {})
        self._url, self.base_url = self._url.rstrip("/"), self.base_url.rstrip("/")
        self.embedding_model = options.get("embedding_model") or model
        self.embed_batch_size = options.get("embed_batch_size", 32)
        self.timeout = options.get("timeout", 60.0)
        self.retry = options.get("retry") or RetryPolicy()
        self.rate_limiter = options.get("rate_limiter") or RateLimiter(
            options.get("requests_per_second"), options.get("max_concurrency")
        )
        api_key = options.get("api_key")
        self._api_key = Secret(api_key) if api_key else None
        # Made on onetwo's runtime loop on first use, kept for the life of the process.
        self._clients: runtime.RuntimeValue[dict[str | None, Client]] = runtime.RuntimeValue(
            dict, close=self._close_all
        )

    def identity(self) -> dict[str, Any]:
        identity: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if self.base_url:
            identity["base_url"] = self.base_url
        identity.update(self.settings)
        return identity

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"{type(self).__name__}(model={self.model!r}{where})"

    def register(
        self,
        *,
        register_generate: bool = True,
        register_tokenize: bool = True,
        register_embed: bool = True,
    ) -> None:
        """Answer every LLM builtin: those in :attr:`builtins` with this backend's methods,
        the others (``instruct``, ``select``...) through their defaults built on them.
        What the server cannot do raises a clear error.

        The reference OneTwo's flags leave a group of builtins as they are when False:
        ``register_tokenize`` (``tokenize``, ``detokenize``, ``count_tokens``),
        ``register_embed`` (``embed``), ``register_generate`` (all the others). E.g. a
        second backend for embeddings alone: ``embedder.register(register_generate=False,
        register_tokenize=False)``.
        """

        def kept(name: str) -> bool:
            if name == "embed":
                return not register_embed
            return not (register_tokenize if name in _TOKEN_BUILTINS else register_generate)

        mine = {name: getattr(self, name) for name in self.builtins if not kept(name)}
        llm.configure_backend(kept, **mine)

    # --- what a subclass provides ---------------------------------------------------

    def _make_client(self, base_url: str | None, http_args: dict[str, Any]) -> Client:
        """A new SDK client for ``base_url`` (``None``: the SDK's default), made in the
        loop that will use it; ``http_args`` go to its httpx client."""
        raise NotImplementedError

    async def _close_client(self, client: Client) -> None:
        raise NotImplementedError

    def _map_error(self, error: Exception) -> BaseException:
        """The onetwo error for an SDK exception; others are returned unchanged."""
        return error

    def _complete(
        self, prompt: str, n: int, include_details: bool, settings: ModelSettings
    ) -> Awaitable[list[Any]]:
        """``n`` continuations of ``prompt`` (texts, or ``(text, details)``)."""
        raise NotImplementedError

    async def _converse(
        self, turns: list[tuple[str, str]], include_details: bool, settings: ModelSettings
    ) -> Any:
        """The next turn after ``turns``, ``(role, text)`` pairs; role user/model/system."""
        raise NotImplementedError

    async def _json(
        self, prompt: str | list[tuple[str, str]], schema: dict[str, Any], settings: ModelSettings
    ) -> str:
        """A reply to ``prompt`` (a text, or ``(role, text)`` turns) constrained to the JSON
        ``schema``."""
        raise NotImplementedError

    async def _embed_texts(
        self, texts: list[str], task_type: str | None = None
    ) -> Sequence[Sequence[float] | None]:
        """One embedding request for ``texts`` (``task_type``: what they are for, passed
        only by a backend whose ``embed`` takes it)."""
        raise NotImplementedError

    async def _stream(
        self, prompt: str, settings: ModelSettings, progress: Callable[[str], None]
    ) -> str:
        """``prompt`` continued as the server streams it: ``progress(text so far)`` after
        each piece of an attempt (each attempt starts again from ``""``); the whole text."""
        raise NotImplementedError

    # --- the request path -----------------------------------------------------------

    async def _base_url(self) -> str | None:
        """Where requests go (``None``: the SDK's default), without the credentials a
        ``base_url`` carried: those reach the httpx client on their own."""
        return self._url or None

    def _key(self) -> str:
        if self._api_key is not None:
            return self._api_key.value
        for name in self.key_env:
            value = os.environ.get(name)
            if value:
                Secret(value)  # remembered, so that errors and logs are redacted of it
                return value
        raise self._no_key()

    def _no_key(self) -> Exception:
        return ConfigurationError(
            f"{type(self).__name__} has no API key: pass api_key=... or set the "
            f"{self.key_env[0]} environment variable."
        )

    async def _client(self) -> Client:
        """The SDK client for the current base URL (on the runtime loop)."""
        base_url = await self._base_url()
        clients = self._clients.get()
        client = clients.get(base_url)
        if client is None:
            url = base_url or self.default_url
            network.check_url(url)
            http_args = {**network.httpx_args(url), **self._url_args}
            client = clients[base_url] = self._make_client(base_url, http_args)
        return client

    async def _close_all(self, clients: dict[str | None, Client]) -> None:
        for client in clients.values():
            await self._close_client(client)

    def _call(self, what: str, send: Callable[[Client], Awaitable[T]]) -> Awaitable[T]:
        """Send one request: ``send(client)``, through the layers of the module doc."""
        return self._on_loop(lambda: self._send(what, send))

    async def _on_loop(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Await ``fn()`` on onetwo's runtime loop, which owns the clients and the limits
        (directly when already on it, as inside ``ot.run``)."""
        return await runtime.on_runtime(fn)

    async def _send(self, what: str, send: Callable[[Client], Awaitable[T]]) -> T:
        client = await self._client()
        try:  # the first attempt, with no retry machinery in its way
            return await self._attempt(what, client, send)
        except Exception as e:
            return await self.retry.call(
                lambda: self._attempt(what, client, send),
                what=lambda: f"{self!r} {what}",
                failed=e,
            )

    async def _attempt(
        self, what: str, client: Client, send: Callable[[Client], Awaitable[T]]
    ) -> T:
        try:
            limiter = self.rate_limiter
            if limiter.unlimited:
                return await self._whole(what, send(client))
            async with limiter.slot():
                return await self._whole(what, send(client))
        except Exception as e:
            error = self._map_error(e)
            if isinstance(error, pydantic.ValidationError | json.JSONDecodeError) or (
                _read_by_sdk(error)
            ):
                error = BackendError(
                    f"{self!r} {what}: the answer is not of the API's shape (reading it "
                    f"failed with {type(e).__name__}: {e}). Check base_url."
                )
            if not isinstance(error, OneTwoError):
                raise
            # A server may echo a key in its error, an SDK put the URL's into its text.
            error.args = redact(error.args)
            if isinstance(error, BackendHTTPError):
                error.body = redact(error.body)
            if error is e:
                raise
            raise error from (e if redact(str(e)) == str(e) else None)

    async def _whole(self, what: str, request: Awaitable[T]) -> T:
        """The answer to ``request`` within :attr:`timeout`, for the whole attempt
        (connecting, sending, every byte of the answer), checked for the API's shape."""
        try:
            async with asyncio.timeout(self.timeout):
                answer = await request
        except TimeoutError:
            raise BackendTimeout(
                f"{self!r} {what}: no complete answer within timeout={self.timeout:g}s (the "
                "whole attempt: connecting, sending and reading every byte). Pass a larger "
                "timeout= for long generations."
            ) from None
        problem = answer_problem(what, answer)
        if problem:
            raise BackendError(
                f"{self!r} {what}: the server answered with {problem}. Check that base_url "
                "is the API's root (for OpenAI-compatible servers it usually ends in /v1)."
            )
        return answer

    # --- the builtins -----------------------------------------------------------------

    @caching.cache_method(name="llm.generate_text", is_sampled=True)
    @takes_settings()
    async def generate_text(
        self, prompt: Prompt, *, include_details: bool = False, **settings: Unpack[ModelSettings]
    ) -> Any:
        """Continue ``prompt``; ``(text, details)`` with ``include_details``."""
        settings = merge(self.settings, settings)
        results = await self._complete(str(prompt), 1, include_details, settings)
        if len(results) != 1:
            raise BackendError(
                f"{self!r}: asked for one completion, the server returned {len(results)}."
            )
        return results[0]

    @takes_settings()
    async def stream_text(self, prompt: Prompt, **settings: Unpack[ModelSettings]) -> str:
        """Continue ``prompt`` as ``generate_text`` does, emitting the text as the server
        sends it (``onetwo.core.streaming.emit_delta``: ``ot.stream_updates`` shows it).

        Cached as the final text under ``generate_text``'s key, so a replay (or a prompt
        ``generate_text`` already answered) emits the whole text at once. ``timeout=``
        bounds the whole stream, as any attempt. A retry after a broken stream emits
        only what goes beyond the text already emitted.
        """
        shown: list[str] = []  # the text emitted so far, across attempts
        text = await self._streamed_text(prompt, shown=shown, **settings)
        if not shown:  # from the cache, or shared with an identical call in flight
            _emit(text)
        elif text.startswith(shown[0]) and len(text) > len(shown[0]):
            _emit(text[len(shown[0]) :])
        return text

    @caching.cache_method(name="llm.generate_text", is_sampled=True, ignore_args=["shown"])
    @takes_settings()
    async def _streamed_text(
        self,
        prompt: Prompt,
        *,
        include_details: bool = False,  # as in generate_text, whose cache key this shares
        shown: list[str] | None = None,
        **settings: Unpack[ModelSettings],
    ) -> str:
        del include_details
        emitted = shown if shown is not None else []

        def progress(text: str) -> None:
            before = emitted[0] if emitted else ""
            if len(text) > len(before) and text.startswith(before):
                _emit(text[len(before) :])
                emitted[:] = [text]

        return await self._stream(str(prompt), merge(self.settings, settings), progress)

    # The server applies its own chat template: a formatter changes nothing, so it is
    # left out of the key (and may be any object).
    @caching.cache_method(name="llm.chat", is_sampled=True, ignore_args=["formatter"])
    @takes_settings()
    async def chat(
        self,
        messages: Sequence[Message],
        *,
        formatter: Any = None,
        include_details: bool = False,
        **settings: Unpack[ModelSettings],
    ) -> Any:
        """The model's next turn, with the server's chat template (``formatter`` unused)."""
        del formatter
        return await self._converse(
            turns(messages, type(self).__name__), include_details, merge(self.settings, settings)
        )

    @takes_settings(omit=("stop",))
    async def generate_object(
        self, prompt: Prompt | Sequence[Message], cls: Any, **settings: Unpack[ModelSettings]
    ) -> Any:
        """A value of type ``cls``, generated under its JSON schema and validated;
        ``prompt`` may be a conversation (a list of ``Message``)."""
        schema, wrapped = object_schema(cls)
        if has_media(prompt) or (
            not isinstance(prompt, str | ChunkList) and any(has_media(m.content) for m in prompt)
        ):
            raise InvalidArgumentError(
                f"{type(self).__name__}.generate_object takes text; the prompt holds an image "
                "or other media. Describe it in text, or ask llm.chat first."
            )
        if isinstance(prompt, str | ChunkList):
            asked: str | list[tuple[str, str]] = str(prompt)
        else:
            asked = turns(prompt, type(self).__name__)
        text = await self._generate_json(asked, json.dumps(schema, sort_keys=True), **settings)
        return parse_json(text, cls, wrapped)

    @caching.cache_method(name="llm.generate_object", is_sampled=True)
    @takes_settings(omit=("stop",))
    async def _generate_json(
        self, prompt: str | list[tuple[str, str]], schema: str, **settings: Unpack[ModelSettings]
    ) -> str:
        # Cached as text, so the cache never has to store the caller's types.
        settings = merge(self.settings, settings)
        settings.pop("stop", None)
        return await self._json(prompt, json.loads(schema), settings)

    @caching.cache_method(name="llm.embed")
    async def embed(self, content: Prompt) -> list[float]:
        """The embedding of ``content`` (``embedding_model``); concurrent calls are batched,
        ``embed_batch_size`` inputs per request. Text only: media is refused, never
        embedded as its placeholder text."""
        if has_media(content):
            raise InvalidArgumentError(
                f"{type(self).__name__}.embed embeds text; the content holds an image or other "
                "media. Embed its text, or use a multimodal embedding backend (Gemini)."
            )
        return await self._embed_batch((str(content), None))

    @batching.batch_method(
        batch_size=lambda self: self.embed_batch_size,
        max_concurrent_batches=4,
        batching_function=lambda self: _same_task_type,
    )
    async def _embed_batch(self, requests: list[tuple[str, str | None]]) -> list[list[float]]:
        """The embeddings of ``(text, task type)`` requests of one task type: one request."""
        texts, task_type = [text for text, _ in requests], requests[0][1]
        if task_type is None:
            vectors = await self._embed_texts(texts)
        else:
            vectors = await self._embed_texts(texts, task_type=task_type)
        if len(vectors) != len(texts) or any(v is None for v in vectors):
            raise BackendError(
                f"{self!r}: asked for {len(texts)} embeddings, the server returned "
                f"{len(vectors)} vectors."
            )
        return [list(v or ()) for v in vectors]
