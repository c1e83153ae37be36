"""The Gemini backend: Google's Gemini API through the official ``google-genai`` SDK.

:class:`GoogleGenAIAPI` implements the LLM builtins on the SDK's async client
(``client.aio``): text, chat (images as inline data: ``_media``), structured output
(response JSON schema), native function calling (``chat_with_tools``), embeddings and
token counts, and ``select``/``rank`` by constrained generation (a reply under a JSON
schema whose ``enum`` is the options, scored from its top log-probs: ``_choosing``).
Gemini returns no prompt log-probs and has no tokenizer endpoint, so ``score_text`` and
``tokenize`` raise a clear error.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> from onetwo.backends.google_genai_api import GoogleGenAIAPI
    >>> GoogleGenAIAPI("gemini-2.5-flash").register()   # reads GEMINI_API_KEY
    >>> ot.run(llm.instruct("Name a color.", max_tokens=5))  # doctest: +SKIP
    'Blue'

``base_url=`` points the SDK at another server speaking the same REST API (the tests use
a local shim in front of the real local model); ``api_version=`` picks ``v1``/``v1beta``.
``thinking_config=`` and ``safety_settings=`` (the SDK's own fields and types, e.g.
``types.ThinkingConfig(thinking_budget=128, include_thoughts=True)`` or
:data:`SAFETY_DISABLED`) go with every request and are part of the cache identity.
What lies between a builtin and the SDK (retries, limits, the network guard, a key kept
out of every trace, cache and log) is shared with the OpenAI backend: see ``_remote``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Unpack, cast

from onetwo.backends._common import missing_sdk

try:
    import httpx2
    import pydantic
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types
except ImportError as e:  # pragma: no cover - depends on the environment
    raise missing_sdk(__name__, "google-genai", "gemini") from e
from onetwo.backends import _choosing
from onetwo.backends._choosing import Chooser, TopLogprobs
from onetwo.backends._common import details, has_media, http_error, usage
from onetwo.backends._media import MediaPrompts
from onetwo.backends._remote import Prompt, RemoteBackend, RemoteOptions, now
from onetwo.backends._retry import parse_retry_after
from onetwo.backends._settings import check_options, takes_settings
from onetwo.backends._tools import NativeTools, ToolTurn
from onetwo.builtins import llm
from onetwo.builtins.choice import Scores, Scoring
from onetwo.builtins.settings import ModelSettings, merge
from onetwo.core import caching, tracing
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole
from onetwo.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ConfigurationError,
    InvalidArgumentError,
)

__all__ = ["SAFETY_DISABLED", "GoogleGenAIAPI"]

AsyncClient = genai.client.AsyncClient

SAFETY_DISABLED: Final[Sequence[types.SafetySetting]] = [  # a list, as in the reference
    types.SafetySetting(category=category, threshold=types.HarmBlockThreshold.BLOCK_NONE)
    for category in (
        types.HarmCategory.HARM_CATEGORY_HARASSMENT,
        types.HarmCategory.HARM_CATEGORY_HATE_SPEECH,
        types.HarmCategory.HARM_CATEGORY_SEXUALLY_EXPLICIT,
        types.HarmCategory.HARM_CATEGORY_DANGEROUS_CONTENT,
    )
]
"""``safety_settings=`` that block nothing (the reference OneTwo's name for them)."""


class GoogleGenAIAPI(Chooser, MediaPrompts, NativeTools, RemoteBackend[AsyncClient]):
    """The LLM builtins on the Gemini API (see the module docstring).

    Args:
        model: e.g. ``"gemini-2.5-flash"``.
        api_version: ``"v1"``, ``"v1beta"``...; default the SDK's.
        embedding_dimensions: truncate embeddings to this size (``outputDimensionality``).
        thinking_config: how much a thinking model thinks and whether its thought
            summaries come back (``details["thoughts"]`` of ``generate_content``): a
            ``types.ThinkingConfig`` or its fields as a dict, e.g.
            ``{"thinking_budget": 128}``. A copy is kept: to change it, make a new backend.
            Thinking tokens count against ``max_tokens``. Like the sampling settings, it
            is part of the identity that keys every cached call, embeddings included (a
            separate embedding backend keeps its entries when this one's changes).
        safety_settings: a list of ``types.SafetySetting`` (or dicts), e.g.
            :data:`SAFETY_DISABLED`.
        **options: as :class:`~onetwo.backends._remote.RemoteBackend` takes them, e.g.
            ``base_url`` (another server speaking the Gemini REST API; default Google's),
            ``api_key`` (default ``$GEMINI_API_KEY`` or ``$GOOGLE_API_KEY``),
            ``embedding_model`` (default ``gemini-embedding-001``), ``embed_batch_size``
            (inputs per ``batchEmbedContents`` request, default 100), ``cache``,
            ``timeout``, ``retry``, limits, and default sampling settings
            (``temperature``, ``max_tokens``...).
    """

    provider = "gemini"
    default_url = "https://generativelanguage.googleapis.com"
    key_env = ("GEMINI_API_KEY", "GOOGLE_API_KEY")
    builtins = (*RemoteBackend.builtins, "chat_with_tools", "generate_content", "rank", "select")

    def __init__(
        self,
        model: str = "gemini-2.5-flash",
        *,
        api_version: str | None = None,
        embedding_dimensions: int | None = None,
        thinking_config: types.ThinkingConfig | Mapping[str, Any] | None = None,
        safety_settings: Sequence[types.SafetySetting | Mapping[str, Any]] | None = None,
        **options: Unpack[RemoteOptions],
    ) -> None:
        check_options(type(self).__name__, **locals())
        options.setdefault("embedding_model", "gemini-embedding-001")
        options.setdefault("embed_batch_size", 100)
        # Fields every generateContent request carries (validated copies: part of the key),
        # checked before the base class opens the cache folder.
        config: dict[str, Any] = {}
        if thinking_config is not None:
            config["thinking_config"] = _sdk_value(
                types.ThinkingConfig, "thinking_config", thinking_config
            )
        if safety_settings is not None:
            if isinstance(safety_settings, str | Mapping) or not isinstance(
                safety_settings, Sequence
            ):
                raise InvalidArgumentError(
                    f"GoogleGenAIAPI(safety_settings={safety_settings!r:.80}): safety_settings "
                    "must be a list of types.SafetySetting; pass e.g. safety_settings="
                    "google_genai_api.SAFETY_DISABLED."
                )
            config["safety_settings"] = [
                _sdk_value(types.SafetySetting, f"safety_settings[{i}]", s)
                for i, s in enumerate(safety_settings)
            ]
        super().__init__(model, **options)
        self.api_version = api_version
        self.embedding_dimensions = embedding_dimensions
        self._config = config

    def identity(self) -> dict[str, Any]:
        identity = super().identity()
        identity["embedding_model"] = self.embedding_model
        if self.embedding_dimensions is not None:
            identity["embedding_dimensions"] = self.embedding_dimensions
        for name, value in self._config.items():  # absent when not set: keys as before
            identity[name] = _dumped(value)
        return identity

    # --- the wire ---------------------------------------------------------------------

    def _make_client(self, base_url: str | None, http_args: dict[str, Any]) -> AsyncClient:
        options = types.HttpOptions(
            base_url=base_url,
            api_version=self.api_version,
            timeout=int(self.timeout * 1000),
            retry_options=types.HttpRetryOptions(attempts=1),  # retries are ours
            async_client_args=http_args,
        )
        # The Gemini API, even where $GOOGLE_GENAI_USE_VERTEXAI (set for Vertex AI work)
        # would switch the SDK to Vertex AI.
        return genai.Client(vertexai=False, api_key=self._key(), http_options=options).aio

    async def _close_client(self, client: AsyncClient) -> None:
        await client.aclose()

    def _map_error(self, error: Exception) -> BaseException:
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
            return BackendTimeout(f"The server did not answer within {self.timeout:g}s.")
        if isinstance(error, httpx2.TransportError):
            url = error.request.url if error._request is not None else ""
            return BackendUnavailable(
                f"Could not reach the server at {url}: {type(error).__name__}: {error}"
            )
        if isinstance(error, json.JSONDecodeError):
            return BackendError(f"The server's answer was not valid JSON: {error}")
        return error

    async def _generate(
        self, contents: Any, include_details: bool, settings: ModelSettings, **config: Any
    ) -> Any:
        generation = self._generation_config(
            settings, response_logprobs=True if include_details else None, **config
        )
        began = now()
        response = await self._respond(contents, generation)
        text = _text(response)
        if not include_details and not tracing.is_enabled():
            return text
        found = _details(response, began)
        return (text, found) if include_details else text

    async def _respond(self, contents: Any, config: types.GenerateContentConfig) -> Any:
        """One ``generateContent`` request."""
        return await self._call(
            "generateContent",
            lambda c: c.models.generate_content(model=self.model, contents=contents, config=config),
        )

    async def _complete(
        self, prompt: str, n: int, include_details: bool, settings: ModelSettings
    ) -> list[Any]:
        return [await self._generate(prompt, include_details, settings) for _ in range(n)]

    async def _converse(
        self, turns: list[tuple[str, str]], include_details: bool, settings: ModelSettings
    ) -> Any:
        instruction, contents = _turn_contents(turns)
        return await self._generate(
            contents, include_details, settings, system_instruction=instruction
        )

    async def _converse_media(
        self, messages: Sequence[Message], include_details: bool, settings: ModelSettings
    ) -> Any:
        # Images go as `inline_data` parts (bytes and MIME type).
        system, contents = _tool_contents(messages)
        return await self._generate(contents, include_details, settings, system_instruction=system)

    @takes_settings()
    async def generate_content(
        self,
        prompt: Prompt | Sequence[Message],
        *,
        include_details: bool = False,
        **settings: Unpack[ModelSettings],
    ) -> Any:
        """The reply's parts as chunks: text as str, inline data as bytes with its MIME type;
        ``(chunks, details)`` with ``include_details``, ``details["thoughts"]`` the thought
        parts the server returned, as chunks (none unless ``thinking_config`` has
        ``include_thoughts=True``). ``prompt`` may be a list of messages."""
        if not include_details:
            return await self._content(prompt, **settings)
        chunks, found = await self._content_with_details(prompt, **settings)
        if isinstance(thoughts := found.get(llm.THOUGHTS), str):  # recorded before ChunkList
            found = {**found, llm.THOUGHTS: ChunkList([Chunk(thoughts)] if thoughts else [])}
        return chunks, found

    # Two cache entries, so plain calls keep the keys they had before details existed.
    @caching.cache_method(name="llm.generate_content", is_sampled=True)
    @takes_settings()
    async def _content(
        self, prompt: Prompt | Sequence[Message], **settings: Unpack[ModelSettings]
    ) -> ChunkList:
        response, _ = await self._content_response(prompt, merge(self.settings, settings))
        return _chunks(response)

    @caching.cache_method(name="llm.generate_content.details", is_sampled=True)
    @takes_settings()
    async def _content_with_details(
        self, prompt: Prompt | Sequence[Message], **settings: Unpack[ModelSettings]
    ) -> tuple[ChunkList, dict[str, Any]]:
        response, began = await self._content_response(prompt, merge(self.settings, settings))
        return _chunks(response), {**_details(response, began), llm.THOUGHTS: _thoughts(response)}

    async def _content_response(
        self, prompt: Prompt | Sequence[Message], settings: ModelSettings
    ) -> tuple[types.GenerateContentResponse, float]:
        if isinstance(prompt, str | ChunkList):
            system, contents = None, [types.Content(role="user", parts=_parts(prompt))]
        else:
            system, contents = _tool_contents(prompt)
        config = self._generation_config(settings, system_instruction=system)
        began = now()
        return await self._respond(contents, config), began

    async def _json(
        self, prompt: str | list[tuple[str, str]], schema: dict[str, Any], settings: ModelSettings
    ) -> str:
        instruction, contents = (
            (None, prompt) if isinstance(prompt, str) else _turn_contents(prompt)
        )
        return str(
            await self._generate(
                contents,
                False,
                settings,
                system_instruction=instruction,
                response_mime_type="application/json",
                response_json_schema=schema,
            )
        )

    async def embed(self, content: Prompt, *, task_type: str | None = None) -> list[float]:
        """The embedding of ``content`` (``embedding_model``), for ``task_type`` if given
        (``"RETRIEVAL_DOCUMENT"``, ``"RETRIEVAL_QUERY"``, ``"QUESTION_ANSWERING"``,
        ``"SEMANTIC_SIMILARITY"``...: Gemini's task types); concurrent calls are batched.
        Content with images is sent as its parts, in a request of its own (for a
        multimodal ``embedding_model``)."""
        if has_media(content):
            return await self._embed_media(content, task_type)
        if task_type is None:
            return await super().embed(content)  # keyed as before task types existed
        return await self._embed_for_task(content, task_type)

    @caching.cache_method(name="llm.embed.task_type")
    async def _embed_for_task(self, content: Prompt, task_type: str) -> list[float]:
        return await self._embed_batch((str(content), task_type))

    @caching.cache_method(name="llm.embed.media")
    async def _embed_media(self, content: Prompt, task_type: str | None) -> list[float]:
        content_parts = types.Content(role="user", parts=_parts(content))
        vectors = await self._embed_request(content_parts, task_type)
        if len(vectors) != 1 or vectors[0] is None:
            raise BackendError(
                f"{self!r}: asked for 1 embedding, the server returned {len(vectors)}."
            )
        return list(vectors[0])

    async def _embed_texts(
        self, texts: list[str], task_type: str | None = None
    ) -> list[list[float] | None]:
        return await self._embed_request(cast(Any, texts), task_type)

    async def _embed_request(
        self, contents: Any, task_type: str | None
    ) -> list[list[float] | None]:
        """One embedding request (``batchEmbedContents``) for texts or one content's parts."""
        config = types.EmbedContentConfig(
            output_dimensionality=self.embedding_dimensions, task_type=task_type
        )
        response = await self._call(
            "batchEmbedContents",
            lambda c: c.models.embed_content(
                model=self.embedding_model, contents=contents, config=config
            ),
        )
        return [e.values for e in response.embeddings or []]

    def _generation_config(
        self, settings: ModelSettings, **config: Any
    ) -> types.GenerateContentConfig:
        """The sampling settings as Gemini's generation config, with ``config`` and the
        backend's own fields (thinking, safety)."""
        stop = settings.get("stop")
        return types.GenerateContentConfig(
            temperature=settings.get("temperature"),
            max_output_tokens=settings.get("max_tokens"),
            stop_sequences=([stop] if isinstance(stop, str) else list(stop)) if stop else None,
            top_k=settings.get("top_k"),
            top_p=settings.get("top_p"),
            **self._config,
            **config,
        )

    async def _stream(
        self, prompt: str, settings: ModelSettings, progress: Callable[[str], None]
    ) -> str:
        """``prompt`` continued as the server streams it (``streamGenerateContent``)."""
        config = self._generation_config(settings)

        async def send(client: AsyncClient) -> list[str]:
            pieces: list[str] = []
            chunks = await client.models.generate_content_stream(
                model=self.model, contents=prompt, config=config
            )
            async for chunk in chunks:
                piece = _text(chunk)
                if piece:
                    pieces.append(piece)
                    progress("".join(pieces))
            return pieces

        return "".join(await self._call("streamGenerateContent", send))

    # --- tokens and scores ------------------------------------------------------------

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
            f"{self!r} cannot score text (llm.score_text): the Gemini API returns "
            "log-probs of generated tokens only, not of a given continuation. llm.select "
            "and llm.rank work (by constrained generation); for scores use a backend "
            "that scores, e.g. onetwo.backends.local_backend()."
        )

    async def _option_scores(self, prompt: Prompt, options: list[str], scoring: Scoring) -> Scores:
        return await _choosing.by_generation(prompt, options, self._answer_under_schema)

    @caching.cache_method(name="llm.select.generation")
    async def _answer_under_schema(
        self, question: str, schema: dict[str, Any]
    ) -> tuple[str, TopLogprobs | None]:
        """A greedy reply under ``schema``, with the top log-probs of its tokens."""
        longest = max(len(o) for o in schema["properties"]["answer"]["enum"])
        config = self._generation_config(
            {"temperature": 0.0, "max_tokens": 64 + longest},
            response_mime_type="application/json",
            response_json_schema=schema,
            response_logprobs=True,
            logprobs=20,
        )
        response = await self._respond(question, config)
        candidate = response.candidates[0] if response.candidates else None
        result = getattr(candidate, "logprobs_result", None)
        chosen = getattr(result, "chosen_candidates", None) or []
        top = getattr(result, "top_candidates", None) or []
        pairs = [
            (
                c.token or "",
                [(t.token or "", t.log_probability or 0.0) for t in at.candidates or []],
            )
            for c, at in zip(chosen, top)
        ]
        return _text(response), pairs or None

    async def _tool_turn(self, turn: ToolTurn) -> dict[str, Any]:
        system, contents = _tool_contents(turn.messages)
        declarations = [
            types.FunctionDeclaration(
                name=t["name"],
                description=t.get("description"),
                parameters_json_schema=t.get("parameters"),
            )
            for t in turn.tools
        ]
        mode = _MODES.get(turn.tool_choice)
        calling = types.FunctionCallingConfig(
            mode=types.FunctionCallingConfigMode(mode or "ANY"),
            allowed_function_names=None if mode else [str(turn.tool_choice)],
        )
        config = self._generation_config(
            turn.settings,
            system_instruction=system,
            tools=[types.Tool(function_declarations=declarations)],
            tool_config=types.ToolConfig(function_calling_config=calling),
        )
        response = await self._respond(contents, config)
        candidate = response.candidates[0] if response.candidates else None
        parts = candidate.content.parts if candidate and candidate.content else None
        calls = [p.function_call for p in parts or () if p.function_call]
        return {
            "text": _text(response),
            "tool_calls": [
                {"id": c.id or f"call_{i}", "name": c.name or "", "arguments": dict(c.args or {})}
                for i, c in enumerate(calls)
            ],
        }

    async def tokenize(self, content: Prompt) -> list[int]:
        """Not available: raises :class:`ConfigurationError` (use ``count_tokens``)."""
        raise ConfigurationError(
            f"{self!r} cannot tokenize: the Gemini API has no tokenizer endpoint. "
            "llm.count_tokens works."
        )


