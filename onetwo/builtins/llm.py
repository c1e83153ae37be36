"""The LLM builtins: what a strategy asks of a model.

Each returns a lazy executable, answered when it runs by the backend bound in the current
registry (``backend.register()``); arguments left out or ``None`` take the configured
defaults (``llm.generate_text.update(temperature=0.0)``). A builtin a backend does not
implement falls back on others: ``generate_texts`` → ``generate_text``; ``instruct`` →
``chat`` → a formatter + ``generate_text``; ``select``, ``rank`` → ``score_text``;
``count_tokens`` → ``tokenize``; ``generate_object`` → ``generate_text`` + parsing.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> from onetwo.backends.fake import FakeBackend
    >>> FakeBackend(replies={"2+2=": "4"}).register()
    >>> ot.run(llm.generate_text("2+2="))
    '4'
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Unpack

import pydantic

from onetwo.builtins import choice
from onetwo.builtins.choice import Scores, Scoring
from onetwo.builtins.formatting import Formatter, FormatterName, get_formatter
from onetwo.builtins.settings import RULES, ModelSettings, Rule, check_setting, merge
from onetwo.core import sampling, streaming
from onetwo.core.builtin import Builtin, check_arguments
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole
from onetwo.errors import ConfigurationError, OutputParseError

__all__ = [
    "THOUGHTS",
    "chat",
    "chat_with_tools",
    "configure_backend",
    "count_tokens",
    "detokenize",
    "embed",
    "generate_content",
    "generate_object",
    "generate_text",
    "generate_texts",
    "instruct",
    "rank",
    "reset_defaults",
    "score_text",
    "select",
    "stream_text",
    "tokenize",
]

Prompt = str | ChunkList
THOUGHTS = "thoughts"
"""The key of a model's thought summaries in ``generate_content``'s details."""
OBJECT_TYPES: dict[str, type] = {t.__name__: t for t in (int, float, str, bool, list, dict)}
"""The types ``generate_object`` takes by name (a string is never evaluated as Python)."""


def _is_prompt(value: Any) -> bool:
    return isinstance(value, str | ChunkList)


def _all(kind: type) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list | tuple) and all(isinstance(x, kind) for x in v)


_PROMPT = (
    "a str or a ChunkList (bytes go in a Chunk with their type, ChunkList([Chunk(b, "
    "'image/png')]); messages go to llm.chat; convert other values with str())"
)
_RULES: dict[str, Rule] = {
    **RULES,
    "prompt": (_is_prompt, _PROMPT),
    "content": (_is_prompt, _PROMPT),
    "messages": (_all(Message), "a list of Message, e.g. [Message(PredefinedRole.USER, text)]"),
    "samples": (lambda v: type(v) is int and v >= 0, "a whole number >= 0, e.g. samples=3"),
    "include_details": (lambda v: isinstance(v, bool), "True or False"),
    "assistant_prefix": (_is_prompt, "a str or a ChunkList"),
    "tokens": (_all(int), "a list of int token ids"),
    "task_type": (lambda v: isinstance(v, str) and bool(v), "a task name, e.g. 'RETRIEVAL_QUERY'"),
    "cls": (
        lambda v: not isinstance(v, str),
        f"a type or one of {sorted(OBJECT_TYPES)} (never run as Python); pass the class "
        "itself (in a template: as an input, prompt(Answer=Answer))",
    ),
}
_TEXTS = frozenset({"prompt", "content", "assistant_prefix"})


def _check(where: str, name: str, value: Any) -> Any:
    """The LLM builtins' argument check; ``cls`` may name a type of ``OBJECT_TYPES``."""
    if type(value) is str and name in _TEXTS:  # the usual prompt: checked at every call
        return value
    if name == "cls" and isinstance(value, str) and value in OBJECT_TYPES:
        return OBJECT_TYPES[value]  # a string is never run as Python
    return check_setting(where, name, value, _RULES)


_CHECKS = dict.fromkeys(_RULES, _check)
# An LLM builtin, its arguments checked when it is called; with ``default=True`` the
# stub's body is its default implementation, built on other builtins.
_builtin = functools.partial(Builtin, checks=_CHECKS)
_built_on_others = functools.partial(Builtin, checks=_CHECKS, default=True)


