"""The Python sandbox agents run model-written code in: a child process with limits.

See :mod:`onetwo.agents.sandbox.python_sandbox` for what it isolates and what it does
not.

Example:
    >>> from onetwo.agents.sandbox import PythonSandbox, SandboxLimits
    >>> box = PythonSandbox(limits=SandboxLimits(wall_seconds=5, memory_mb=256))
"""

from onetwo.agents.sandbox.python_sandbox import (
    PythonSandbox,
    SandboxLimits,
    SandboxResult,
    SandboxStatus,
    ToolRunner,
)

__all__ = ["PythonSandbox", "SandboxLimits", "SandboxResult", "SandboxStatus", "ToolRunner"]