_MODES = {None: "AUTO", "auto": "AUTO", "none": "NONE", "required": "ANY"}


def _sdk_value(cls: type[pydantic.BaseModel], name: str, value: Any) -> Any:
    """A private copy of ``value`` as the SDK type ``cls`` (a dict gives its fields), or
    ``InvalidArgumentError`` saying what is wrong."""
    try:
        data = value.model_dump() if isinstance(value, cls) else value
        return cls.model_validate(data)
    except pydantic.ValidationError as e:
        problem = "; ".join(
            f"{'.'.join(map(str, x['loc'])) or name}: {x['msg']}" for x in e.errors()
        )
        raise InvalidArgumentError(
            f"GoogleGenAIAPI({name}={value!r:.80}): not a {cls.__name__} ({problem:.200}). "
            f"Pass a google.genai.types.{cls.__name__} or a dict of its fields."
        ) from None


def _dumped(value: Any) -> Any:
    """An SDK value (or a list of them) as JSON data, unset fields left out."""
    if isinstance(value, list):
        return [_dumped(v) for v in value]
    return value.model_dump(mode="json", exclude_none=True)


def _parts(content: Any) -> list[types.Part]:
    """A message's content as parts: text, and images as inline data."""
    parts = []
    for chunk in ChunkList([content]).chunks:
        if isinstance(chunk.content, str):
            parts.append(types.Part(text=chunk.content))
        else:
            data, mime = chunk.as_bytes()
            parts.append(types.Part(inline_data=types.Blob(data=data, mime_type=mime)))
    return parts


