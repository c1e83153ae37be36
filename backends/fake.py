"""A scripted backend for tests, notebooks and benchmarks: no model, no network.

``FakeBackend`` answers ``generate_text`` from a script: an exact prompt, a regular
expression, a callable, or a default reply; a reply that is an exception (instance or
class) is raised instead. It scores options for ``select``/``rank``, tokenizes on
whitespace, embeds deterministically, can wait a fixed latency per call, and records
every call it actually executes (cache hits never reach it).

:func:`dry_run` runs a strategy on a fake that answers every call with a stub
(:data:`DRY_RUN_REPLY`, scores of 0.0, ``cls()`` for ``generate_object``), in a registry
of its own, and reports the calls: the prompts a strategy would send, with no model.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> backend = FakeBackend({"Q: 2+2?\\nA:": " 4"}, default_reply="?")
    >>> backend.register()
    >>> ot.run(llm.generate_text("Q: 2+2?\\nA:"))
    ' 4'
    >>> backend.prompts
    ['Q: 2+2?\\nA:']

Use the real backends to measure anything about models; the fake only replays its script.

Example of a dry run:
    >>> from onetwo.builtins import composables as c
    >>> dry_run(c.j("Q: {{ q }}\\nA: {{ generate_text() }}")(q="2+2?")).prompts
    ['Q: 2+2?\\nA: ']
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import inspect
import math
import os
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Unpack, cast

import pydantic

from onetwo.backends._settings import check_options, takes_settings
from onetwo.builtins import llm
from onetwo.builtins.settings import SETTING_NAMES, ModelSettings
from onetwo.core import batching, caching, running, tracing
from onetwo.core.backend import Backend
from onetwo.core.content import ChunkList, Message
from onetwo.core.registry import (
    Registry,
    RegistryContext,
    copy_registry,
    set_registry,
    with_registry,
)
from onetwo.errors import ConfigurationError

if TYPE_CHECKING:
    from onetwo.core.caching import CallCache

__all__ = ["DRY_RUN_REPLY", "DryRun", "DryRunCall", "FakeBackend", "FakeCall", "Reply", "dry_run"]

# A reply: text; successive texts for successive calls with that prompt (the last one
# repeats); a callable (prompt, **arguments) -> text, sync or async; or an exception.
Reply = str | Sequence[str] | Callable[..., Any] | BaseException | type[BaseException]

_TOKEN = re.compile(r"\s*\S+|\s+")
_IMPLEMENTS = ("embed", "generate_text", "score_text", "tokenize")
_UNSET = dict.fromkeys(SETTING_NAMES)  # a call records every setting, None if not given


@dataclasses.dataclass(frozen=True, slots=True)
class FakeCall:
    """One call the fake executed: the builtin's short name and its arguments."""

    name: str
    arguments: dict[str, Any]


