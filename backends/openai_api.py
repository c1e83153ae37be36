"""The OpenAI backend: OpenAI's API, or any OpenAI-compatible server, via the official SDK.

:class:`OpenAIAPI` implements the LLM builtins on ``openai.AsyncOpenAI``. Point
``base_url`` at any OpenAI-compatible server (llama.cpp, vLLM...); on a llama.cpp server
(``server_kind="llama.cpp"``, as the embedded local model uses) it also tokenizes and
scores text exactly; ``llm.select``/``llm.rank`` work on every server (scored where it
can score, else by constrained generation).

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
  prefix that llama.cpp continues. Images (a ``Chunk`` of bytes with a MIME type, or a
  PIL image) go as ``image_url`` parts with ``data:`` URLs, in ``chat`` and in
  ``generate_text`` (then a one-message chat): ``_media``.
* ``generate_object``: structured output (``response_format`` with the JSON schema of
  the type), validated with pydantic.
* ``chat_with_tools``: ``/v1/chat/completions`` with ``tools=`` (each a function) and
  ``tool_choice``; the reply's ``tool_calls`` come back with their arguments decoded.
* ``embed``: ``/v1/embeddings``. ``tokenize``/``count_tokens``/``score_text``: llama.cpp's
  ``/tokenize``, and log-probs of the target forced with a token-id grammar (``_llamacpp``);
  ``score_text`` elsewhere: ``/v1/completions`` with ``echo=True`` (OpenAI's legacy
  completions, vLLM), refused once a server answers without prompt log-probs.
* ``select``/``rank``: each option's token log-probs (as ``score_text``, combined as
  ``scoring=`` says) where the server gives them; elsewhere a chat reply constrained to
  one of the options by a JSON schema, scored from its ``top_logprobs`` (``_choosing``).

Retries (the SDK's own are off), rate limits, the network guard and the API key (never
in cache keys, traces, reprs or logs) are the remote backends' shared request path:
``_remote``.
"""

from __future__ import annotations

import asyncio
import os
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal, Unpack, cast

from onetwo.backends._common import missing_sdk

try:
    import openai
except ImportError as e:  # pragma: no cover - depends on the environment
    raise missing_sdk(__name__, "openai", "openai") from e

from onetwo.backends import _choosing, _llamacpp
from onetwo.backends._choosing import Chooser, TopLogprobs
from onetwo.backends._media import MediaPrompts
from onetwo.backends._openai_wire import (
    drop_prefix,
    echoed_logprobs,
    logprob_entries,
    map_error,
    results,
    to_messages,
    tool_calls,
    tool_messages,
)
from onetwo.backends._remote import Prompt, RemoteBackend, RemoteOptions, now
from onetwo.backends._settings import check_options, takes_settings
from onetwo.backends._tools import NativeTools, ToolTurn
from onetwo.builtins import choice
from onetwo.builtins.choice import Scores, Scoring
from onetwo.builtins.settings import ModelSettings, merge
from onetwo.core import caching, sampling
from onetwo.core.content import Message
from onetwo.errors import BackendError, ConfigurationError, InvalidArgumentError

__all__ = ["OpenAIAPI", "ServerKind"]

ServerKind = Literal["openai", "llama.cpp", "compatible"]