def _turn_contents(turns: list[tuple[str, str]]) -> tuple[str | None, list[types.Content]]:
    """The system instruction (the SYSTEM turns) and the contents of ``(role, text)`` turns."""
    system = [text for role, text in turns if role == "system"]
    contents = [
        types.Content(role="model" if role == "model" else "user", parts=[types.Part(text=text)])
        for role, text in turns
        if role != "system"
    ]
    return ("\n".join(system) if system else None), contents


def _tool_contents(messages: Sequence[Any]) -> tuple[str | None, list[types.Content]]:
    """The system instruction and the contents of a ``chat_with_tools`` conversation: an
    earlier reply (a dict) is the model's turn with its function calls, a TOOL message
    the function's response (named after the call it answers)."""
    system, contents, names = [], [], {}
    for m in messages:
        if isinstance(m, Mapping):
            parts = [types.Part(text=m["text"])] if m.get("text") else []
            for call in m.get("tool_calls") or ():
                names[call["id"]] = call["name"]
                function = types.FunctionCall(
                    id=call["id"], name=call["name"], args=call["arguments"]
                )
                parts.append(types.Part(function_call=function))
            contents.append(types.Content(role="model", parts=parts))
        elif m.role == PredefinedRole.SYSTEM:
            system.append(str(m.content))
        elif m.role == PredefinedRole.TOOL:
            response = types.FunctionResponse(
                id=m.tool_call_id,
                name=names.get(m.tool_call_id or "", ""),
                response={"result": str(m.content)},
            )
            contents.append(
                types.Content(role="user", parts=[types.Part(function_response=response)])
            )
        else:
            role = "model" if m.role == PredefinedRole.MODEL else "user"
            contents.append(types.Content(role=role, parts=_parts(m.content)))
    return ("\n".join(system) if system else None), contents


