"""OneTwo's tool-use names at its path: ``Tool``, ``FunctionCall``, ``ArgumentFormat``.

``Tool`` is ``onetwo.agents.tools.Tool``; ``FunctionCall`` and ``ArgumentFormat`` are the
ReAct agent's (``onetwo.agents.react``), as a worked example (an exemplar) spells them.

Example:
    >>> from onetwo.stdlib.tool_use import llm_tool_use
    >>> finish = llm_tool_use.Tool(name="finish", function=lambda x: x, description="Answer.")
    >>> llm_tool_use.FunctionCall(function_name="search", args=("lion diet",)).render()
    "search('lion diet')"
"""

from onetwo.agents.react import ArgumentFormat, FunctionCall
from onetwo.agents.tools import Tool

__all__ = ["ArgumentFormat", "FunctionCall", "Tool"]