class OpenAIAPI(Chooser, MediaPrompts, NativeTools, RemoteBackend[openai.AsyncOpenAI]):
    """The LLM builtins on the OpenAI API or an OpenAI-compatible server (module doc).

    Args:
        model: the model name the server knows, e.g. ``"gpt-4o-mini"``.
        server_kind: ``"openai"`` (default without ``base_url``), ``"llama.cpp"``
            (adds tokenize, count_tokens and score_text), or ``"compatible"`` (default
            with ``base_url``).
        use_completions: send ``generate_text`` to ``/v1/completions`` (default: every
            server kind but ``"openai"``).
        max_samples_per_request: split ``generate_texts`` into requests of at most this
            many samples (``n``); llama.cpp allows at most its number of slots.
        seed: send each request the seed ``seed`` + a hash of its sampling key, so a
            rerun samples the same texts (on servers that honour ``seed``) while
            repeated samples (``ot.repeat``) still differ.
        **options: as :class:`~onetwo.backends._remote.RemoteBackend` takes them, e.g.
            ``base_url`` (the server, e.g. ``"http://127.0.0.1:8080/v1"``; default
            ``$OPENAI_BASE_URL``, else OpenAI's), ``api_key`` (default
            ``$OPENAI_API_KEY`` for OpenAI itself; a server at ``base_url`` gets only a key
            passed here, never the environment's), ``embedding_model`` (default OpenAI's
            ``text-embedding-3-small`` on OpenAI, else ``model``), ``cache``,
            ``timeout``, ``retry``, limits, and default sampling settings
            (``temperature``, ``max_tokens``...).
    """

    provider = "openai"
    default_url = "https://api.openai.com/v1"
    key_env = ("OPENAI_API_KEY",)
    builtins = (*RemoteBackend.builtins, "chat_with_tools", "generate_texts", "rank", "select")

    def __init__(
        self,
        model: str = "gpt-4o-mini",
        *,
        server_kind: ServerKind | None = None,
        use_completions: bool | None = None,
        max_samples_per_request: int | None = None,
        seed: int | None = None,
        **options: Unpack[RemoteOptions],
    ) -> None:
        check_options(type(self).__name__, **locals())
        given_url = options.get("base_url")
        self.server_kind: ServerKind = server_kind or ("compatible" if given_url else "openai")
        options["base_url"] = given_url or os.environ.get("OPENAI_BASE_URL")
        if not options.get("embedding_model") and self.server_kind == "openai":
            options["embedding_model"] = "text-embedding-3-small"
        super().__init__(model, **options)
        self.use_completions = (
            use_completions if use_completions is not None else self.server_kind != "openai"
        )
        self.max_samples_per_request = max_samples_per_request
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise InvalidArgumentError(
                f"OpenAIAPI(seed={seed!r}): seed must be an int, e.g. seed=0."
            )
        self.seed = seed
        self._echoes: bool | None = None  # whether the server returns prompt log-probs

    def identity(self) -> dict[str, Any]:
        identity = super().identity()
        # Settings that change what a builtin returns for the same arguments.
        identity["generate_text_via"] = "completions" if self.use_completions else "chat"
        if self.embedding_model != self.model:
            identity["embedding_model"] = self.embedding_model
        if self.seed is not None:
            identity["seed"] = self.seed
        return identity

    @property
    def can_tokenize(self) -> bool:
        return self.server_kind == "llama.cpp"

    # --- the wire ---------------------------------------------------------------------

    def _make_client(self, base_url: str | None, http_args: dict[str, Any]) -> openai.AsyncOpenAI:
        return openai.AsyncOpenAI(
            api_key=self._key(),
            base_url=base_url,
            max_retries=0,  # retries happen in one layer: ours
            timeout=self.timeout,
            http_client=openai.DefaultAsyncHttpxClient(**http_args),
        )

    async def _close_client(self, client: openai.AsyncOpenAI) -> None:
        await client.close()

    def _map_error(self, error: Exception) -> BaseException:
        return map_error(error, self.timeout)

    def _key(self) -> str:
        if self._api_key is None and self.server_kind != "openai":
            # Never send $OPENAI_API_KEY to another server; most local ones need no key.
            return "unused"
        return super()._key()

    def _no_key(self) -> Exception:
        return ConfigurationError(
            "OpenAIAPI has no API key: pass api_key=... or set the OPENAI_API_KEY "
            "environment variable (or pass base_url= for a local OpenAI-compatible server)."
        )

    def _request_model(self) -> str:
        return self.model

    def _sampling(self, settings: ModelSettings) -> dict[str, Any]:
        args: dict[str, Any] = dict(settings)
        stop = args.pop("stop", None)
        if stop:
            args["stop"] = [stop] if isinstance(stop, str) else list(stop)
        top_k = args.pop("top_k", None)
        if top_k is not None:
            if self.server_kind == "openai":
                raise ValueError(
                    f"top_k={top_k} is not supported by the OpenAI API; drop it, or use "
                    "top_p. (OpenAI-compatible servers such as llama.cpp accept it.)"
                )
            args["extra_body"] = {"top_k": top_k}
        if self.seed is not None:
            key = sampling.current_sampling_key().encode()
            args["seed"] = (self.seed + zlib.crc32(key)) % 2**31
        return args

    def _complete(
        self, prompt: str, n: int, include_details: bool, settings: ModelSettings
    ) -> Awaitable[list[Any]]:
        if self.use_completions:
            return self._completions(prompt, n, include_details, settings)
        return self._chat([{"role": "user", "content": prompt}], n, include_details, settings)

    async def _completions(
        self, prompt: str, n: int, include_details: bool, settings: ModelSettings
    ) -> list[Any]:
        args = self._sampling(settings)
        if n != 1:
            args["n"] = n
        if include_details:
            args["logprobs"] = 1
        began = now()
        response = await self._call(
            "completions",
            lambda c: c.completions.create(model=self._request_model(), prompt=prompt, **args),
        )
        return results(response, now() - began, include_details, lambda ch: ch.text)

    async def _chat(
        self,
        messages: list[dict[str, Any]],
        n: int,
        include_details: bool,
        settings: ModelSettings,
        **args: Any,
    ) -> list[Any]:
        args.update(self._sampling(settings))
        if n != 1:
            args["n"] = n
        if include_details:
            args["logprobs"] = True
        began = now()
        response = await self._call(
            "chat",
            lambda c: c.chat.completions.create(
                model=self._request_model(), messages=cast(Any, messages), **args
            ),
        )
        return results(response, now() - began, include_details, lambda ch: ch.message.content)

    async def _converse(
        self, turns: list[tuple[str, str]], include_details: bool, settings: ModelSettings
    ) -> Any:
        # A final MODEL message is a prefix: llama.cpp continues it; only the
        # continuation is returned.
        wire = to_messages(turns)
        [result] = await self._chat(wire, 1, include_details, settings)
        if wire and wire[-1]["role"] == "assistant":
            result = drop_prefix(result, wire[-1]["content"])
        return result

    async def _converse_media(
        self, messages: Sequence[Message], include_details: bool, settings: ModelSettings
    ) -> Any:
        # Images go as `image_url` parts with `data:` URLs (see `_openai_wire`).
        [result] = await self._chat(tool_messages(messages), 1, include_details, settings)
        return result

    async def _json(
        self, prompt: str | list[tuple[str, str]], schema: dict[str, Any], settings: ModelSettings
    ) -> str:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema, "strict": False},
        }
        if isinstance(prompt, str):
            messages = [{"role": "user", "content": prompt}]
        else:
            messages = to_messages(prompt)
        [text] = await self._chat(messages, 1, False, settings, response_format=response_format)
        return str(text)

    async def _embed_texts(
        self, texts: list[str], task_type: str | None = None
    ) -> list[list[float]]:
        response = await self._call(
            "embeddings",
            lambda c: c.embeddings.create(model=self._embedding_model(), input=texts),
        )
        return [d.embedding for d in sorted(response.data, key=lambda d: d.index)]

    def _embedding_model(self) -> str:
        # The same model serving both: ask for it by the name the server knows it by.
        if self.embedding_model == self.model:
            return self._request_model()
        return self.embedding_model

    async def _stream(
        self, prompt: str, settings: ModelSettings, progress: Callable[[str], None]
    ) -> str:
        """``prompt`` continued as the server streams it (server-sent events): the
        completions endpoint, or a one-message chat where ``generate_text`` uses one."""
        args = self._sampling(settings)

        async def send(client: openai.AsyncOpenAI) -> list[str]:
            model = self._request_model()
            if self.use_completions:
                request = client.completions.create(model=model, prompt=prompt, stream=True, **args)
            else:
                messages: Any = [{"role": "user", "content": prompt}]
                request = client.chat.completions.create(
                    model=model, messages=messages, stream=True, **args
                )
            pieces: list[str] = []
            async with await request as stream:
                kind = stream.response.headers.get("content-type", "")
                if not kind.startswith("text/event-stream"):
                    raise BackendError(
                        f"{self!r} stream: the server answered {kind or 'no content type'}, "
                        "not a stream of server-sent events; check base_url."
                    )
                async for chunk in stream:
                    for choice in chunk.choices or ():  # the usage chunk has none
                        delta = getattr(choice, "delta", None)
                        piece = choice.text if delta is None else delta.content
                        if piece:
                            pieces.append(piece)
                            progress("".join(pieces))
            return pieces

        return "".join(await self._call("stream", send))

    # --- generate_texts, tokens and scores ----------------------------------------------

    @caching.cache_method(name="llm.generate_texts", is_sampled=True)
    @takes_settings()
    async def generate_texts(
        self,
        prompt: Prompt,
        samples: int = 1,
        *,
        include_details: bool = False,
        **settings: Unpack[ModelSettings],
    ) -> list[Any]:
        """``samples`` completions, ``n`` at a time (split to the server's limit)."""
        if samples < 0:
            raise ValueError(f"samples must be >= 0, got {samples}.")
        merged = merge(self.settings, settings)
        size = self.max_samples_per_request or samples or 1
        sizes = [min(size, samples - i) for i in range(0, samples, size)]
        parts = await asyncio.gather(
            *(self._complete(str(prompt), n, include_details, merged) for n in sizes)
        )
        return [r for part in parts for r in part]

    async def _tool_turn(self, turn: ToolTurn) -> dict[str, Any]:
        args = self._sampling(turn.settings)
        args["tools"] = [{"type": "function", "function": dict(t)} for t in turn.tools]
        if turn.tool_choice in ("auto", "none", "required"):
            args["tool_choice"] = turn.tool_choice
        elif turn.tool_choice is not None:
            args["tool_choice"] = {"type": "function", "function": {"name": turn.tool_choice}}
        wire = tool_messages(turn.messages)
        response = await self._call(
            "chat",
            lambda c: c.chat.completions.create(
                model=self._request_model(), messages=cast(Any, wire), **args
            ),
        )
        message = response.choices[0].message
        return {"text": message.content or "", "tool_calls": tool_calls(message)}

    def _refuse(self, what: str) -> ConfigurationError:
        return ConfigurationError(
            f"{self!r} cannot {what}: this needs a llama.cpp server (its /tokenize endpoint "
            "and forced-token log-probs) or, for scores, a completions endpoint that returns "
            f"prompt log-probs (echo=True); server_kind is {self.server_kind!r}. Use the "
            "embedded model (onetwo.backends.local_backend()) or "
            "OpenAIAPI(base_url=..., server_kind='llama.cpp') for a llama.cpp server."
        )

    @property
    def can_score(self) -> bool:
        """Whether ``score_text`` may work: on llama.cpp, or through ``/v1/completions``
        with ``echo`` until a server answers without prompt log-probs."""
        return self.can_tokenize or (self.use_completions and self._echoes is not False)

    @caching.cache_method(name="llm.tokenize")
    async def tokenize(self, content: Prompt) -> list[int]:
        """The model's token ids for ``content`` (llama.cpp servers only)."""
        if not self.can_tokenize:
            raise self._refuse("tokenize text")
        return await _llamacpp.tokenize(self, str(content))

    async def count_tokens(self, content: Prompt) -> int:
        """How many tokens ``content`` is (llama.cpp servers only)."""
        return len(await self.tokenize(content))

    async def score_text(self, prompt: Prompt, targets: Sequence[str]) -> list[float]:
        """Log-probability of each target after ``prompt`` (sum over its tokens).

        Exact on llama.cpp servers: each target is forced with a token-id grammar and the
        log-probs of its tokens are summed (see ``onetwo.backends._llamacpp``).
        """
        texts = choice.check_targets("llm.score_text", "targets", targets)
        if not self.can_score:
            raise self._refuse("score text (llm.score_text)")
        return [sum(t) for t in await self._token_logprobs(str(prompt), texts)]

    @caching.cache_method(name="llm.score_text.tokens")
    async def _token_logprobs(self, prompt: str, targets: list[str]) -> list[list[float]]:
        if self.can_tokenize:
            return await _llamacpp.token_logprobs(self, prompt, targets)
        return list(await asyncio.gather(*(self._echoed(prompt, t) for t in targets)))

    async def _echoed(self, prompt: str, target: str) -> list[float]:
        """The target's token log-probs from a completion echoing prompt + target."""
        if not target:
            return []
        response = await self._call(
            "score_text",
            lambda c: c.completions.create(
                model=self._request_model(),
                prompt=prompt + target,
                echo=True,
                max_tokens=1,
                logprobs=1,
                temperature=0.0,
            ),
        )
        values = echoed_logprobs(response.choices[0], prompt + target, len(prompt))
        self._echoes = values is not None
        if values is None:
            raise self._refuse("score text (llm.score_text): the server sent no prompt log-probs")
        return values

    async def _option_scores(self, prompt: Prompt, options: list[str], scoring: Scoring) -> Scores:
        try:
            tokens = await self._token_logprobs(str(prompt), options) if self.can_score else None
        except ConfigurationError:
            if self.can_score:
                raise
            tokens = None  # the server does not echo prompt log-probs: it learnt that
        if tokens is None:
            return await _choosing.by_generation(prompt, options, self._answer_under_schema)
        sums = [sum(t) for t in tokens]
        if scoring == "normalized":
            base = await self._token_logprobs(choice.UNCONDITIONAL_PROMPT, options)
            return choice.combine(scoring, sums, [sum(t) for t in base])
        return choice.combine(scoring, sums, [len(t) for t in tokens])

    @caching.cache_method(name="llm.select.generation")
    async def _answer_under_schema(
        self, question: str, schema: dict[str, Any]
    ) -> tuple[str, TopLogprobs | None]:
        """A greedy chat reply under ``schema``, with the top log-probs of its tokens."""
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": "choice", "schema": schema, "strict": True},
        }
        longest = max(len(o) for o in schema["properties"]["answer"]["enum"])
        response = await self._call(
            "chat",
            lambda c: c.chat.completions.create(
                model=self._request_model(),
                messages=[{"role": "user", "content": question}],
                temperature=0.0,
                max_tokens=64 + longest,
                logprobs=True,
                top_logprobs=20,
                response_format=cast(Any, response_format),
            ),
        )
        first = response.choices[0]
        entries = logprob_entries(first.logprobs)
        top = [
            (
                str(e.get("token", "")),
                [(t["token"], t["logprob"]) for t in e.get("top_logprobs") or []],
            )
            for e in entries
        ]
        return first.message.content or "", top or None
