"""Chat content: messages with roles, and prompts made of chunks.

A prompt is either a plain ``str`` or a :class:`ChunkList`, a sequence of
:class:`Chunk` s (text, bytes with a MIME type, or a ``PIL.Image.Image``; each optionally
tagged with the chat role it belongs to). A chat is a list of :class:`Message` s. Bad
content raises ``InvalidArgumentError``, a ``TypeError`` and ``ValueError`` both.

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
import io
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, overload

from onetwo.errors import InvalidArgumentError

__all__ = ["Chunk", "ChunkList", "ContentType", "Message", "PredefinedRole", "Role"]


class PredefinedRole(enum.StrEnum):
    """The standard chat roles: ``MODEL`` is OpenAI's ``assistant``, ``TOOL`` a tool's result."""

    USER = "user"
    MODEL = "model"
    SYSTEM = "system"
    CONTEXT = "context"
    TOOL = "tool"


Role = PredefinedRole | str
_ROLES = frozenset(PredefinedRole)  # StrEnum members: "user" in _ROLES


class ContentType(enum.StrEnum):
    """A chunk's kind without a MIME type (``"ctrl"``: a control token, never stripped)."""

    STR = "str"
    BYTES = "bytes"


def _is_image(value: Any) -> bool:
    module = sys.modules.get("PIL.Image")  # never imported here: an image's maker did
    return module is not None and isinstance(value, module.Image)


@dataclasses.dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a prompt: text, bytes or a ``PIL.Image.Image``, with an optional role.

    ``content_type`` is ``"str"``, ``"ctrl"``, ``"bytes"`` or a MIME type (``"image/png"``,
    checked against the content); left out, it follows the content (an image's own format,
    else ``image/jpeg``). ``metadata`` is passed on to backends that use it. A chunk is
    false when empty (``is_empty()``).

    Example:
        >>> Chunk(png_bytes, "image/png").as_bytes()   # doctest: +SKIP
        (b'\x89PNG...', 'image/png')
    """

    content: str | bytes | Any  # Any: a PIL.Image.Image (pillow is optional)
    content_type: str = ""
    role: Role | None = None
    metadata: Any = None

    def __post_init__(self) -> None:
        content, content_type = self.content, self.content_type
        kind = content_type if isinstance(content_type, str) else "?"  # "?" fits nothing
        if isinstance(content, str):
            default, fits = "str", kind in ("str", "ctrl") or kind.startswith("text/")
        elif isinstance(content, bytes):
            default, fits = "bytes", kind == "bytes" or ("/" in kind and kind[:5] != "text/")
        elif _is_image(content):
            default, fits = f"image/{(content.format or 'jpeg').lower()}", kind[:6] == "image/"
        else:
            raise InvalidArgumentError(
                f"Chunk content must be str, bytes or a PIL.Image.Image, got "
                f"{type(content).__name__}: {content!r:.80}. Convert it with str() first."
            )
        if not content_type:
            object.__setattr__(self, "content_type", default)
        elif not fits:
            raise InvalidArgumentError(
                f"Chunk content_type {content_type!r} does not fit content of type "
                f"{type(content).__name__}: text takes 'str', 'ctrl' or 'text/...', bytes "
                "take 'bytes' or a MIME type ('image/png'), a PIL image takes 'image/...'."
            )

    def __repr__(self) -> str:  # a picture's bytes in full would fill a notebook
        if isinstance(self.content, str):
            content = repr(self.content)
        else:
            size = f", {len(self.content)} bytes" if isinstance(self.content, bytes) else ""
            content = f"<{self.content_type}{size}>"
        return (
            f"Chunk(content={content}, content_type={self.content_type!r}, role={self.role!r}, "
            f"metadata={self.metadata!r})"
        )

    def __str__(self) -> str:
        if isinstance(self.content, str):
            return self.content
        if self.content_type == "bytes":
            return f"<{len(self.content)} bytes>"
        return f"<{self.content_type}>"

    def __bool__(self) -> bool:
        return not self.is_empty()

    def __add__(self, other: Any) -> ChunkList:
        return ChunkList([self]).__add__(other)

    def __radd__(self, other: Any) -> ChunkList:
        return ChunkList([self]).__radd__(other)

    def is_empty(self) -> bool:
        """Whether there is nothing in it: empty text or bytes, or a 0x0 image."""
        if isinstance(self.content, str | bytes):
            return not self.content
        return bool(self.content.size == (0, 0))

    def strip(self, chars: str | None = None, /) -> Chunk:
        """A copy with ``str.strip`` applied to plain text (not to control tokens or bytes)."""
        return self._stripped(str.strip, chars)

    def lstrip(self, chars: str | None = None, /) -> Chunk:
        """A copy with ``str.lstrip`` applied to plain text."""
        return self._stripped(str.lstrip, chars)

    def rstrip(self, chars: str | None = None, /) -> Chunk:
        """A copy with ``str.rstrip`` applied to plain text."""
        return self._stripped(str.rstrip, chars)

    def _stripped(self, strip: Callable[[str, str | None], str], chars: str | None) -> Chunk:
        text = str(self.content) if self.content_type == "str" else None
        return self if text is None else dataclasses.replace(self, content=strip(text, chars))

    def as_bytes(self) -> tuple[bytes, str]:
        """The content encoded as bytes, with its MIME type (PIL images as PNG).

        What backends send for a non-text chunk; text is UTF-8 with ``text/plain``.
        """
        if isinstance(self.content, bytes):
            return self.content, self.content_type
        if isinstance(self.content, str):
            return self.content.encode(), "text/plain"
        buffer = io.BytesIO()
        self.content.save(buffer, format="PNG")
        return buffer.getvalue(), "image/png"


def _is_content(value: Any) -> bool:
    return isinstance(value, str | bytes | Chunk | ChunkList) or _is_image(value)


def _as_chunks(value: Any) -> list[Chunk]:
    if isinstance(value, Chunk):
        return [value]
    if isinstance(value, ChunkList):
        return list(value.chunks)
    if isinstance(value, str | bytes) or _is_image(value):
        return [Chunk(value)]
    raise InvalidArgumentError(
        f"cannot make prompt chunks from {type(value).__name__}: {value!r:.80}; "
        "use str, bytes, a PIL image, Chunk or ChunkList."
    )


class ChunkList:
    """A prompt as a sequence of chunks. ``str(chunk_list)`` concatenates the text."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: Iterable[Chunk | ChunkList | str | bytes] = ()) -> None:
        self.chunks: list[Chunk] = [c for item in chunks for c in _as_chunks(item)]

    def __str__(self) -> str:
        return "".join(str(c) for c in self.chunks)

    def __repr__(self) -> str:
        return f"ChunkList({self.chunks!r})"

    def __len__(self) -> int:
        return len(self.chunks)

    def __iter__(self) -> Iterator[Chunk]:
        return iter(self.chunks)

    def __bool__(self) -> bool:
        return any(self.chunks)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> ChunkList: ...
    def __getitem__(self, i: int | slice) -> Chunk | ChunkList:
        return ChunkList(self.chunks[i]) if isinstance(i, slice) else self.chunks[i]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ChunkList) and self.chunks == other.chunks

    __hash__ = None  # type: ignore[assignment]

    def __add__(self, other: Any) -> ChunkList:
        # Not content: e.g. a composable, which knows how to add a chunk list.
        return ChunkList([self, other]) if _is_content(other) else NotImplemented

    def __radd__(self, other: Any) -> ChunkList:
        return ChunkList([other, self]) if _is_content(other) else NotImplemented

    def __iadd__(self, other: Any) -> ChunkList:
        if not _is_content(other):
            return NotImplemented
        self.chunks.extend(_as_chunks(other))
        return self

    def lstrip(self, chars: str | None = None, /) -> ChunkList:
        """A copy without leading empty chunks, the first one ``lstrip``-ed (dropped if empty)."""
        chunks = list(itertools.dropwhile(Chunk.is_empty, self.chunks))
        if chunks:
            chunks[0] = chunks[0].lstrip(chars)
        return ChunkList(chunks[1:] if chunks and chunks[0].is_empty() else chunks)

    def rstrip(self, chars: str | None = None, /) -> ChunkList:
        """A copy ``rstrip``-ed from the end: chunks stripped to nothing are dropped."""
        chunks = list(self.chunks)
        while chunks and chunks[-1].rstrip(chars).is_empty():
            chunks.pop()
        if chunks:
            chunks[-1] = chunks[-1].rstrip(chars)
        return ChunkList(chunks)

    def strip(self, chars: str | None = None, /) -> ChunkList:
        """``lstrip`` then ``rstrip``."""
        return self.lstrip(chars).rstrip(chars)

    def to_messages(self, default_role: Role = PredefinedRole.USER) -> list[Message]:
        """Group consecutive chunks by role into chat messages (untagged → ``default_role``)."""
        messages: list[Message] = []
        for chunk in self.chunks:
            role = default_role if chunk.role is None else chunk.role
            if messages and messages[-1].role == role:
                messages[-1] = Message(role, _join(messages[-1].content, chunk))
            elif _is_plain(chunk):
                messages.append(Message(role, chunk.content))
            else:
                messages.append(Message(role, ChunkList([dataclasses.replace(chunk, role=None)])))
        return messages


