"""The reference's formatter examples: names, the default prompt, few-shots, concat."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from onetwo.builtins import formatting
from onetwo.core.content import Chunk, ChunkList, Message, Role
from onetwo.core.content import PredefinedRole as R

RULES = 'Actor "Model" needs to obey the following rules when generating the messages below:'


class TagFormatter(formatting.Formatter):
    """A user-written formatter: ``<role>text</role>`` lines, user and model only."""

    def is_role_supported(self, role: Role) -> bool:
        return role in (R.USER, R.MODEL)

    def is_already_formatted(self, messages: Sequence[Message]) -> bool:
        return any("</" in str(m.content) for m in messages)

    def _format(self, messages: Sequence[Message]) -> ChunkList:
        return ChunkList([Chunk(f"<{m.role}>{m.get_chunk_list()}</{m.role}>\n") for m in messages])


def test_a_subclass_formats_and_format_checks_markers_and_roles() -> None:
    messages = [Message(R.USER, "Hi."), Message(R.MODEL, "Hey.")]
    expected = ChunkList([Chunk("<user>Hi.</user>\n"), Chunk("<model>Hey.</model>\n")])
    assert TagFormatter().format(messages) == expected
    formatted = [Message(R.USER, "<user>Hi.</user>")]
    with pytest.raises(ValueError, match="already hold"):
        TagFormatter().format(formatted)
    assert str(TagFormatter().format(formatted, raise_error_if_already_formatted=False)) == (
        "<user>Hi.</user>"
    )
    with_system = [Message(R.USER, "u"), Message(R.SYSTEM, "s")]
    with pytest.raises(ValueError, match=r"role\(s\) \['system'\]"):
        TagFormatter().format(with_system)
    assert str(TagFormatter().format(with_system, raise_error_if_unsupported_roles=False)) == (
        "<user>u</user>\n"
    )


@pytest.mark.parametrize(
    ("messages", "fewshots", "expected"),
    [
        ([Message(R.USER, "Hello!")], False, "Task: Hello!\nAnswer:"),
        (
            [Message(R.USER, "Hello!")],
            True,
            "Task: Write me a palindrome.\nAnswer: Level\nTask: Hello!\nAnswer:",
        ),
        ([Message(R.USER, "Hello!"), Message(R.MODEL, "")], False, "Task: Hello!\nAnswer:"),
        ([Message(R.USER, "Hello!"), Message(R.MODEL, "Hey")], False, "Task: Hello!\nAnswer: Hey"),
        (
            [Message(R.SYSTEM, "Any instructions"), Message(R.USER, "Hello!")],
            False,
            f"**System**: {RULES}\nAny instructions\n**User**: Hello!\n**Model**:",
        ),
        (
            [Message(R.SYSTEM, ""), Message(R.USER, "Hello!"), Message(R.SYSTEM, "No")],
            False,
            f"**User**: Hello!\n**System**: {RULES}\nNo\n**Model**:",
        ),
        (
            [
                Message(R.USER, "Hello!"),
                Message(R.MODEL, "Hey."),
                Message(R.USER, "How are you?"),
                Message(R.MODEL, "I am"),
            ],
            False,
            "**User**: Hello!\n**Model**: Hey.\n**User**: How are you?\n**Model**: I am",
        ),
    ],
)
def test_default_formatter_instructs_one_turn_and_formats_chats(
    messages: list[Message], fewshots: bool, expected: str
) -> None:
    assert str(formatting.DefaultFormatter({"use_fewshots": fewshots}).format(messages)) == (
        expected
    )
    assert str(formatting.DefaultFormatter(use_fewshots=fewshots).format(messages)) == expected


def test_default_formatter_options_and_stop_sequences() -> None:
    chat = [Message(R.USER, "Hi"), Message(R.MODEL, "Hey"), Message(R.USER, "Bye")]
    named = formatting.DefaultFormatter(role_map={R.MODEL: "Assistant", R.USER: "Human"})
    assert (
        str(named.format(chat))
        == "**Human**: Hi\n**Assistant**: Hey\n**Human**: Bye\n**Assistant**:"
    )
    assert named.extra_stop_sequences() == ["\nTask:", "\n**Human**:"]
    own = formatting.DefaultFormatter(fewshots=[("2+2?", "4")])
    assert str(own.format("3+3?")) == "Task: 2+2?\nAnswer: 4\nTask: 3+3?\nAnswer:"
    with pytest.raises(ValueError, match="narrator"):
        formatting.DefaultFormatter().format([Message("narrator", "x")])


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([Message(R.USER, "Hello!")], "Hello!"),
        (
            [Message(R.SYSTEM, "Rules\n"), Message(R.USER, "\nHi!\n"), Message(R.MODEL, "")],
            "Rules\n\nHi!\n",
        ),
        (
            [
                Message(R.USER, ChunkList([Chunk("A", role=R.SYSTEM), Chunk("B", role=R.MODEL)])),
                Message(R.MODEL, ChunkList([Chunk("C", role=R.USER)])),
            ],
            "ABC",
        ),
    ],
)
def test_concat_formatter_joins_the_contents_and_drops_roles(
    messages: list[Message], expected: str
) -> None:
    result = formatting.ConcatFormatter().format(messages)
    assert str(result) == expected and all(chunk.role is None for chunk in result)


def test_formatter_names() -> None:
    assert isinstance(
        formatting.get_formatter(formatting.FormatterName.DEFAULT), formatting.DefaultFormatter
    )
    assert isinstance(formatting.get_formatter("concat"), formatting.ConcatFormatter)
    assert isinstance(
        formatting.get_formatter(formatting.FormatterName.NONE), formatting.ConcatFormatter
    )
    with pytest.raises(NotImplementedError, match="chat API"):
        formatting.get_formatter(formatting.FormatterName.API)
    with pytest.raises(ValueError, match="unknown chat formatter 'fancy'"):
        formatting.get_formatter("fancy")
