"""Agents: models that act in steps, with typed tools, a sandbox and exact resume.

Layers, bottom up:

* ``tools``: :class:`Tool` from a plain typed function (schema, validation, timeout);
* ``sandbox``: :class:`PythonSandbox`, model-written code in a limited child process;
* ``environment``: :class:`ToolEnvironment`, one run's tools and sandbox, every call
  recorded in the call cache (so a killed run resumes exactly);
* ``agents_base``: :class:`Agent`, stateless configuration driving a growing state;
* ``tool_agent``: :class:`ToolUsingAgent`, what the agents with tools share;
* ``react`` (:class:`ReActAgent`) and ``python_planning`` (:class:`PythonPlanningAgent`).

``distribution`` has agents that draw their steps from a stated distribution (seeded by
the sampling key); ``errors`` holds the exception tree, ``limits`` the deadline behind
every time limit.

Example (the model scripted: it calls ``add``, then answers with what it returned):
    >>> from onetwo import ot
    >>> from onetwo.agents import ReActAgent, Tool
    >>> from onetwo.backends.fake import FakeBackend
    >>> def add(a: int, b: int) -> int:
    ...     '''The sum of two integers.'''
    ...     return a + b
    >>> model = FakeBackend(
    ...     regex_replies=[("Observe]: 42$", "[Finish]: 42")], default_reply="[Act]: add(2, 40)"
    ... )
    >>> model.register()
    >>> ot.run(ReActAgent(tools=[Tool(add)])("What is 2 + 40?"))
    '42'
"""

from onetwo.agents.agents_base import Agent, AgentStream, SingleSampleAgent, UpdateListState
from onetwo.agents.environment import ToolEnvironment, ToolEnvironmentConfig
from onetwo.agents.errors import AgentError, AgentTimeout, SandboxError, ToolError
from onetwo.agents.python_planning import PythonPlanningAgent
from onetwo.agents.react import ReActAgent
from onetwo.agents.sandbox import PythonSandbox, SandboxLimits, SandboxResult
from onetwo.agents.tool_agent import ToolUsingAgent
from onetwo.agents.tools import Tool, ToolResult

__all__ = [
    "Agent",
    "AgentError",
    "AgentStream",
    "AgentTimeout",
    "PythonPlanningAgent",
    "PythonSandbox",
    "ReActAgent",
    "SandboxError",
    "SandboxLimits",
    "SandboxResult",
    "SingleSampleAgent",
    "Tool",
    "ToolEnvironment",
    "ToolEnvironmentConfig",
    "ToolError",
    "ToolResult",
    "ToolUsingAgent",
    "UpdateListState",
]
