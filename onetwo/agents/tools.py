"""Tools: plain typed Python functions an agent's model may call.

A :class:`Tool` wraps a function, sync or async. Its parameters (type hints, defaults)
and its docstring (the summary and the ``Args:`` section) give the JSON schema shown to
the model; the arguments the model sends are validated against it (pydantic) before the
function runs. Nothing the model does makes a tool raise into the agent: invalid
arguments, an exception from the function, or a timeout come back as a
:class:`ToolResult` whose ``text`` the model reads as its next observation.

* Sync functions run in a worker thread (``asyncio.to_thread``, with the caller's
  context), so a slow one never blocks the event loop; async ones are awaited. A function
  may also return an executable (e.g. ``llm.instruct(...)``), which is then run.
* ``timeout`` (seconds, on the injectable clock) bounds each call. A sync function that
  times out keeps running in its thread until it returns (threads cannot be killed); its
  result is then dropped. Put untrusted or runaway code in the sandbox instead.

Example:
    >>> def search(query: str, max_results: int = 3) -> str:
    ...     '''Search the web.
    ...
    ...     Args:
    ...         query: what to look for.
    ...         max_results: how many snippets to return.
    ...     '''
    ...     return "Paris"
    >>> tool = Tool(search, timeout=10)
    >>> tool.signature_text()
    'search(query: str, max_results: int = 3) -> str'
    >>> ot.run(tool("capital of France"))   # doctest: +SKIP
    'Paris'

When not to use it: for code the model writes; give it a ``PythonSandbox`` instead.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import pydantic

from onetwo.agents.errors import ToolError
from onetwo.agents.limits import deadline
from onetwo.core.clock import SYSTEM_CLOCK, Clock
from onetwo.core.executing import Executable, make_executable

__all__ = ["Status", "Tool", "ToolResult", "plain_value", "render_value"]

Status = Literal["ok", "invalid_arguments", "error", "timeout", "unknown_tool"]
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclasses.dataclass(frozen=True)
class ToolResult:
    """What one tool call gave: the value, or why there is none.

    Attributes:
        status: ``"ok"``, ``"invalid_arguments"``, ``"error"`` (the function raised),
            ``"timeout"`` or ``"unknown_tool"``.
        value: the function's result as plain JSON data (see :func:`plain_value`), or
            ``None`` when the call failed.
        text: what the model reads: the value rendered, or the error explained.
    """

    status: Status
    value: Any
    text: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_json(self) -> dict[str, Any]:
        """The result as plain data (what the call cache stores)."""
        return {"status": self.status, "value": self.value, "text": self.text}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolResult:
        return cls(data["status"], data["value"], data["text"])


def plain_value(value: Any) -> Any:
    """``value`` as JSON data (pydantic models dumped, tuples as lists), else its ``repr``.

    Tool results go through this both when computed and when replayed from the cache, so
    a replayed run sees exactly what the recorded run saw.
    """
    if isinstance(value, pydantic.BaseModel):
        value = value.model_dump(mode="json")
    try:
        return json.loads(json.dumps(value, ensure_ascii=False, allow_nan=False))
    except (TypeError, ValueError):
        return repr(value)


def render_value(value: Any) -> str:
    """How a plain value reads in a prompt: text as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class Tool:
    """A function the model may call, with its schema and its limits.

    Args:
        function: the function (sync or async, possibly returning an executable).
        name: how the model calls it (default: the function's name; a valid identifier).
        description: what it does (default: the docstring's summary).
        example: an example call shown to the model.
        timeout: seconds each call may take (``None``: no limit).
        clock: the clock timeouts run on (inject a ``VirtualClock`` in tests).
        version: bump it when the function's behaviour changes: it is part of the
            cache key, so recorded results of the old version are not replayed.
        color: a display hint (kept for compatibility; unused).
    """

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        example: str = "",
        timeout: float | None = None,
        clock: Clock = SYSTEM_CLOCK,
        version: str = "",
        color: str = "",
    ) -> None:
        if not callable(function):
            raise TypeError(f"Tool needs a callable, got {type(function).__name__}: {function!r}.")
        self.function = function
        self.name: str = name or str(getattr(function, "__name__", ""))
        if not _NAME.match(self.name):
            raise ToolError(
                f"a tool's name must be a Python identifier (the model calls it like a "
                f"function), got {self.name!r}. Pass name='search' or similar."
            )
        doc = inspect.getdoc(function) or ""
        self.description = description if description is not None else _summary(doc)
        self.example = example
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds or None, got {timeout!r}.")
        self.timeout = timeout
        self.clock = clock
        self.version = version
        self.color = color
        self._is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - an async __call__ object
        )
        self._params, self._model = _arguments_model(function, self.name, _arg_docs(doc))

    def __repr__(self) -> str:
        return f"Tool({self.name!r}, timeout={self.timeout!r})"

    # --- what the model is told ---------------------------------------------------------

    @property
    def parameter_names(self) -> tuple[str, ...]:
        return self._params

    @property
    def example_str(self) -> str:
        return self.example

    def parameters_schema(self) -> dict[str, Any]:
        """The JSON schema of the arguments (an ``object`` schema)."""
        schema = self._model.model_json_schema()
        schema.pop("title", None)
        return schema

    def schema(self) -> dict[str, Any]:
        """``{"name", "description", "parameters"}``: a function declaration, as native
        function-calling APIs take it."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters_schema(),
        }

    def signature_text(self) -> str:
        """The call signature as Python, e.g. ``search(query: str) -> str``."""
        try:
            sig = inspect.signature(self.function)
        except (TypeError, ValueError):
            return f"{self.name}(...)"
        text = str(sig).replace("'", "")
        return f"{self.name}{text}"

    # --- calling ------------------------------------------------------------------------

    def validate(self, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None) -> Any:
        """The validated keyword arguments of a call, or a ``ToolResult`` saying why not."""
        given = dict(kwargs or {})
        if len(args) > len(self._params):
            return self._invalid(
                f"{self.name} takes {len(self._params)} argument(s) "
                f"({', '.join(self._params) or 'none'}), got {len(args)} positional."
            )
        for pname, value in zip(self._params, args):
            if pname in given:
                return self._invalid(f"{self.name} got two values for {pname!r}.")
            given[pname] = value
        try:
            model = self._model.model_validate(given)
        except pydantic.ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'arguments'}: {err['msg']}"
                + (f" (got {err['input']!r:.60})" if err["type"] != "missing" else "")
                for err in e.errors()
            )
            return self._invalid(
                f"invalid arguments for {self.name}: {problems}. "
                f"Call it as {self.signature_text()}."
            )
        return {p: getattr(model, p) for p in self._params}

    def _invalid(self, text: str) -> ToolResult:
        return ToolResult("invalid_arguments", None, f"Error: {text}")

    async def invoke(
        self, args: Sequence[Any] = (), kwargs: Mapping[str, Any] | None = None
    ) -> ToolResult:
        """Validate and run one call; every failure is a ``ToolResult``, never raised.

        Only cancellation (e.g. the step's own time limit) propagates.
        """
        checked = self.validate(args, kwargs)
        if isinstance(checked, ToolResult):
            return checked
        try:
            async with deadline(self.timeout, _ToolTimedOut, clock=self.clock):
                value = await self._run(checked)
        except _ToolTimedOut:
            return ToolResult(
                "timeout",
                None,
                f"Error: {self.name} did not answer within its {self.timeout:g} s timeout.",
            )
        except Exception as e:  # the model reads what went wrong, and may try again
            return ToolResult("error", None, f"Error: {self.name} raised {type(e).__name__}: {e}")
        plain = plain_value(value)
        return ToolResult("ok", plain, render_value(plain))

    async def _run(self, kwargs: dict[str, Any]) -> Any:
        if self._is_async:
            value = await self.function(**kwargs)
        else:
            value = await asyncio.to_thread(self.function, **kwargs)
        while isinstance(value, Executable) or inspect.isawaitable(value):
            value = await value
        return value

    def __call__(self, *args: Any, **kwargs: Any) -> Executable[Any]:
        """An executable calling the tool directly: its value, or the error raised."""
        return _call_tool(self, args, kwargs)


class _ToolTimedOut(Exception):
    pass


@make_executable
async def _call_tool(tool: Tool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    checked = tool.validate(args, kwargs)
    if isinstance(checked, ToolResult):
        raise ValueError(checked.text.removeprefix("Error: "))
    async with deadline(
        tool.timeout,
        lambda: TimeoutError(f"{tool.name} did not answer within {tool.timeout:g} s."),
        clock=tool.clock,
    ):
        return await tool._run(checked)


def _summary(doc: str) -> str:
    return doc.strip().split("\n\n", 1)[0].replace("\n", " ").strip()


def _arg_docs(doc: str) -> dict[str, str]:
    """``name -> description`` from a Google-style ``Args:`` section."""
    out: dict[str, str] = {}
    match = re.search(r"^\s*(Args|Arguments|Parameters):\s*$(.*?)(^\S|\Z)", doc, re.M | re.S)
    if not match:
        return out
    current = None
    for line in match.group(2).splitlines():
        m = re.match(r"^\s+(\w+)\s*(\([^)]*\))?:\s*(.*)$", line)
        if m and (current is None or len(line) - len(line.lstrip()) <= _indent(match, current)):
            current = m.group(1)
            out[current] = m.group(3).strip()
        elif current is not None and line.strip():
            out[current] = (out[current] + " " + line.strip()).strip()
    return out


def _indent(match: re.Match[str], name: str) -> int:
    for line in match.group(2).splitlines():
        if re.match(rf"^\s+{name}\s*(\([^)]*\))?:", line):
            return len(line) - len(line.lstrip())
    return 0


def _arguments_model(
    function: Callable[..., Any], name: str, docs: dict[str, str]
) -> tuple[tuple[str, ...], type[pydantic.BaseModel]]:
    try:
        sig = inspect.signature(function)
    except (TypeError, ValueError) as e:
        raise ToolError(f"tool {name!r}: cannot read the signature of {function!r} ({e}).") from e
    try:
        hints = typing.get_type_hints(function)
    except Exception:  # unresolvable annotations: fall back to what is written
        hints = {}
    fields: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise ToolError(
                f"tool {name!r}: *{p.name} / **{p.name} parameters have no schema; give "
                "the function explicit parameters."
            )
        annotation = hints.get(p.name, p.annotation)
        if annotation is inspect.Parameter.empty:
            annotation = Any
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (
            annotation,
            pydantic.Field(default, description=docs.get(p.name) or None),
        )
    model = pydantic.create_model(
        f"{name}_arguments",
        __config__=pydantic.ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )
    return tuple(fields), model
