"""What the tool-using agents share: tools in an environment, a step budget, the tool list.

:class:`ToolUsingAgent` is the base of ``ReActAgent`` and ``PythonPlanningAgent``: it
takes the tools (``tools=`` or a whole ``environment_config=``), starts a
:class:`~onetwo.agents.environment.ToolEnvironment` per run, and runs a step's work in a
temporary environment when a caller samples a step without one. Its state is an
:class:`~onetwo.agents.agents_base.UpdateListState`, the inputs and the steps so far; the
run is over when the last step says ``is_finished``.

Example:
    >>> agent = ReActAgent(tools=[Tool(search)], max_steps=5)   # doctest: +SKIP
    >>> agent.environment_config.tool_list                       # doctest: +SKIP
    [Tool('search', timeout=None)]
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, TypeVar, cast

from onetwo.agents.agents_base import SingleSampleAgent, UpdateListState
from onetwo.agents.environment import ToolEnvironment, ToolEnvironmentConfig
from onetwo.agents.tools import Tool

__all__ = ["ToolUsingAgent", "describe_tools"]

I = TypeVar("I")  # noqa: E741 - the reference's type-parameter names
O = TypeVar("O")  # noqa: E741
S = TypeVar("S", bound=UpdateListState[Any, Any])
U = TypeVar("U")
T = TypeVar("T")


def describe_tools(tools: Sequence[Tool]) -> list[str]:
    """One prompt line per tool: its Python signature, description and example."""
    lines = []
    for tool in tools:
        line = f"- {tool.signature_text()}: {tool.description}"
        if tool.example:
            line += f" Example: {tool.example}"
        lines.append(line)
    return lines


@dataclasses.dataclass(kw_only=True)
class ToolUsingAgent(SingleSampleAgent[I, O, S, U, ToolEnvironment]):
    """An agent acting through tools; see the module docstring.

    Attributes:
        tools: the tools (``Tool`` objects or plain functions), or give...
        environment_config: ...the whole environment: tools, cache, sandbox limits,
            default tool timeout.
        max_steps: steps after which the agent asks for its final answer.
    """

    tools: Sequence[Tool | Callable[..., Any]] = ()
    environment_config: ToolEnvironmentConfig | None = None
    max_steps: int = 10

    def __post_init__(self) -> None:
        if self.environment_config is None:
            self.environment_config = ToolEnvironmentConfig(tools=self.tools)
        elif self.tools:
            raise ValueError("give the tools either in tools= or in environment_config=, not both.")
        if self.max_steps < 0:
            raise ValueError(f"max_steps must be >= 0, got {self.max_steps!r}.")

    @property
    def tool_list(self) -> list[Tool]:
        assert self.environment_config is not None
        return self.environment_config.tool_list

    async def initialize_state(self, inputs: I, environment: ToolEnvironment | None = None) -> S:
        """A state with the inputs and no steps yet."""
        return cast(S, UpdateListState(inputs=inputs))

    def is_finished(self, state: S) -> bool:
        """Whether the last step finished the run (its ``is_finished``)."""
        return bool(state.updates) and state.updates[-1].is_finished

    @contextlib.asynccontextmanager
    async def start_environment(self) -> AsyncIterator[ToolEnvironment]:
        async with ToolEnvironment(self.environment_config) as env:
            yield env

    async def _in_environment(
        self, environment: ToolEnvironment | None, work: Callable[[ToolEnvironment], Awaitable[T]]
    ) -> T:
        """``work(environment)``, in a temporary environment if none is given."""
        if environment is not None:
            return await work(environment)
        async with self.start_environment() as env:
            return await work(env)