@_builtin
async def generate_text(
    prompt: Prompt, *, include_details: bool = False, **settings: Unpack[ModelSettings]
) -> Any:
    """Complete ``prompt``: the text, or ``(text, details)`` with ``include_details``
    (``details``: a dict of what the backend reports: token counts, finish reason...)."""
    raise NotImplementedError


@_built_on_others
async def stream_text(prompt: Prompt, **settings: Unpack[ModelSettings]) -> str:
    """Complete ``prompt``, sending the text to ``ot.stream_updates`` as it arrives (one
    piece at the end without native streaming); the result is the whole text."""
    text: str = await generate_text.fallback(prompt, **settings)
    streaming.emit_delta(text)
    return text


@_built_on_others
async def generate_texts(
    prompt: Prompt,
    samples: int = 1,
    *,
    include_details: bool = False,
    **settings: Unpack[ModelSettings],
) -> list[Any]:
    """``samples`` independent completions of ``prompt``."""
    call = generate_text.fallback(prompt, include_details=include_details, **settings)
    return await sampling.repeat_and_execute(call, samples)


@_built_on_others
async def chat(
    messages: Sequence[Message],
    *,
    formatter: Formatter | FormatterName | str | None = None,
    include_details: bool = False,
    **settings: Unpack[ModelSettings],
) -> Any:
    """The model's next turn (a final MODEL message is its prefix); by default, the
    completion of the messages formatted by ``formatter`` (see ``formatting``)."""
    fmt = get_formatter(formatter)
    formatted = fmt.format(messages, raise_error_if_already_formatted=False)
    prompt = str(formatted) if all(c.content_type == "str" for c in formatted) else formatted
    given_stops = settings.get("stop") or generate_text.defaults.get("stop") or ()
    settings = merge(settings, {"stop": [*given_stops, *fmt.extra_stop_sequences()] or None})
    result = await generate_text.fallback(prompt, include_details=include_details, **settings)
    if include_details:
        text, found = _with_details(result)
        return text.strip(), found
    return result.strip()


def _with_details(result: Any) -> tuple[Any, dict[str, Any]]:
    """``(value, details)`` of an ``include_details=True`` call; ``{}`` when the
    implementation does not take ``include_details`` and returned the value alone."""
    return result if isinstance(result, tuple) else (result, {})


@_built_on_others
async def instruct(
    prompt: Prompt,
    assistant_prefix: str | ChunkList | None = None,
    *,
    formatter: Formatter | FormatterName | str | None = None,
    include_details: bool = False,
    **settings: Unpack[ModelSettings],
) -> Any:
    """Answer one user instruction; ``assistant_prefix`` starts the answer (not repeated)."""
    messages = [Message(PredefinedRole.USER, prompt)]
    if assistant_prefix:
        messages.append(Message(PredefinedRole.MODEL, assistant_prefix))
    return await chat.fallback(
        messages, formatter=formatter, include_details=include_details, **settings
    )


# ``score_text``, ``select``, ``rank`` have their own checks (``top_k`` counts options).
_CHOICE_CHECKS = {
    "prompt": _check,
    "include_details": _check,
    "targets": choice.check_targets,
    **dict.fromkeys(("options", "top_k", "scoring"), choice.check_choice),
}
_choosing = functools.partial(Builtin, checks=_CHOICE_CHECKS, default=True)


@functools.partial(Builtin, checks=_CHOICE_CHECKS)
async def score_text(prompt: Prompt, targets: Sequence[str]) -> list[float]:
    """Log-likelihood of each text of the list ``targets`` after ``prompt`` (higher: likelier)."""
    raise NotImplementedError


