"""Turning a chat (a list of messages) into a single prompt, for text-only models.

``llm.chat``'s default implementation formats the messages with a :class:`Formatter` and
calls ``llm.generate_text``, stopping where the next turn would begin (a backend with a
chat endpoint configures ``llm.chat`` itself). Pick one by :class:`FormatterName`
(``formatter="concat"``), pass an object, or subclass :class:`Formatter`.

Example:
    >>> from onetwo.core.content import Message, PredefinedRole as R
    >>> str(DefaultFormatter().format([Message(R.USER, "Hi")]))
    'Task: Hi\\nAnswer:'
    >>> str(DefaultFormatter().format([Message(R.USER, "Hi"), Message(R.MODEL, "Hey"),
    ...                                Message(R.USER, "Bye")]))
    '**User**: Hi\\n**Model**: Hey\\n**User**: Bye\\n**Model**:'
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from onetwo.core.builtin import check_arguments
from onetwo.core.content import ChunkList, Message, PredefinedRole, Role
from onetwo.errors import InvalidArgumentError

__all__ = ["ConcatFormatter", "DefaultFormatter", "Formatter", "FormatterName", "get_formatter"]


class FormatterName(enum.StrEnum):
    """The formatters ``llm.chat`` knows by name."""

    NONE = "none"  # the messages' contents one after the other (as CONCAT)
    DEFAULT = "default"  # DefaultFormatter
    CONCAT = "concat"  # ConcatFormatter
    API = "api"  # the model's own chat API: only backends with a chat endpoint


class Formatter(abc.ABC):
    """Formats a chat into a prompt that ends where the model's reply begins.

    Subclasses say which roles they take (:meth:`is_role_supported`) and build the prompt
    (:meth:`_format`) from the messages :meth:`format` checked; ``kwargs`` are their options.
    """

    def __init__(self, kwargs: Mapping[str, Any] | None = None) -> None:
        self._kwargs = dict(kwargs or {})

    @abc.abstractmethod
    def is_role_supported(self, role: Role) -> bool:
        """Whether messages of ``role`` can be formatted."""

    def is_already_formatted(self, messages: Sequence[Message]) -> bool:
        """Whether the messages already hold this formatter's markers."""
        return False

    @abc.abstractmethod
    def _format(self, messages: Sequence[Message]) -> ChunkList:
        """The prompt for ``messages`` (already checked by :meth:`format`)."""

    def extra_stop_sequences(self) -> list[str]:
        """Where the model's reply ends (the start of the next turn)."""
        return []

    def stop_sequences(self) -> list[str]:
        """The same as :meth:`extra_stop_sequences`."""
        return self.extra_stop_sequences()

    def format(
        self,
        content: str | ChunkList | Message | Sequence[Message],
        raise_error_if_already_formatted: bool = True,
        raise_error_if_unsupported_roles: bool = True,
    ) -> ChunkList:
        """The prompt for ``content`` (text is one user message).

        Already formatted messages are an error (or used as they are: ``raise_error_if_
        already_formatted=False``), as are messages of unsupported roles (or left out).
        """
        if isinstance(content, str | ChunkList):
            content = Message(PredefinedRole.USER, content)
        messages = [content] if isinstance(content, Message) else list(content)
        if not messages:
            return ChunkList()
        if self.is_already_formatted(messages):
            if not raise_error_if_already_formatted:
                return ChunkList([c for m in messages for c in m.get_chunk_list()])
            raise InvalidArgumentError(
                f"{type(self).__name__}: the messages already hold its markers: "
                f"{messages!r:.200}. Pass raise_error_if_already_formatted=False to use them "
                "as they are."
            )
        unsupported = sorted({str(m.role) for m in messages if not self.is_role_supported(m.role)})
        if unsupported and raise_error_if_unsupported_roles:
            raise InvalidArgumentError(
                f"{type(self).__name__} does not support the role(s) {unsupported}. Use "
                "other roles, or pass raise_error_if_unsupported_roles=False to leave those "
                "messages out."
            )
        return self._format([m for m in messages if self.is_role_supported(m.role)])

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._kwargs or ''})"


_TASK, _ANSWER = "Task:", "Answer:"
_OBEY = "needs to obey the following rules when generating the messages below:"


