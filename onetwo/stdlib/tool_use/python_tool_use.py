"""The tool environment at the reference's path: ``onetwo.agents.environment``.

Example:
    >>> from onetwo.stdlib.tool_use import python_tool_use
    >>> config = python_tool_use.PythonToolUseEnvironmentConfig(tools=[])
    >>> with python_tool_use.PythonToolUseEnvironment(config=config) as env:   # doctest: +SKIP
    ...     result = ot.run(env.run_code(sandbox_state=(), code="1 + 1"))
    >>> result.sandbox_result.final_expression_value  # doctest: +SKIP
    2
"""

from onetwo.agents.environment import RunCodeResult
from onetwo.agents.environment import ToolEnvironment as PythonToolUseEnvironment
from onetwo.agents.environment import ToolEnvironmentConfig as PythonToolUseEnvironmentConfig

__all__ = ["PythonToolUseEnvironment", "PythonToolUseEnvironmentConfig", "RunCodeResult"]
