"""Chat content: messages with roles, and prompts made of chunks.

A prompt is either a plain ``str`` or a :class:`ChunkList`, a sequence of
:class:`Chunk` s (text, or bytes such as an image, each optionally tagged with the chat
role it belongs to). A chat is a list of :class:`Message` s.

Example:
    >>> from onetwo.core.content import Message, PredefinedRole, ChunkList
    >>> Message(PredefinedRole.USER, "Hi!")
    Message(role=<PredefinedRole.USER: 'user'>, content='Hi!', tool_call_id=None)
    >>> str(ChunkList(["Q: ", "2+2?"]))
    'Q: 2+2?'
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Iterator
from typing import Any, overload

__all__ = ["Chunk", "ChunkList", "ContentType", "Message", "PredefinedRole", "Role"]


class PredefinedRole(enum.StrEnum):
    """The standard chat roles. ``MODEL`` is what OpenAI calls ``assistant``.

    ``TOOL`` carries a tool's result back to the model (with the call's ``tool_call_id``).
    """

    USER = "user"
    MODEL = "model"
    SYSTEM = "system"
    TOOL = "tool"

    def __str__(self) -> str:
        return self.value


Role = PredefinedRole | str


class ContentType(enum.StrEnum):
    """What a chunk holds."""

    STR = "str"
    BYTES = "bytes"


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a prompt: text (or bytes), optionally with the chat role it belongs to."""

    content: str | bytes
    content_type: ContentType = ContentType.STR
    role: Role | None = None

    def __post_init__(self) -> None:
        if isinstance(self.content, bytes) and self.content_type == ContentType.STR:
            object.__setattr__(self, "content_type", ContentType.BYTES)
        elif not isinstance(self.content, str | bytes):
            raise TypeError(
                f"Chunk content must be str or bytes, got {type(self.content).__name__}: "
                f"{self.content!r}. Convert it with str() first."
            )

    def __str__(self) -> str:
        if isinstance(self.content, bytes):
            return f"<{len(self.content)} bytes>"
        return self.content

    def __add__(self, other: Any) -> ChunkList:
        return ChunkList([self]).__add__(other)

    def __radd__(self, other: Any) -> ChunkList:
        return ChunkList([self]).__radd__(other)


def _is_content(value: Any) -> bool:
    return isinstance(value, str | bytes | Chunk | ChunkList)


def _as_chunks(value: Any) -> list[Chunk]:
    if isinstance(value, Chunk):
        return [value]
    if isinstance(value, ChunkList):
        return list(value.chunks)
    if isinstance(value, str | bytes):
        return [Chunk(value)]
    raise TypeError(
        f"cannot make prompt chunks from {type(value).__name__}: {value!r}; "
        "use str, bytes, Chunk or ChunkList."
    )


class ChunkList:
    """A prompt as a sequence of chunks. ``str(chunk_list)`` concatenates the text."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: Iterable[Chunk | str | bytes] = ()) -> None:
        self.chunks: list[Chunk] = [c for item in chunks for c in _as_chunks(item)]

    def __str__(self) -> str:
        return "".join(str(c) for c in self.chunks)

    def __repr__(self) -> str:
        return f"ChunkList({self.chunks!r})"

    def __len__(self) -> int:
        return len(self.chunks)

    def __iter__(self) -> Iterator[Chunk]:
        return iter(self.chunks)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> ChunkList: ...
    def __getitem__(self, i: int | slice) -> Chunk | ChunkList:
        if isinstance(i, slice):
            return ChunkList(self.chunks[i])
        return self.chunks[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChunkList) and self.chunks == other.chunks

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Any) -> ChunkList:
        if not _is_content(other):
            return NotImplemented  # e.g. a composable, which knows how to add a chunk
        return ChunkList([*self.chunks, *_as_chunks(other)])

    def __radd__(self, other: Any) -> ChunkList:
        if not _is_content(other):
            return NotImplemented
        return ChunkList([*_as_chunks(other), *self.chunks])

    def __iadd__(self, other: Any) -> ChunkList:
        if not _is_content(other):
            return NotImplemented
        self.chunks.extend(_as_chunks(other))
        return self

    def to_messages(self, default_role: Role = PredefinedRole.USER) -> list[Message]:
        """Group consecutive chunks by role into chat messages (untagged → ``default_role``)."""
        messages: list[Message] = []
        for chunk in self.chunks:
            role = default_role if chunk.role is None else chunk.role
            if messages and messages[-1].role == role:
                messages[-1] = Message(role, _join(messages[-1].content, chunk))
            elif chunk.role is None or isinstance(chunk.content, str):
                messages.append(Message(role, chunk.content))
            else:
                messages.append(Message(role, ChunkList([chunk])))
        return messages


def _join(content: str | bytes | ChunkList, chunk: Chunk) -> str | ChunkList:
    if isinstance(content, str) and isinstance(chunk.content, str):
        return content + chunk.content
    return ChunkList([*_as_chunks(content), Chunk(chunk.content, chunk.content_type)])


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """One chat turn: who speaks (``role``) and what they say (``content``).

    A ``TOOL`` message answers the model's tool call whose id is ``tool_call_id``.
    """

    role: Role
    content: str | bytes | ChunkList
    tool_call_id: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.role, str) and not isinstance(self.role, PredefinedRole):
            try:
                object.__setattr__(self, "role", PredefinedRole(self.role))
            except ValueError:
                pass  # a custom role name is allowed
