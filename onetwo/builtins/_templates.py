"""Jinja2 templates that call the model while they render: the part behind ``c.j``.

The template renders in jinja2's async sandbox, each piece of output appended to the
context as jinja2 yields it, so a function it calls (``generate_text()``...) sees all the
text so far; text in a block jinja2 collects first (a macro, ``{% set x %}``, ``{% filter
%}``) reaches the model when the block ends. Undefined variables are errors; every failure
is a ``TemplateError`` naming the template, the line and the cause (its ``__cause__``).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment, SecurityError

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

    __slots__ = ("_template", "functions", "name", "source")

    def __init__(
        self, source: str, name: str | None, functions: Mapping[str, Callable[..., Any]]
    ) -> None:
        if not isinstance(source, str):
            raise TypeError(f"c.j() needs the template text as a str, got {type(source).__name__}.")
        self.source = source
        self.name = name or "<template>"
        self.functions = functions  # steps: each is called with the context first
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
            **{name: _bound(fn, context) for name, fn in self.functions.items()},
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


def _bound(fn: Callable[..., Any], context: Context) -> Callable[..., Any]:
    """``fn`` with ``context`` first; a closure, so the template cannot reach the context."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return fn(context, *args, **kwargs)

    return call


def _error(name: str, line: int | None, cause: str) -> TemplateError:
    where = f"template {name!r}" + (f", line {line}" if line is not None else "")
    return TemplateError(f"{where}: {cause}", template_name=name, line=line)


def _template_line(error: BaseException) -> int | None:
    """The template line being rendered when ``error`` was raised (the deepest one)."""
    walk = traceback.walk_tb(error.__traceback__)
    lines = [n for frame, n in walk if frame.f_code.co_filename == _FRAME_FILENAME]
    return lines[-1] if lines else None


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