class DefaultFormatter(Formatter):
    """A prompt a completion model continues sensibly.

    One user message (and a reply prefix) is an instruction, ``Task: ...\\nAnswer:``;
    other chats are ``**User**: ...`` lines ending with ``**Model**:`` (and the final
    model message, which the reply continues). Options (in ``kwargs`` or as keywords):
    ``use_fewshots`` (a worked example first), ``fewshots`` (your own ``(task, answer)``
    pairs), ``role_map`` (names shown, e.g. ``{PredefinedRole.MODEL: "Assistant"}``).
    """

    def __init__(self, kwargs: Mapping[str, Any] | None = None, **options: Any) -> None:
        super().__init__({**(kwargs or {}), **options})
        check_arguments("DefaultFormatter", self._kwargs, ("fewshots", "role_map", "use_fewshots"))
        fewshots = self._kwargs.get("fewshots")
        if fewshots is None and self._kwargs.get("use_fewshots"):
            fewshots = [("Write me a palindrome.", "Level")]
        self._fewshots: list[tuple[str, str]] = list(fewshots or ())
        self.role_map: Mapping[Role, str] = {  # the name shown for each role it supports
            **{r: r.value.capitalize() for r in PredefinedRole},
            **(self._kwargs.get("role_map") or {}),
        }

    def is_role_supported(self, role: Role) -> bool:
        return role in self.role_map

    def is_already_formatted(self, messages: Sequence[Message]) -> bool:
        return any(_TASK in str(m.content) or _ANSWER in str(m.content) for m in messages)

    def extra_stop_sequences(self) -> list[str]:
        return [f"\n{_TASK}", f"\n**{self.role_map[PredefinedRole.USER]}**:"]

    def _format(self, messages: Sequence[Message]) -> ChunkList:
        roles = [m.role for m in messages]
        if roles in ([PredefinedRole.USER], [PredefinedRole.USER, PredefinedRole.MODEL]):
            prefix = messages[1].get_chunk_list() if len(messages) == 2 else ChunkList()
            return self._instruction(messages[0].get_chunk_list(), prefix)
        prompt = ChunkList()
        names = self.role_map
        ends_with_reply = roles[-1] == PredefinedRole.MODEL
        for m in messages[:-1] if ends_with_reply else messages:
            if m.role != PredefinedRole.SYSTEM:
                prompt += f"**{names[m.role]}**: " + m.get_chunk_list() + "\n"
            elif m.content:  # the rules of the model's turns
                actor = f'Actor "{names[PredefinedRole.MODEL]}" {_OBEY}'
                prompt += f"**{names[m.role]}**: {actor}\n" + m.get_chunk_list() + "\n"
        reply = messages[-1].get_chunk_list().lstrip(" ") if ends_with_reply else ChunkList()
        return prompt + f"**{names[PredefinedRole.MODEL]}**:" + (" " + reply if reply else "")

    def _instruction(self, task: ChunkList, prefix: ChunkList) -> ChunkList:
        prompt = ChunkList([f"{_TASK} {q}\n{_ANSWER} {a}\n" for q, a in self._fewshots])
        task, prefix = task.lstrip(" "), prefix.lstrip(" ")
        prompt += f"{_TASK} " + task + f"\n{_ANSWER}" if task else f"{_TASK}\n{_ANSWER}"
        return prompt + " " + prefix if prefix else prompt


class ConcatFormatter(Formatter):
    """The messages' contents one after the other, roles dropped, nothing added."""

    def is_role_supported(self, role: Role) -> bool:
        return True

    def _format(self, messages: Sequence[Message]) -> ChunkList:
        return ChunkList([replace(c, role=None) for m in messages for c in m.get_chunk_list()])


def get_formatter(formatter: Formatter | FormatterName | str | None) -> Formatter:
    """``formatter`` as an object: given, named (:class:`FormatterName`), or the default."""
    if isinstance(formatter, Formatter):
        return formatter
    try:
        name = FormatterName(formatter or FormatterName.DEFAULT)
    except ValueError:
        raise InvalidArgumentError(
            f"unknown chat formatter {formatter!r}; the names are "
            f"{[n.value for n in FormatterName]}. Pass a Formatter object instead."
        ) from None
    if name is FormatterName.API:
        raise NotImplementedError(
            "formatter=API sends the messages to the model's own chat API, which this "
            "backend does not have (its llm.chat formats them into a prompt). Use "
            "FormatterName.DEFAULT, or a backend with a chat endpoint."
        )
    return DefaultFormatter() if name is FormatterName.DEFAULT else ConcatFormatter()
