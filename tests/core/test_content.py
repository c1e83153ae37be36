"""Chat content: messages, roles, chunk lists."""

from __future__ import annotations

import pytest

from onetwo.builtins import composables as c
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole


def test_message_roles_normalise_to_predefined_roles() -> None:
    assert Message("user", "hi").role is PredefinedRole.USER
    assert Message("narrator", "hi").role == "narrator"  # custom roles are kept
    assert str(PredefinedRole.MODEL) == "model"


def test_chunk_lists_concatenate_with_text_and_chunks() -> None:
    prompt = "Q: " + ChunkList(["2+2", Chunk("?")]) + "\nA:"
    assert isinstance(prompt, ChunkList) and str(prompt) == "Q: 2+2?\nA:"
    assert str(Chunk("a") + "b") == "ab" and str("a" + Chunk("b")) == "ab"
    assert prompt[0] == Chunk("Q: ") and str(prompt[1:3]) == "2+2?"
    assert str(ChunkList([b"\x00\x01"])) == "<2 bytes>"


def test_adding_a_composable_to_content_defers_to_the_composable() -> None:
    assert isinstance(ChunkList(["a"]) + c.generate_text(), c.Composable)
    assert isinstance(Chunk("a") + c.generate_text(), c.Composable)


def test_to_messages_groups_consecutive_chunks_by_role() -> None:
    chunks = ChunkList(
        [
            Chunk("Be brief. ", role=PredefinedRole.SYSTEM),
            Chunk("Hi "),
            Chunk("there", role=PredefinedRole.USER),
            Chunk("Hello", role=PredefinedRole.MODEL),
        ]
    )
    assert chunks.to_messages() == [
        Message(PredefinedRole.SYSTEM, "Be brief. "),
        Message(PredefinedRole.USER, "Hi there"),
        Message(PredefinedRole.MODEL, "Hello"),
    ]


def test_bad_content_is_a_type_error_naming_the_value() -> None:
    with pytest.raises(
        TypeError, match=r"Chunk content must be str, bytes or a PIL\.Image\.Image, got int"
    ):
        Chunk(3)
    with pytest.raises(TypeError, match="cannot make prompt chunks from float"):
        ChunkList([1.5])  # type: ignore[list-item]


def test_the_repr_of_a_picture_shows_its_type_and_size_not_its_bytes() -> None:
    # A notebook cell ending in a chunk list of photos printed megabytes of bytes.
    photo = Chunk(b"\x89PNG\r\n\x1a\n" + bytes(1_000_000), "image/png")
    shown = repr(ChunkList([Chunk("A fox:"), photo]))
    assert "<image/png, 1000008 bytes>" in shown and len(shown) < 300
    assert "'A fox:'" in shown
    assert repr(Chunk("hi")) == (
        "Chunk(content='hi', content_type='str', role=None, metadata=None)"  # as a dataclass
    )
