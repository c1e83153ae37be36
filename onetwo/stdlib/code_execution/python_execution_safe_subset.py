"""The reference's sandbox names, answered by onetwo's process sandbox.

OneTwo's ``PythonSandboxSafeSubset`` interprets a "safe subset" of Python in the host
process; such filters are escaped again and again (a generator's frame reaches the host's
globals) and CPU-bound code blocks the event loop. Here every name of this module makes
the same :class:`~onetwo.agents.sandbox.PythonSandbox`: a child process with CPU,
memory and wall-clock limits, no host globals, no environment and a scratch folder. The
single-process and the multi-process factories are therefore the same thing.

Example:
    >>> from onetwo.stdlib.code_execution import python_execution_safe_subset
    >>> from onetwo.stdlib.tool_use import python_tool_use
    >>> config = python_tool_use.PythonToolUseEnvironmentConfig(
    ...     sandbox_factory=python_execution_safe_subset.PythonSandboxSafeSubsetFactory(),
    ... )
"""

from __future__ import annotations

from typing import Any

from onetwo.agents.sandbox import PythonSandbox

__all__ = [
    "PythonSandboxSafeSubset",
    "PythonSandboxSafeSubsetFactory",
    "PythonSandboxSafeSubsetMultiProcess",
    "PythonSandboxSafeSubsetMultiProcessFactory",
]

PythonSandboxSafeSubset = PythonSandbox
PythonSandboxSafeSubsetMultiProcess = PythonSandbox


class PythonSandboxSafeSubsetFactory:
    """Makes sandboxes for an environment (``ToolEnvironmentConfig(sandbox_factory=...)``).

    Args:
        **defaults: keyword arguments of :class:`PythonSandbox` applied to every sandbox
            made (e.g. ``preload=("math",)``); the environment's own arguments (tools,
            limits, seed, clock) come on each call.
    """

    def __init__(self, **defaults: Any) -> None:
        self.defaults = defaults

    def __call__(self, **kwargs: Any) -> PythonSandbox:
        return PythonSandbox(**{**self.defaults, **kwargs})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.defaults!r})"


class PythonSandboxSafeSubsetMultiProcessFactory(PythonSandboxSafeSubsetFactory):
    """The reference's multi-process factory: the same process sandbox."""