async def _option_scores(
    caller: str, prompt: Prompt, options: Sequence[Any], scoring: Scoring | None, top_k: int = 0
) -> Scores:
    """Score the options with ``score_text`` (and ``count_tokens`` for the mean)."""
    targets, how = choice.check_options(caller, options, scoring, top_k)
    try:
        sums = await score_text(prompt, targets)
        if how == "normalized":
            return choice.combine(how, sums, await score_text(choice.UNCONDITIONAL_PROMPT, targets))
    except ConfigurationError as e:
        raise ConfigurationError(
            f"{caller} cannot run: it ranks options with llm.score_text, which is not "
            "configured (this backend cannot score text). Register a backend that can "
            "choose, e.g. `onetwo.backends.local_backend().register()` (llama.cpp), "
            "OpenAIAPI or GoogleGenAIAPI, or bind a scorer with `llm.score_text.configure(fn)`."
        ) from e
    if how == "sum":
        return choice.combine(how, sums, sums)
    try:
        base, *full = await asyncio.gather(
            count_tokens(prompt), *(count_tokens(str(prompt) + t) for t in targets)
        )
    except ConfigurationError:
        if scoring is not None:  # asked for explicitly: say why it cannot be done
            raise
        return choice.combine("sum", sums, sums)  # no tokenizer: the method says "sum"
    counts = [max(n - base, 1) if t else 0 for n, t in zip(full, targets)]
    return choice.combine(how, sums, counts)


@_choosing
async def select(
    prompt: Prompt,
    options: Sequence[Any],
    *,
    include_details: bool = False,
    scoring: Scoring | None = None,
) -> Any:
    """The likeliest option, or ``(option, index, scores)`` with ``include_details``.

    ``scores``: a :class:`~onetwo.builtins.choice.Scores`; ``scoring``: ``"mean"``
    (default), ``"sum"`` or ``"normalized"`` (see ``onetwo.builtins.choice``).
    """
    scores = await _option_scores("llm.select", prompt, options, scoring)
    return choice.selected(options, scores, include_details)


@_choosing
async def rank(
    prompt: Prompt,
    options: Sequence[Any],
    top_k: int = 1,
    *,
    include_details: bool = False,
    scoring: Scoring | None = None,
) -> Any:
    """The ``top_k`` likeliest options, best first (``top_k=0``: all of them); with
    ``include_details``, ``(options, scores)`` with one score per option given."""
    scores = await _option_scores("llm.rank", prompt, options, scoring, top_k)
    return choice.ranked(options, scores, top_k, include_details)


def _prompt_or_messages(where: str, name: str, value: Any) -> Any:
    """A prompt, or a conversation (a non-empty list of ``Message``) where one is taken."""
    if value and _all(Message)(value):
        return list(value)
    return _check(where, name, value)


# A builtin built on others whose ``prompt`` may also be a conversation.
_takes_messages = functools.partial(
    Builtin, checks={**_CHECKS, "prompt": _prompt_or_messages}, default=True
)


@_takes_messages
async def generate_object(
    prompt: Prompt | Sequence[Message], cls: Any, **settings: Unpack[ModelSettings]
) -> Any:
    """A value of type ``cls`` (int, a pydantic model...; by name only from OBJECT_TYPES);
    ``prompt`` may be a conversation (by default answered by ``chat``)."""
    if isinstance(prompt, str | ChunkList):
        return parse_object(await generate_text.fallback(prompt, **settings), cls)
    return parse_object(await chat.fallback(prompt, **settings), cls)


_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+)")
_INTEGER = re.compile(r"[-+]?\d+")


def parse_object(text: str, cls: Any) -> Any:
    """Parse a model's reply into ``cls``: plain values directly, others from JSON."""
    cls = _check("llm.parse_object", "cls", cls)  # pydantic would evaluate a string
    adapter = pydantic.TypeAdapter(cls)
    try:
        if cls is str:
            return text.strip()
        if cls in (int, float):
            match = (_INTEGER if cls is int else _NUMBER).search(text)
            if match is None:
                raise ValueError(f"no {cls.__name__} in the reply")
            return adapter.validate_python(match.group())
        if cls is bool:
            return adapter.validate_python(text.strip().split()[0].strip(".,!").lower())
        return adapter.validate_python(json.loads(_json_block(text)))
    except (ValueError, pydantic.ValidationError, IndexError) as e:
        name = getattr(cls, "__name__", repr(cls))
        raise OutputParseError(
            f"llm.generate_object could not parse the model's reply as {name}: {e}. "
            f"Reply: {text!r:.200}. Ask for JSON in the prompt, or use a backend with "
            "structured output.",
            text=text,
        ) from e


