"""The machinery of composable prompts: :class:`Composable`, :class:`Context`, parts.

A composable is an ``Executable[str]`` holding a sequence of *parts*. Running it hands a
fresh :class:`Context` (the text so far, as role-tagged chunks, and the variables) to each
part in order: a text part appends its text, a model call appends the reply to the text
so far, a ``store`` part records a variable. ``+`` concatenates the parts of its operands
into a new composable. ``onetwo.builtins.composables`` re-exports the public names.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

import pydantic

from onetwo.core import executing
from onetwo.core.content import Chunk, ChunkList, Message, Role
from onetwo.core.executing import Executable, resolve_arguments

__all__ = [
    "NO_VALUE",
    "Call",
    "Composable",
    "Context",
    "Part",
    "Text",
    "compose",
    "fake_backend",
    "make_composable",
    "parts_of",
    "to_text",
]


class _NoValue:
    def __repr__(self) -> str:
        return "NO_VALUE"


# What a part that produces nothing (bound inputs, a step returning None) returns.
NO_VALUE: Any = _NoValue()


def to_text(value: Any) -> str:
    """How a value appears in a prompt: ``None`` as nothing, pydantic models as JSON."""
    if value is None:
        return ""
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump_json()
    return str(value)


@dataclasses.dataclass(eq=False, slots=True)
class Context:
    """The state one run of a composable threads through its parts (a step's first argument).

    Attributes:
        prefix: the text so far, as chunks tagged with their chat roles.
        variables: the inputs and the values stored so far, by name.
        role: the role of the text appended now (inside ``c.user(...)``...), or ``None``.
    """

    variables: dict[str, Any] = dataclasses.field(default_factory=dict)
    prefix: ChunkList = dataclasses.field(default_factory=ChunkList)
    role: Role | None = None

    def __post_init__(self) -> None:
        self.variables = dict(self.variables or {})  # a copy: the caller's mapping is untouched

    @property
    def text(self) -> str:
        """The text so far, as one string."""
        return str(self.prefix)

    @property
    def prompt(self) -> str | ChunkList:
        """The text so far as a builtin takes it: a ``str``, unless it holds bytes."""
        chunks = self.prefix.chunks
        try:  # one pass over the chunks: this runs before every model call
            return "".join([c.content for c in chunks])  # type: ignore[misc]
        except TypeError:  # some chunk holds bytes
            return ChunkList(chunks)

    @property
    def messages(self) -> list[Message]:
        """The text so far as chat messages; text outside any role is the user's."""
        return self.prefix.to_messages()

    def append(self, content: Any, *, role: Role | None = None) -> None:
        """Add ``content`` (text, bytes, chunks, any value as ``str``) to the prefix, with
        ``role``, else the chunk's own, else the current one."""
        if isinstance(content, ChunkList):
            for chunk in content:
                self.append(chunk, role=role)
            return
        if not isinstance(content, Chunk):
            content = content if isinstance(content, bytes) else to_text(content)
            if not content:
                return
            content = Chunk(content)
        role = role or content.role or self.role
        if role is not None and role != content.role:
            content = dataclasses.replace(content, role=role)
        self.prefix.chunks.append(content)

    def fork(self) -> Context:
        """An independent copy: what the copy appends or stores does not show here."""
        return Context(self.variables, ChunkList(self.prefix.chunks), self.role)

    def text_since(self, start: int) -> str:
        """The text of the chunks appended after the first ``start`` ones."""
        return "".join(str(c) for c in self.prefix.chunks[start:])

    def __getitem__(self, name: str) -> Any:
        try:
            return self.variables[name]
        except KeyError:
            raise KeyError(
                f"no variable {name!r}; the variables are {sorted(self.variables)}. Pass it "
                f"as an input, e.g. prompt({name}=...), or store it first with "
                f"c.store({name!r}, ...)."
            ) from None

    def __setitem__(self, name: str, value: Any) -> None:
        self.variables[name] = value

    def __contains__(self, name: object) -> bool:
        return name in self.variables

    def __repr__(self) -> str:
        return f"Context(text={self.text!r:.60}, variables={sorted(self.variables)})"


class Part:
    """One step of a composable: ``render`` appends to the context, returns a value or NO_VALUE."""

    __slots__ = ()

    async def render(self, context: Context) -> Any:
        raise NotImplementedError


@dataclasses.dataclass(eq=False, slots=True)
class Text(Part):
    """A chunk of text, or a value appended as ``str`` (an executable's: run first); its
    value is the chunk's text, or the chunk itself if ``kept`` (``c.store``'s value)."""

    value: Any
    kept: bool = False

    async def render(self, context: Context) -> Any:
        if isinstance(self.value, Chunk):
            context.append(self.value)
            return self.value if self.kept else self.value.content
        value = await self.value if isinstance(self.value, Executable) else self.value
        context.append(value)
        return value

    def __repr__(self) -> str:
        return repr(self.value.content if isinstance(self.value, Chunk) else self.value)


class _Inputs(dict[str, Any]):
    """The inputs bound with ``composable(**inputs)``, shown by name (values can be large)."""

    def __repr__(self) -> str:
        return ", ".join(self)


def _bind(context: Context, inputs: dict[str, Any]) -> None:
    """The step ``composable(**inputs)`` puts first: the inputs become variables."""
    context.variables.update(inputs)


@dataclasses.dataclass(eq=False, slots=True)
class _LastRun:
    """Where a composable (and the copies made by binding inputs) keeps its last context."""

    context: Context | None = None


class Composable(Executable[str]):
    """A prompt made of text and model calls; running it returns the final text.

    ``composable['name']`` reads the *last run that ended* (even a failed one). Each run
    has its own :class:`Context`, so concurrent runs never mix variables, but the last to
    finish wins: under ``ot.repeat``, ``composable.with_context()`` gives each run's own.
    """

    __slots__ = ("_last", "_parts")
    __iter__ = None  # ``__getitem__`` reads variables; a composable is not a sequence

    def __init__(self, parts: Iterable[Part], *, _last: _LastRun | None = None) -> None:
        self._parts = tuple(parts)
        self._last = _last if _last is not None else _LastRun()

    @property
    def parts(self) -> tuple[Part, ...]:
        return self._parts

    def __repr__(self) -> str:
        return " + ".join(repr(p) for p in self._parts) or "Composable()"

    def __call__(self, *args: Any, **inputs: Any) -> Composable:
        """This composable with ``inputs`` as its starting variables (for ``c.f``, ``c.j``)."""
        if args:
            raise TypeError(
                f"a composable takes its inputs by name, e.g. prompt(question=...); got "
                f"{len(args)} positional argument(s): {args!r:.80}."
            )
        bind = Call(_bind, (_Inputs(inputs),), {}, name="inputs")
        return Composable((bind, *self._parts), _last=self._last)

    def __getitem__(self, name: str) -> Any:
        context = self._last.context
        if context is None:
            raise KeyError(
                f"{name!r}: this composable has not run yet. Run it first, e.g. "
                "ot.run(prompt), then read prompt[name]."
            )
        return context[name]

    async def _run(self) -> str:
        return (await self._run_context()).text

    async def _run_context(self) -> Context:
        context = Context()
        try:
            await self.render(context)
        finally:
            self._last.context = context
        return context

    async def render(self, context: Context) -> Any:
        """Run the parts in ``context`` (inside another composable: ``c.store``, a branch...);
        return the single value they produced, or the text."""
        parts = self._parts
        if len(parts) == 1:
            return await parts[0].render(context)
        start = len(context.prefix)
        values = []
        for part in parts:
            value = await part.render(context)
            if value is not NO_VALUE:
                values.append(value)
        return values[0] if len(values) == 1 else context.text_since(start)

    def with_context(self) -> Executable[Context]:
        """An executable running this composable and returning that run's own context."""
        return executing.make_executable(self._run_context)()

    def dry_run(self, **inputs: Any) -> Any:
        """The calls this would make with ``inputs``, answered by stubs, no backend contacted:
        a ``DryRun`` (``.prompts``, ``.calls``, ``.text``...; ``onetwo.backends.fake``)."""
        return fake_backend().dry_run(self(**inputs) if inputs else self)


def fake_backend() -> Any:
    """``onetwo.backends.fake`` (for dry runs): the builtins' one import of a backend, lazy."""
    from onetwo.backends import fake

    return fake


def parts_of(value: Any) -> tuple[Part, ...]:
    """The parts ``value`` contributes to a composition (see :func:`compose`)."""
    if isinstance(value, Composable):
        return value.parts
    if isinstance(value, str | bytes):
        return (Text(Chunk(value)),) if value else ()
    if isinstance(value, ChunkList):
        return tuple(Text(chunk) for chunk in value)
    if isinstance(value, Chunk | Executable):
        return (Text(value),)
    raise TypeError(
        f"cannot compose {type(value).__name__} {value!r:.60} into a prompt: use a str, "
        "a composable (c.generate_text(), c.f(...)...) or an executable. Convert other "
        "values with str(), or bring variables in with c.f('{name}')."
    )


def compose(left: Any, right: Any) -> Composable:
    """``left + right`` as a new composable: what ``+`` does with executables."""
    return Composable((*parts_of(left), *parts_of(right)))


executing.set_composer(compose)


@dataclasses.dataclass(eq=False, slots=True)
class Call(Part):
    """A step: ``fn(context, *args, **kwargs)``, its result appended as ``role``'s text."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    _: dataclasses.KW_ONLY
    name: str | None = None  # shown by repr; by default, fn's name
    role: Role | None = None

    async def render(self, context: Context) -> Any:
        args, kwargs = await resolve_arguments(self.args, self.kwargs)
        result = self.fn(context, *args, **kwargs)
        if inspect.isawaitable(result) and not isinstance(result, Executable):
            result = await result
        if isinstance(result, Composable):
            return await result.render(context)
        if isinstance(result, Executable):
            result = await result
        if result is None:
            return NO_VALUE
        context.append(result, role=self.role)
        return result

    def __repr__(self) -> str:
        shown = [*map(repr, self.args), *(f"{k}={v!r}" for k, v in self.kwargs.items())]
        return f"{self.name or getattr(self.fn, '__name__', 'step')}({', '.join(shown)})"


def make_composable(fn: Callable[..., Any]) -> Callable[..., Composable]:
    """Turn ``fn(context, *args, **kwargs)`` into a step that composes with ``+``.

    ``fn`` (sync or async) receives the run's :class:`Context`, then the arguments given
    (executables run first). What it returns is appended: text, chunks, any value (as
    ``str``; ``c.store`` keeps it as is), an executable's result or a composable (run on
    the same context); ``None`` appends nothing.

    Example:
        >>> @make_composable
        ... def word_count(context: Context) -> int:
        ...     return len(context.text.split())
        >>> prompt = "one two three" + c.store("n", word_count())   # doctest: +SKIP
    """
    first = next(iter(inspect.signature(fn).parameters.values()), None)
    if first is None or first.kind not in (first.POSITIONAL_ONLY, first.POSITIONAL_OR_KEYWORD):
        raise TypeError(
            f"make_composable needs a function whose first parameter receives the context, "
            f"e.g. def step(context, ...); {getattr(fn, '__qualname__', fn)!r} has none."
        )

    @functools.wraps(fn)
    def factory(*args: Any, **kwargs: Any) -> Composable:
        return Composable((Call(fn, args, kwargs),))

    return factory
