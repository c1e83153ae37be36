"""Composable prompts: text, model calls and choices written as one readable piece.

A composable is a lazy ``Executable[str]`` built with ``+`` from strings, executables and
the steps below, or written as a jinja2 template (:func:`j`); running it returns the final
text. Each model call sees everything before it and goes through the builtins, so the
registry, caching, batching and tracing apply to it as to any other call.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import composables as c
    >>> from onetwo.backends.fake import FakeBackend
    >>> FakeBackend({"Q: 2+2?\\nA:": " 4"}).register()
    >>> prompt = "Q: " + c.f("{question}") + "\\nA:" + c.store("answer", c.generate_text())
    >>> ot.run(prompt(question="2+2?"))
    'Q: 2+2?\\nA: 4'
    >>> prompt["answer"]
    ' 4'

The same as a template, ``c.j("Q: {{ question }}\\nA:{{ store('answer',
generate_text()) }}")``, sends the same calls (and shares their cache entries).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import string
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from onetwo.builtins import _composing, llm
from onetwo.builtins._composing import Composable, Context, compose, make_composable
from onetwo.core.builtin import Builtin, check_arguments
from onetwo.core.content import Chunk, ChunkList, PredefinedRole, Role
from onetwo.core.executing import make_executable
from onetwo.core.scheduling import parallel
from onetwo.errors import FormatError

__all__ = [
    "Composable",
    "Context",
    "c",
    "chat",
    "compose",
    "f",
    "format_fields",
    "generate_object",
    "generate_text",
    "instruct",
    "j",
    "make_composable",
    "model",
    "role",
    "select",
    "store",
    "system",
    "user",
]


def __getattr__(name: str) -> Any:
    # The dry-run types live with the fake backend that answers dry runs; still importable
    # from here (not in __all__: `import *` must not load a backend).
    if name in ("DRY_RUN_REPLY", "DryRun", "DryRunCall"):
        return getattr(_composing.fake_backend(), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_FORMATTER = string.Formatter()
_FIELD = re.compile(r"(\w+)((?:\[\w+\])*)")  # a name, then [index] or [key] lookups
_MAX_WIDTH = 10_000


def format_fields(values: Context | Mapping[str, Any], text: str, where: str = "c.f") -> str:
    """``text`` filled in like ``str.format`` from ``values``, reading only names and
    ``[index]`` lookups, never attributes: text from a user or a model cannot reach into
    objects (``{x.__class__}``). ``where`` names the caller in a :class:`FormatError`.

    Example: ``format_fields({"title": "Zoo"}, "Title: {title}")`` is ``"Title: Zoo"``.
    """
    pieces = []
    try:
        for literal, field, spec, conversion in _FORMATTER.parse(text):
            pieces.append(literal)
            if field is None:
                continue
            match = _FIELD.fullmatch(field)
            if match is None:
                raise ValueError(
                    f"{{{field}}} is not a variable name. {where} takes named fields such as "
                    "{name}, with [index] or [key] but no attributes (compute the value "
                    "first and pass it by name); write {{ and }} for literal braces"
                )
            value = values[match.group(1)]
            for key in re.findall(r"\[(\w+)\]", match.group(2)):
                value = value[int(key) if key.isdigit() else key]
            if conversion:
                value = _FORMATTER.convert_field(value, conversion)
            spec = spec or ""
            if "{" in spec or any(int(n) > _MAX_WIDTH for n in re.findall(r"\d+", spec)):
                raise ValueError(
                    f"the format spec {spec!r} is nested or wider than {_MAX_WIDTH}; use a "
                    "plain one such as {n:>8}"
                )
            pieces.append(format(value, spec))
    except (KeyError, IndexError, ValueError, TypeError) as e:
        cause = e.args[0] if isinstance(e, KeyError) else e  # KeyError: the context's message
        raise FormatError(
            f"{where}({text!r:.60}) cannot be filled in: {cause}", template_name=where
        ) from e
    return "".join(pieces)


def f(text: str, role: Role | None = None) -> Composable:
    """``text.format(**variables)`` (the inputs and values stored so far), as ``role``'s.

    Fields are variable names, maybe indexed (``{items[0]}``, ``{row[name]}``) and formatted
    (``{n:03d}``, ``{x!r}``); attributes (``{m.name}``), which would let text from outside
    reach into objects, are refused. Example: ``"Q: " + c.f("{question}")``.
    """
    if not isinstance(text, str):
        raise TypeError(f"c.f() needs a str, got {type(text).__name__}.")
    return Composable((_composing.Call(format_fields, (text,), {}, name="f", role=role),))


def c(content: Any, role: Role | None = None) -> Composable:
    """``content`` (a str, bytes, a PIL image, a ``Chunk`` or ``ChunkList``) as prompt text,
    e.g. ``c.c(Chunk(png_bytes, "image/png")) + "What is this?" + c.generate_text()``."""
    if not isinstance(content, Chunk | ChunkList):
        content = Chunk(content)
    parts = Composable(_composing.parts_of(content))
    return Composable((_Nested(parts, role=role),)) if role else parts


def j(template: str, name: str | None = None, role: Role | None = None) -> Composable:
    """A jinja2 template whose functions call the model on the text rendered so far.

    It calls ``generate_text(**options)``, ``generate_texts(samples, **options)``,
    ``choose(options, top_k=None)``, ``generate_object(cls)`` (``cls`` an input or a name
    of ``llm.OBJECT_TYPES``), ``store(name, value)``, ``input(name)``; it reads the inputs
    and stored values as variables, and all of them (also those it stored) in
    ``__vars__``. It runs sandboxed, its output capped (``_templates.MAX_OUTPUT``); errors
    are ``TemplateError`` naming ``name`` and the line (syntax errors raised here).

    Example:
        >>> qa = c.j("Q: {{ question }}\\nA:{{ store('answer', generate_text()) }}", name="qa")
        >>> ot.run(qa(question="2+2?"))   # doctest: +SKIP
    """
    from onetwo.builtins._templates import TemplatePart  # jinja2 only when used

    part = Composable((TemplatePart(template, name, _TEMPLATE_FUNCTIONS),))
    return Composable((_Nested(part, role=role),)) if role else part


@functools.cache
def _options(builtin: Builtin[Any, Any]) -> frozenset[str]:
    # The prompt comes from the context; the result must be text, not (text, details).
    unset = {"prompt", "messages", "cls", "include_details"}
    return frozenset(inspect.signature(builtin).parameters) - unset


def _model_call(
    builtin: Builtin[Any, Any],
    step: Callable[..., Awaitable[Any]],
    options: dict[str, Any],
    *args: Any,
    role: Role | None = None,
) -> Composable:
    check_arguments(f"c.{builtin.__name__}()", options, _options(builtin))
    return Composable((_composing.Call(step, args, options, name=builtin.__name__, role=role),))


async def _on_prompt(builtin: Builtin[..., Any], context: Context, *args: Any, **kw: Any) -> Any:
    return await builtin(context.prompt, *args, **kw)


# The steps (``fn(context, ...)``) of the model calls, for ``+`` and templates alike.
_generate_text = functools.partial(_on_prompt, llm.generate_text)


async def _generate_texts(context: Context, samples: int = 1, **options: Any) -> Any:
    return await llm.generate_texts(context.prompt, samples, **options)  # one, unless asked


_generate_object = functools.partial(_on_prompt, llm.generate_object)


async def _chat(context: Context, **options: Any) -> Any:
    return await llm.chat(context.messages, **options)


async def _instruct(context: Context, prefix: str | None, **options: Any) -> Any:
    return (prefix or "") + await llm.instruct(context.prompt, prefix, **options)


async def _choose(context: Context, options: Sequence[Any], top_k: int | None = None) -> Any:
    if top_k is None:
        return await llm.select(context.prompt, options)
    return await llm.rank(context.prompt, options, top_k)


def _keep(context: Context, name: str, value: Any) -> Any:
    context[name] = value
    return value


# What a template (:func:`j`) calls: each receives the context as it is at that moment.
_TEMPLATE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "generate_text": _generate_text,
    "generate_texts": _generate_texts,
    "choose": _choose,
    "generate_object": _generate_object,
    "store": _keep,
    "input": Context.__getitem__,
}


def generate_text(**options: Any) -> Composable:
    """``llm.generate_text`` on the text so far (``options``: its settings); appends the reply."""
    return _model_call(llm.generate_text, _generate_text, options)


def generate_object(cls: Any, **options: Any) -> Composable:
    """``llm.generate_object`` on the text so far: a value of type ``cls``, appended as text
    (pydantic models as JSON); ``c.store(name, c.generate_object(cls))`` keeps the value."""
    return _model_call(llm.generate_object, _generate_object, options, cls)


def chat(**options: Any) -> Composable:
    """``llm.chat`` (``options``: its own) on the text so far as messages (by the roles of
    :func:`user`, :func:`model`, :func:`system`; the user's by default); appends the reply."""
    return _model_call(llm.chat, _chat, options, role=PredefinedRole.MODEL)


def instruct(assistant_prefix: str | None = None, **options: Any) -> Composable:
    """``llm.instruct`` on the text so far; appends ``assistant_prefix`` and the answer."""
    return _model_call(
        llm.instruct, _instruct, options, assistant_prefix, role=PredefinedRole.MODEL
    )


@dataclasses.dataclass(eq=False, slots=True)
class _Select(_composing.Part):
    branches: tuple[Composable, ...]

    def __repr__(self) -> str:
        return f"select({', '.join(repr(b) for b in self.branches)})"

    async def render(self, context: Context) -> Any:
        start = len(context.prefix)
        forks = [context.fork() for _ in self.branches]
        await parallel(*(make_executable(b.render)(f) for b, f in zip(self.branches, forks)))
        options = [fork.text_since(start) for fork in forks]
        _, best, _ = await llm.select(context.prompt, options, include_details=True)
        winner = forks[best]
        context.prefix.chunks.extend(winner.prefix.chunks[start:])
        context.variables.update(winner.variables)
        return winner.text_since(start)


def select(*branches: Any) -> Composable:
    """The likeliest of ``branches`` (strs, composables, executables) by ``llm.select``.

    Each runs concurrently on its own copy of the context; the text it adds is its option.
    Only the winner's text and stored variables are kept: ``"Sky:" + c.select(" blue", " red")``.
    """
    if not branches:
        raise ValueError("c.select() needs at least one branch, e.g. c.select(' yes', ' no').")
    return Composable((_Select(tuple(Composable(_composing.parts_of(b)) for b in branches)),))


@dataclasses.dataclass(eq=False, slots=True)
class _Nested(_composing.Part):
    """A composable run inside another, as the text of ``role`` (``c.user(...)``...) or
    kept as variable ``name`` (``c.store``)."""

    inner: Composable
    role: Role | None = None
    name: str | None = None

    def __repr__(self) -> str:
        if self.name is None:
            return f"{self.role}({self.inner!r})"
        return f"store({self.name!r}, {self.inner!r})"

    async def render(self, context: Context) -> Any:
        outer, context.role = context.role, self.role or context.role
        try:
            value = await self.inner.render(context)
        finally:
            context.role = outer
        if self.name is not None:
            context[self.name] = None if value is _composing.NO_VALUE else value
        return value


def store(name: str, value: Any) -> Composable:
    """Append ``value`` as ``+`` would, and keep what it produced as variable ``name``.

    That is a step's result (the object of ``c.generate_object``), the text a longer
    composable added, an executable's result, or ``value`` itself; read it with
    ``c.f("{name}")``, in a template, or after the run as ``prompt[name]``. Example:
    ``"Q: 2+2?\\nA:" + c.store("answer", c.generate_text())``.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"c.store() needs a non-empty str name, got {name!r}.")
    kept = _composing.Text(value, kept=True)  # a Chunk is kept as itself, not its text
    inner = value if isinstance(value, Composable) else Composable((kept,))
    return Composable((_Nested(inner, name=name),))


def role(name: Role, *content: Any) -> Composable:
    """``content`` (strs, composables, executables) as text of the chat role ``name``."""
    inner = Composable(p for item in content for p in _composing.parts_of(item))
    return Composable((_Nested(inner, role=name),))


def user(*content: Any) -> Composable:
    """``content`` as the user's turn. Example: ``c.user("Hi!") + c.chat()``."""
    return role(PredefinedRole.USER, *content)


def model(*content: Any) -> Composable:
    """``content`` as the model's turn, e.g. an example answer or a reply prefix."""
    return role(PredefinedRole.MODEL, *content)


def system(*content: Any) -> Composable:
    """``content`` as the system instructions."""
    return role(PredefinedRole.SYSTEM, *content)
