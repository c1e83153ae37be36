"""Turning a chat (a list of messages) into a single prompt, for text-only models.

``llm.chat``'s default implementation formats the messages with a :class:`Formatter` and
calls ``llm.generate_text``, stopping where the next user turn would begin. A backend with
a native chat endpoint configures ``llm.chat`` directly and never uses a formatter.

Example:
    >>> from onetwo.core.content import Message, PredefinedRole as R
    >>> f = DefaultFormatter()
    >>> f.format([Message(R.USER, "Hi")])
    '**User**: Hi\\n**Model**:'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from onetwo.core.content import ChunkList, Message, PredefinedRole

__all__ = ["DefaultFormatter", "Formatter", "get_formatter"]


class Formatter(Protocol):
    """Formats a chat into a prompt that ends where the model's reply begins."""

    def format(self, messages: Sequence[Message]) -> str: ...

    def stop_sequences(self) -> list[str]:
        """Where the model's reply ends (the start of the next turn)."""
        ...


class DefaultFormatter:
    """``**User**: ...`` / ``**Model**: ...`` turns, one per line (the role, capitalized).

    A final model message is a prefix the reply continues from.
    """

    def format(self, messages: Sequence[Message]) -> str:
        lines = []
        for m in messages:
            content = str(m.content) if isinstance(m.content, ChunkList) else m.content
            if isinstance(content, bytes):
                content = f"<{len(content)} bytes>"
            lines.append(f"**{str(m.role).capitalize()}**: {content}")
        if not messages or messages[-1].role != PredefinedRole.MODEL:
            lines.append("**Model**:")  # else: continue the model's partial turn
        return "\n".join(lines)

    def stop_sequences(self) -> list[str]:
        return ["\n**User**:", "\n**System**:"]

    def __repr__(self) -> str:
        return "DefaultFormatter()"


_DEFAULT = DefaultFormatter()


def get_formatter(formatter: Formatter | str | None) -> Formatter:
    """Resolve ``formatter``: an object, ``"default"``, or ``None`` for the default."""
    if formatter is None or formatter == "default":
        return _DEFAULT
    if isinstance(formatter, str):
        raise ValueError(
            f"unknown chat formatter {formatter!r}; known: ['default']. "
            "Pass a Formatter object instead."
        )
    return formatter