class FakeBackend(Backend):
    """A backend that replies from a script; see the module docstring.

    Args:
        replies: exact prompt → reply.
        regex_replies: ``(pattern, reply)`` pairs tried in order with ``re.search``.
        default_reply: the reply when nothing else matches; without it an unmatched
            prompt raises ``ConfigurationError``.
        scores: for ``score_text``: target → score, or a callable
            ``(prompt, target) -> float``. By default a target scores 0.0 if the reply
            to the prompt starts with it (ignoring surrounding spaces), else -1.0.
        latency: seconds each call waits (``asyncio.sleep``) before answering; with
            ``batch_size > 1``, each batch waits it once, whatever its size.
        embedding_size: length of the vectors ``embed`` returns.
        model: a name for the script; part of the cache identity, so give two differently
            scripted fakes sharing one cache different names.
        cache: a ``CallCache`` or a folder, to cache ``generate_text`` like a real backend.
        batch_size: when > 1, ``generate_text`` requests go through a batch queue
            (``onetwo.core.batching``) of at most this many; :attr:`batches` records the
            prompts of each batch received.
        max_concurrent_batches: how many batches may run at once (with ``batch_size > 1``).
        implements: the LLM builtins :meth:`register` binds to the fake's methods; the
            others fall back on their defaults built on these. By default
            ``generate_text``, ``score_text``, ``tokenize`` and ``embed``; add ``chat``
            (answered by the script for the last message's text) or ``generate_object``
            (a stand-in value, ``cls()``, with no parsing) to see those calls as such.
    """

    provider = "fake"

    def __init__(
        self,
        replies: Mapping[str, Reply] | None = None,
        *,
        regex_replies: Sequence[tuple[str | re.Pattern[str], Reply]] = (),
        default_reply: Reply | None = None,
        scores: Mapping[str, float] | Callable[[str, str], float] | None = None,
        latency: float = 0.0,
        embedding_size: int = 8,
        model: str = "fake",
        cache: CallCache | str | os.PathLike[str] | None = None,
        batch_size: int = 1,
        max_concurrent_batches: int = 1,
        implements: Collection[str] = _IMPLEMENTS,
    ) -> None:
        if batch_size < 1 or max_concurrent_batches < 1:
            raise ValueError(
                f"batch_size and max_concurrent_batches must be >= 1, got {batch_size!r} "
                f"and {max_concurrent_batches!r}."
            )
        check_options(type(self).__name__, **locals())
        super().__init__(model=model, cache=cache)
        self.implements = tuple(implements)
        self.batch_size = batch_size
        self.max_concurrent_batches = max_concurrent_batches
        self.batches: list[list[str]] = []
        self.replies: dict[str, Reply] = dict(replies or {})
        self.regex_replies = [(re.compile(p), r) for p, r in regex_replies]
        self.default_reply = default_reply
        self.scores = scores
        self.latency = latency
        self.embedding_size = embedding_size
        self.calls: list[FakeCall] = []
        self._seen: dict[str, int] = {}

    def __repr__(self) -> str:
        return (
            f"FakeBackend(model={self.model!r}, replies={len(self.replies)}, "
            f"regex_replies={len(self.regex_replies)}, calls={len(self.calls)})"
        )

    # --- what was asked -----------------------------------------------------------

    @property
    def prompts(self) -> list[str]:
        """The prompts of the ``generate_text`` calls executed so far, in order."""
        return [c.arguments["prompt"] for c in self.calls if c.name == "generate_text"]

    def reset(self) -> None:
        """Forget the recorded calls (and restart successive replies)."""
        self.calls.clear()
        self._seen.clear()
        self.batches.clear()

    # --- the builtins -------------------------------------------------------------

    def register(self) -> None:
        """Answer every LLM builtin: those in ``implements`` directly, the others through
        their default implementations built on these."""
        llm.configure_backend(**{name: getattr(self, name) for name in self.implements})

    @caching.cache_method(name="llm.generate_text", is_sampled=True)
    @takes_settings()
    async def generate_text(
        self,
        prompt: str | ChunkList,
        *,
        include_details: bool = False,
        **settings: Unpack[ModelSettings],
    ) -> Any:
        text_prompt = str(prompt)
        arguments = {"prompt": text_prompt, **_UNSET, **settings}
        return await self._answer("generate_text", text_prompt, arguments, include_details)

    async def chat(
        self, messages: Sequence[Message], *, include_details: bool = False, **arguments: Any
    ) -> Any:
        """The script's reply to the last message's text (with ``implements=[..."chat"]``)."""
        turns = list(messages)
        text = str(turns[-1].content) if turns else ""
        return await self._answer("chat", text, {"messages": turns, **arguments}, include_details)

    async def _answer(
        self, name: str, text_prompt: str, arguments: dict[str, Any], include_details: bool
    ) -> Any:
        self.calls.append(FakeCall(name, arguments))
        traced = tracing.is_enabled()  # then the trace gets the details too
        with_details = include_details or traced
        if self.batch_size > 1:
            result = await self._generate_batch((text_prompt, arguments, with_details))
        else:
            if self.latency:
                await asyncio.sleep(self.latency)
            result = await self._generate_one(text_prompt, arguments, with_details)
        if traced:  # annotated here, in the caller's context, not inside the batch
            tracing.annotate(result[1])
            return result if include_details else result[0]
        return result

    @takes_settings(omit=("stop",))
    async def generate_object(
        self, prompt: str | ChunkList, cls: Any, **settings: Unpack[ModelSettings]
    ) -> Any:
        """A stand-in value of ``cls`` (with ``implements=[..."generate_object"]``):
        ``cls()``, else an unvalidated pydantic model, else ``None``."""
        self.calls.append(FakeCall("generate_object", {"prompt": prompt, "cls": cls, **settings}))
        try:
            return cls()
        except Exception:
            if isinstance(cls, type) and issubclass(cls, pydantic.BaseModel):
                return cls.model_construct()
            return None

    @batching.batch_method(
        batch_size=lambda self: self.batch_size,
        max_concurrent_batches=lambda self: self.max_concurrent_batches,
    )
    async def _generate_batch(self, requests: list[tuple[str, dict[str, Any], bool]]) -> list[Any]:
        self.batches.append([prompt for prompt, _, _ in requests])
        if self.latency:
            await asyncio.sleep(self.latency)
        results: list[Any] = []
        for prompt, arguments, include_details in requests:
            try:
                results.append(await self._generate_one(prompt, arguments, include_details))
            except Exception as e:  # fails only this request
                results.append(e)
        return results

    async def _generate_one(
        self, text_prompt: str, arguments: dict[str, Any], include_details: bool
    ) -> Any:
        stop, max_tokens = arguments.get("stop"), arguments.get("max_tokens")
        reply = await self._reply(text_prompt, arguments)
        text, finish_reason = _truncate(reply, stop, max_tokens)
        if include_details:
            return text, {
                "finish_reason": finish_reason,
                "prompt_tokens": len(_TOKEN.findall(text_prompt)),
                "completion_tokens": len(_TOKEN.findall(text)),
                "latency": self.latency,
            }
        return text

    async def score_text(self, prompt: str | ChunkList, targets: Sequence[str]) -> list[float]:
        text_prompt = str(prompt)
        self.calls.append(FakeCall("score_text", {"prompt": text_prompt, "targets": list(targets)}))
        if self.latency:
            await asyncio.sleep(self.latency)
        if callable(self.scores):
            return [float(self.scores(text_prompt, t)) for t in targets]
        if self.scores is not None:
            return [float(self.scores.get(t, -math.inf)) for t in targets]
        reply = self._match(text_prompt)
        reply_text = reply.strip() if isinstance(reply, str) else ""
        return [0.0 if t.strip() and reply_text.startswith(t.strip()) else -1.0 for t in targets]

    async def tokenize(self, content: str | ChunkList) -> list[int]:
        text = str(content)
        self.calls.append(FakeCall("tokenize", {"content": text}))
        return [_stable_id(tok) for tok in _TOKEN.findall(text)]

    async def embed(self, content: str | ChunkList) -> list[float]:
        text = str(content)
        self.calls.append(FakeCall("embed", {"content": text}))
        digest = hashlib.sha256(text.encode()).digest()
        raw = [digest[i % len(digest)] / 255.0 - 0.5 for i in range(self.embedding_size)]
        norm = math.sqrt(sum(x * x for x in raw)) or 1.0
        return [x / norm for x in raw]

    # --- the script -----------------------------------------------------------------

    def _match(self, prompt: str) -> Reply | None:
        if prompt in self.replies:
            return self.replies[prompt]
        for pattern, reply in self.regex_replies:
            if pattern.search(prompt):
                return reply
        return self.default_reply

    async def _reply(self, prompt: str, arguments: dict[str, Any]) -> str:
        reply = self._match(prompt)
        if reply is None:
            raise ConfigurationError(
                f"FakeBackend has no reply for the prompt {prompt!r:.120}. Add it to "
                "replies=, add a regex_replies= pattern that matches it, or set default_reply=."
            )
        if isinstance(reply, BaseException) or (
            isinstance(reply, type) and issubclass(reply, BaseException)
        ):
            raise reply
        if isinstance(reply, str):
            return reply
        if callable(reply):
            fn = cast(Callable[..., Any], reply)
            out = fn(prompt, **{k: v for k, v in arguments.items() if k != "prompt"})
            if inspect.isawaitable(out):
                out = await out
            return str(out)
        seen = self._seen.get(prompt, 0)
        self._seen[prompt] = seen + 1
        return reply[min(seen, len(reply) - 1)]