def _is_plain(chunk: Chunk) -> bool:  # a message may hold its content as a plain str or bytes
    return chunk.content_type in ("str", "bytes") and chunk.metadata is None


def _join(content: str | bytes | ChunkList, chunk: Chunk) -> str | ChunkList:
    if isinstance(content, str) and isinstance(chunk.content, str) and _is_plain(chunk):
        return content + chunk.content
    return ChunkList([content, dataclasses.replace(chunk, role=None)])


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """One chat turn: who speaks (``role``) and what they say (``content``).

    A ``TOOL`` message answers the model's tool call whose id is ``tool_call_id``.
    """

    role: Role
    content: str | bytes | ChunkList
    tool_call_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.role, str):
            raise InvalidArgumentError(
                f"Message role must be a PredefinedRole or a str, got {self.role!r:.80}; "
                "e.g. Message(PredefinedRole.USER, 'Hi'). The role comes first."
            )
        if isinstance(self.content, Chunk):
            object.__setattr__(self, "content", ChunkList([self.content]))
        elif not isinstance(self.content, str | bytes | ChunkList):
            raise InvalidArgumentError(
                f"Message content must be str, bytes, Chunk or ChunkList, got "
                f"{type(self.content).__name__}: {self.content!r:.80}."
            )
        if self.tool_call_id is not None and not isinstance(self.tool_call_id, str):
            raise InvalidArgumentError(f"tool_call_id must be a str, got {self.tool_call_id!r}.")
        if type(self.role) is not PredefinedRole and self.role in _ROLES:  # custom: a str
            object.__setattr__(self, "role", PredefinedRole(self.role))

    def get_chunk_list(self) -> ChunkList:
        """The content as a :class:`ChunkList`."""
        return self.content if isinstance(self.content, ChunkList) else ChunkList([self.content])
