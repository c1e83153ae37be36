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

Example:
    >>> from onetwo import ot
    >>> from onetwo.agents import ReActAgent, Tool
    >>> agent = ReActAgent(tools=[Tool(search)], max_steps=5)   # doctest: +SKIP
    >>> ot.run(agent("What is the capital of France?"))          # doctest: +SKIP
    'Paris'
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