def _truncate(text: str, stop: Sequence[str] | None, max_tokens: int | None) -> tuple[str, str]:
    finish = "stop"
    if stop:
        cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
        if cut >= 0:
            text = text[:cut]
    if max_tokens is not None:
        tokens = _TOKEN.findall(text)
        if len(tokens) > max_tokens:
            text, finish = "".join(tokens[:max_tokens]), "length"
    return text, finish


def _stable_id(token: str) -> int:
    return int.from_bytes(hashlib.blake2b(token.encode(), digest_size=4).digest(), "big") % 50_000


# --- dry runs ----------------------------------------------------------------------------

DRY_RUN_REPLY = "<generated>"
"""What every ``generate_text`` and ``chat`` of a dry run answers."""


@dataclasses.dataclass(frozen=True, slots=True)
class DryRunCall:
    """One builtin call a dry run saw: its name, prompt (or messages) and other arguments."""

    builtin: str
    prompt: str | ChunkList | list[Message]
    arguments: dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class DryRun:
    """What a dry run produced: the calls in order, the final text and the variables."""

    calls: list[DryRunCall]
    text: str
    variables: dict[str, Any]

    @property
    def prompts(self) -> list[str | ChunkList | list[Message]]:
        """The prompts (for ``chat``: the messages) the calls would send, in order."""
        return [c.prompt for c in self.calls]


def dry_run(executable: Any) -> DryRun:
    """Run ``executable`` on stubs and report the calls it made, contacting no backend.

    ``llm.generate_text`` and ``llm.chat`` reply :data:`DRY_RUN_REPLY`,
    ``llm.score_text`` scores every option 0.0 (so ``select`` picks the first),
    ``llm.generate_object`` returns ``cls()``; the other LLM builtins fall back on these,
    and nothing else is configured in the dry run's registry, so nothing reaches a real
    backend. A composable (anything with ``with_context()``) reports its final text and
    variables; another executable, its result as text.
    """
    fake = FakeBackend(
        default_reply=DRY_RUN_REPLY,
        scores=lambda prompt, target: 0.0,
        model="dry-run",
        implements=("chat", "generate_object", "generate_text", "score_text"),
    )
    with RegistryContext():
        set_registry(Registry())
        fake.register()
        registry = copy_registry()
    with_context = getattr(executable, "with_context", None)
    result = running.run(with_registry(with_context() if with_context else executable, registry))
    calls = [_dry_run_call(call) for call in fake.calls]
    if with_context is None:
        return DryRun(calls, str(result), {})
    return DryRun(calls, result.text, result.variables)


def _dry_run_call(call: FakeCall) -> DryRunCall:
    arguments = {k: v for k, v in call.arguments.items() if v is not None}
    prompt = arguments.pop("messages", None) or arguments.pop("prompt", "")
    return DryRunCall(f"llm.{call.name}", prompt, arguments)
