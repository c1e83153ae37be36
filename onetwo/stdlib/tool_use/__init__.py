"""The reference's tool-use module paths, for code written against it.

``llm_tool_use.Tool`` and ``python_tool_use.PythonToolUseEnvironment(Config)`` are
``onetwo.agents``' :class:`~onetwo.agents.Tool` and
:class:`~onetwo.agents.ToolEnvironment` (:class:`~onetwo.agents.ToolEnvironmentConfig`).
"""

__all__: list[str] = []
