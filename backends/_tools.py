"""Native function calling for the remote backends: ``llm.chat_with_tools``'s one shape.

:class:`NativeTools` gives a backend the cached ``chat_with_tools`` method the builtin
declares (each call a sampled cache entry, like ``chat``), built on ``_tool_turn``, which
speaks the backend's wire format: OpenAI's ``tools=``/``tool_calls``, Gemini's function
declarations and function-call parts.

Example:
    >>> class MyAPI(NativeTools, RemoteBackend[MyClient]):   # doctest: +SKIP
    ...     async def _tool_turn(self, turn: ToolTurn) -> dict[str, Any]: ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any, Unpack

from onetwo.backends._settings import takes_settings
from onetwo.builtins.settings import ModelSettings, merge
from onetwo.core import caching

__all__ = ["NativeTools", "ToolTurn"]


@dataclasses.dataclass(frozen=True)
class ToolTurn:
    """One ``chat_with_tools`` request: its arguments, the settings merged."""

    messages: Sequence[Any]
    tools: Sequence[Mapping[str, Any]]
    tool_choice: str | None
    settings: ModelSettings


class NativeTools:
    """``chat_with_tools`` on :meth:`_tool_turn`; see the module docstring."""

    settings: ModelSettings

    async def _tool_turn(self, turn: ToolTurn) -> dict[str, Any]:
        """One request: ``{"text", "tool_calls": [{"id", "name", "arguments"}]}``."""
        raise NotImplementedError

    @caching.cache_method(name="llm.chat_with_tools", is_sampled=True)
    @takes_settings()
    async def chat_with_tools(
        self,
        messages: Sequence[Any],
        tools: Sequence[Mapping[str, Any]],
        *,
        tool_choice: str | None = None,
        **settings: Unpack[ModelSettings],
    ) -> dict[str, Any]:
        """The model's next turn, calling ``tools`` natively; see ``llm.chat_with_tools``."""
        merged = merge(self.settings, settings)
        return await self._tool_turn(ToolTurn(messages, tools, tool_choice, merged))