def _reply_parts(response: types.GenerateContentResponse) -> list[types.Part]:
    """The parts of a reply's first candidate (none when it has no content)."""
    candidates = response.candidates or []
    content = candidates[0].content if candidates else None
    return (content.parts or []) if content else []


def _text(response: types.GenerateContentResponse) -> str:
    return "".join(p.text or "" for p in _reply_parts(response) if not p.thought)


def _details(response: types.GenerateContentResponse, began: float) -> dict[str, Any]:
    """The ``details`` of a reply: usage (annotated on the trace), model, log-probs."""
    candidate = response.candidates[0] if response.candidates else None
    tokens = response.usage_metadata
    finish = getattr(candidate, "finish_reason", None)
    used = usage(
        finish_reason=getattr(finish, "value", finish),
        prompt_tokens=getattr(tokens, "prompt_token_count", None),
        completion_tokens=getattr(tokens, "candidates_token_count", None),
        latency=now() - began,
    )
    return details(used, response.model_version, _logprobs(candidate))


def _thoughts(response: types.GenerateContentResponse) -> ChunkList:
    """A reply's thought parts (the model's thought summaries) as text chunks."""
    return ChunkList([Chunk(p.text) for p in _reply_parts(response) if p.thought and p.text])


def _chunks(response: types.GenerateContentResponse) -> ChunkList:
    """A reply's parts as chunks (thoughts left out): text, and inline data with its type."""
    chunks = []
    for part in _reply_parts(response):
        if part.text and not part.thought:
            chunks.append(Chunk(part.text))
        elif part.inline_data and part.inline_data.data is not None:
            blob = part.inline_data
            chunks.append(Chunk(blob.data, blob.mime_type or "bytes"))
    return ChunkList(chunks)


def _logprobs(candidate: Any) -> list[tuple[str, float]] | None:
    result = getattr(candidate, "logprobs_result", None)
    chosen = getattr(result, "chosen_candidates", None)
    if not chosen:
        return None
    return [(c.token or "", float(c.log_probability or 0.0)) for c in chosen]
