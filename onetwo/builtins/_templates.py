"""Jinja2 templates that call the model while they render: the part behind ``c.j``.

The template renders in jinja2's async mode, each piece of output appended to the context
as jinja2 yields it: a function called from the template (``generate_text()``...) sees
the text before the template plus all it rendered so far. Loops, conditions and ``{% set
%}`` work as in any template; text inside a block jinja2 collects first (a macro, ``{%
set x %}...{% endset %}``, ``{% filter %}``) reaches the model when the block ends. The
environment is sandboxed, undefined variables are errors, and every failure becomes a
``TemplateError`` naming the template, the line and the cause (its ``__cause__``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from onetwo.builtins import llm
from onetwo.builtins._composing import Context, Part, to_text
from onetwo.errors import TemplateError

__all__ = ["MAX_OUTPUT", "TemplatePart"]

MAX_OUTPUT = 1_000_000
"""The most characters one template renders (or one ``*`` builds) before it is refused."""


class _Sandbox(SandboxedEnvironment):
    """jinja2's sandbox, refusing ``*`` and ``**`` results too big to be a prompt."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        sized, count = (left, right) if isinstance(right, int) else (right, left)
        if not isinstance(count, int):
            too_big = False
        elif operator == "*":
            too_big = isinstance(sized, str | list | tuple) and len(sized) * count > MAX_OUTPUT
        else:  # `**`: refuse an int of more than MAX_OUTPUT bits
            too_big = isinstance(left, int) and right * abs(left).bit_length() > MAX_OUTPUT
        if too_big:
            raise SecurityError(
                f"{left!r:.20} {operator} {right!r:.20} would exceed {MAX_OUTPUT:,} "
                "characters; build long text outside the template"
            )
        return super().call_binop(context, operator, left, right)


_ENV = _Sandbox(
    undefined=jinja2.StrictUndefined,
    enable_async=True,
    keep_trailing_newline=True,  # the prompt is exactly the text written
    finalize=to_text,  # `{{ x }}` shows values as `+` does (None as nothing, models as JSON)
)
# jinja2 names the frames of string templates "<template>" when it rewrites tracebacks.
_FRAME_FILENAME = "<template>"
_UNDEFINED = re.compile(r"^'(\w+)' is undefined$")


class TemplatePart(Part):
    """A jinja2 template, compiled once; see the module docstring."""

    __slots__ = ("_template", "name", "source")

    def __init__(self, source: str, name: str | None = None) -> None:
        if not isinstance(source, str):
            raise TypeError(f"c.j() needs the template text as a str, got {type(source).__name__}.")
        self.source = source
        self.name = name or "<template>"
        try:
            self._template = _ENV.from_string(source)
        except jinja2.TemplateSyntaxError as e:
            raise _error(self.name, e.lineno, f"syntax error: {e.message}.") from e

    def __repr__(self) -> str:
        return f"j({self.source!r:.40})"

    async def render(self, context: Context) -> Any:
        variables = {
            **context.variables,
            "__vars__": MappingProxyType(context.variables),
            **_Functions(context).namespace(),
        }
        start, size = len(context.prefix), 0
        try:
            async for piece in self._template.generate_async(variables):
                size += len(piece)
                if size > MAX_OUTPUT:
                    raise SecurityError(
                        f"the output exceeds {MAX_OUTPUT:,} characters; use a shorter template"
                    )
                context.append(piece)
        except TemplateError:
            raise  # from a template run inside this one: it already names its line
        except Exception as e:
            raise _error(self.name, _template_line(e), _describe(e)) from e
        return context.text_since(start)


class _Functions:
    """What a template can call; each call reads the context as it is at that moment."""

    __slots__ = ("context",)

    def __init__(self, context: Context) -> None:
        self.context = context

    def namespace(self) -> dict[str, Callable[..., Any]]:
        names = ("generate_text", "generate_texts", "choose", "generate_object", "store", "input")
        return {name: getattr(self, name) for name in names}

    async def generate_text(self, **options: Any) -> Any:
        return await llm.generate_text(self.context.prompt, **options)

    async def generate_texts(self, samples: int = 1, **options: Any) -> list[Any]:
        return await llm.generate_texts(self.context.prompt, samples, **options)

    async def choose(self, options: Sequence[Any], top_k: int | None = None) -> Any:
        """The likeliest option; with ``top_k``, the ``top_k`` likeliest, best first."""
        if top_k is None:
            return await llm.select(self.context.prompt, options)
        return await llm.rank(self.context.prompt, options, top_k)

    async def generate_object(self, cls: Any, **options: Any) -> Any:
        """A value of type ``cls``: a class passed as an input, or a name of
        ``llm.OBJECT_TYPES`` (the only strings ``llm.generate_object`` takes)."""
        return await llm.generate_object(self.context.prompt, cls, **options)

    def store(self, name: str, value: Any) -> Any:
        """Keep ``value`` as variable ``name``; return it (``{{ store(...) }}`` shows it)."""
        self.context[name] = value
        return value

    def input(self, name: str) -> Any:
        """An input, or a value stored so far (also earlier in this template)."""
        return self.context[name]


def _error(name: str, line: int | None, cause: str) -> TemplateError:
    where = f"template {name!r}" + (f", line {line}" if line is not None else "")
    return TemplateError(f"{where}: {cause}", template_name=name, line=line)


def _template_line(error: BaseException) -> int | None:
    """The template line being rendered when ``error`` was raised (the deepest one)."""
    line = None
    tb = error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == _FRAME_FILENAME:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _describe(error: Exception) -> str:
    if isinstance(error, jinja2.UndefinedError):
        match = _UNDEFINED.match(str(error.message))
        if match:
            var = match.group(1)
            return (
                f"{var!r} is undefined. Pass it as an input, e.g. prompt({var}=...); "
                f"for a value stored in this template, use input({var!r}) or __vars__.{var}."
            )
    text = error.args[0] if isinstance(error, KeyError) and error.args else error
    return f"{type(error).__name__}: {text}"