def _json_block(text: str) -> str:
    """The first JSON object/array in ``text`` (models wrap JSON in prose and fences)."""
    first = re.search(r"[{\[]", text)
    if first is None:
        return text.strip()
    _, end = json.JSONDecoder().raw_decode(text, first.start())
    return text[first.start() : end]


@_builtin
async def tokenize(content: Prompt) -> list[int]:
    """The model's token ids for ``content``."""
    raise NotImplementedError


@_builtin
async def detokenize(tokens: Sequence[int]) -> str:
    """The text of the model's token ids ``tokens`` (the inverse of ``tokenize``)."""
    raise NotImplementedError


@_built_on_others
async def count_tokens(content: Prompt) -> int:
    """How many tokens ``content`` is, for the model."""
    return len(await tokenize.fallback(content))


@_builtin
async def embed(content: Prompt, *, task_type: str | None = None) -> list[float]:
    """An embedding vector for ``content``; ``task_type`` says what it is for, on a backend
    that makes vectors per task (Gemini: ``"RETRIEVAL_DOCUMENT"`` for a corpus,
    ``"RETRIEVAL_QUERY"`` or ``"QUESTION_ANSWERING"`` for the query); others refuse it."""
    raise NotImplementedError


# Checked as the others, but for ``messages``, which may hold earlier replies (dicts).
@functools.partial(Builtin, checks={k: v for k, v in _CHECKS.items() if k != "messages"})
async def chat_with_tools(
    messages: Sequence[Any],
    tools: Sequence[Mapping[str, Any]],
    *,
    tool_choice: str | None = None,
    **settings: Unpack[ModelSettings],
) -> dict[str, Any]:
    """The model's next turn with native function calling (OpenAI, Gemini backends only):
    ``{"text", "tool_calls": [{"id", "name", "arguments"}...]}``.

    ``tools``: ``{"name", "description", "parameters"}`` (``onetwo.agents.Tool.schema()``);
    ``tool_choice``: ``"auto"`` (``None``), ``"none"``, ``"required"`` or a tool's name. To
    answer, append the returned dict and a ``Message(PredefinedRole.TOOL, result,
    tool_call_id=id)`` per call to ``messages``, and call again.
    """
    raise NotImplementedError


@_takes_messages
async def generate_content(
    prompt: Prompt | Sequence[Message],
    *,
    include_details: bool = False,
    **settings: Unpack[ModelSettings],
) -> Any:
    """Answer ``prompt`` (or a conversation, a list of ``Message``) with text and media: a
    ``ChunkList`` of str chunks and bytes chunks with their MIME type, or ``(chunks,
    details)`` with ``include_details`` (``details[THOUGHTS]``: the model's thought
    summaries as a ``ChunkList``, empty when it gave none). By default:
    ``generate_text``'s text (``chat``'s for messages) as one chunk."""
    if isinstance(prompt, str | ChunkList):
        result = await generate_text.fallback(prompt, include_details=include_details, **settings)
    else:
        result = await chat.fallback(prompt, include_details=include_details, **settings)
    if include_details:
        text, found = _with_details(result)
        return ChunkList([Chunk(text)]), {THOUGHTS: ChunkList(), **found}
    return ChunkList([Chunk(result)])


_ALL = tuple(b for b in list(globals().values()) if isinstance(b, Builtin))  # in order


def configure_backend(
    keep: Callable[[str], bool] | None = None, **implementations: Callable[..., Any]
) -> None:
    """Make one backend answer every LLM builtin in the current registry (what a backend's
    ``register()`` calls): ``configure_backend(generate_text=fn, score_text=scorer)``.

    Binds the given implementations and resets every other LLM builtin to its default
    implementation, built on them, so none keeps answering from an earlier backend; but
    the builtins whose name ``keep`` accepts are left as they are.
    """
    by_name = {b.__name__: b for b in _ALL}
    problem = "got {}, which are not LLM builtins; the builtins are {}"
    check_arguments("configure_backend()", implementations, by_name, problem)
    for name, b in by_name.items():
        impl = implementations.get(name)
        if keep is not None and keep(name):
            continue
        if impl is None:
            b.unconfigure()
        else:
            b.configure(impl)


def reset_defaults() -> None:
    """Drop the configured defaults of every LLM builtin (implementations stay)."""
    for b in _ALL:
        b.reset_defaults()
