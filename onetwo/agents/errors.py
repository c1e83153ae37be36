"""The errors of agents, tools and sandboxes, under ``onetwo.errors.OneTwoError``.

```
OneTwoError
└── AgentError              an agent run could not go on
    ├── AgentTimeout        a step or the whole run exceeded its limit (.limit, .step, .seconds)
    ├── ToolError           a tool is misconfigured (bad name, bad signature, unknown tool)
    └── SandboxError        the sandbox process could not start or broke its protocol
```

Errors *inside* a step are not raised: an invalid tool argument, a tool that raises or
times out, sandboxed code that fails or is killed all become the observation the model
reads next, so the agent can recover. Only limits of the run itself (``step_timeout``,
``run_timeout``) stop a run, with :class:`AgentTimeout` naming the limit and the step.

Example:
    >>> try:
    ...     raise AgentTimeout("too slow", limit="run_timeout", step=3, seconds=10.0)
    ... except OneTwoError as e:
    ...     print(e.limit, e.step)
    run_timeout 3
"""

from __future__ import annotations

from typing import Any

from onetwo.errors import OneTwoError

__all__ = ["AgentError", "AgentTimeout", "SandboxError", "ToolError"]


class AgentError(OneTwoError):
    """An agent run could not go on."""


class AgentTimeout(AgentError, TimeoutError):
    """A limit of the run was exceeded; the run was cancelled.

    Attributes:
        limit: ``"step_timeout"`` or ``"run_timeout"``.
        step: the 1-based step that was running when the limit fired.
        seconds: the limit, in seconds.
    """

    def __init__(self, message: str, *, limit: str, step: int, seconds: float) -> None:
        super().__init__(message)
        self.limit = limit
        self.step = step
        self.seconds = seconds

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_timeout, (str(self), self.limit, self.step, self.seconds))


def _rebuild_timeout(message: str, limit: str, step: int, seconds: float) -> AgentTimeout:
    return AgentTimeout(message, limit=limit, step=step, seconds=seconds)


class ToolError(AgentError):
    """A tool is misconfigured: a bad name, an unusable signature, an unknown tool."""


class SandboxError(AgentError):
    """The sandbox process could not start, or sent something outside its protocol."""
