"""``Tool`` at the reference's path: ``onetwo.agents.tools.Tool``.

Example:
    >>> from onetwo.stdlib.tool_use import llm_tool_use
    >>> finish = llm_tool_use.Tool(name="finish", function=lambda x: x, description="Answer.")
"""

from onetwo.agents.tools import Tool

__all__ = ["Tool"]
