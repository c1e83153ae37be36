"""The reference's content examples: Chunk types and MIME checks, emptiness, stripping."""

from __future__ import annotations

from typing import Any

import pytest

from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole


@pytest.mark.parametrize(
    ("content", "content_type", "expected"),
    [
        ("test", None, "str"),
        (b"test", None, "bytes"),
        ("test", "str", "str"),
        ("test", "ctrl", "ctrl"),
        (b"test", "image/jpeg", "image/jpeg"),
        (b"%PDF", "application/pdf", "application/pdf"),
    ],
)
def test_the_content_type_follows_the_content_or_is_checked(
    content: Any, content_type: str | None, expected: str
) -> None:
    chunk = Chunk(content) if content_type is None else Chunk(content, content_type)
    assert chunk.content_type == expected


@pytest.mark.parametrize(
    ("content", "content_type"),
    [("test", "bytes"), ("test", "image/jpeg"), (b"test", "str"), (b"test", "ctrl")],
)
def test_a_content_type_that_does_not_fit_the_content_is_a_value_error(
    content: Any, content_type: str
) -> None:
    with pytest.raises(ValueError, match=f"content_type '{content_type}' does not fit"):
        Chunk(content, content_type)


def test_unaccepted_content_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"must be str, bytes or a PIL\.Image\.Image, got list"):
        Chunk(["list type content"])


def test_empty_chunks_and_chunk_lists_are_false() -> None:
    assert not Chunk("") and not Chunk(b"")
    assert Chunk("abc") and Chunk(b"abc")
    assert not ChunkList([]) and not ChunkList([Chunk(""), Chunk(b""), Chunk("")])
    assert ChunkList([Chunk(""), Chunk(b"0"), Chunk("")])
    assert Chunk("").is_empty() and not Chunk(b"1").is_empty()


def test_chunk_strip_touches_text_but_not_control_tokens() -> None:
    assert Chunk("abccbbabbctest").lstrip("abc") == Chunk("test")
    assert Chunk("testabbcbc").rstrip("abc") == Chunk("test")
    assert Chunk("abbcbctestabbcbc").strip("abc") == Chunk("test")
    assert Chunk("abbcbc", content_type="ctrl").strip("abc") == Chunk("abbcbc", "ctrl")
    assert Chunk(b"abc").strip("abc") == Chunk(b"abc")


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        ([], []),
        (["12", b"13", "testabbcbc"], ["12", b"13", "test"]),
        (["12", b"13", "", b""], ["12", b"13"]),
        (["abc", "bc", "c", "", b""], []),
        (["dcba", "abc", "a", "", "b", b"", "a"], ["d"]),
    ],
)
def test_chunk_list_rstrip_strips_back_through_chunks_it_empties(
    chunks: list[Any], expected: list[Any]
) -> None:
    assert ChunkList(chunks).rstrip("abc") == ChunkList(expected)


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["abbcbctest", "12", b"13"], ["test", "12", b"13"]),
        (["", b"", "abbcbctest", "12"], ["test", "12"]),
        (["", b"", "abc", "abcd"], ["abcd"]),  # does not go on into the next chunk
    ],
)
def test_chunk_list_lstrip_drops_leading_empty_chunks(
    chunks: list[Any], expected: list[Any]
) -> None:
    assert ChunkList(chunks).lstrip("abc") == ChunkList(expected)
    assert ChunkList([*chunks, "cba"]).strip("abc") == ChunkList(expected)


def test_message_get_chunk_list_and_the_tool_role() -> None:
    assert Message(PredefinedRole.USER, "hi").get_chunk_list() == ChunkList(["hi"])
    chunks = ChunkList(["a", b"b"])
    assert Message(PredefinedRole.USER, chunks).get_chunk_list() is chunks
    reply = Message(PredefinedRole.TOOL, "42", tool_call_id="call_1")
    assert reply.role is PredefinedRole.TOOL and reply.tool_call_id == "call_1"
    assert Message("context", "x").role is PredefinedRole.CONTEXT


def test_metadata_is_kept_and_text_as_bytes_is_utf8() -> None:
    chunk = Chunk(b"\x89PNG", "image/png", metadata={"detail": "low"})
    assert chunk.metadata == {"detail": "low"} and chunk.as_bytes() == (b"\x89PNG", "image/png")
    assert Chunk("é").as_bytes() == ("é".encode(), "text/plain")
    assert str(ChunkList(["see ", chunk])) == "see <image/png>"


def test_pil_images_are_chunks_of_their_format_and_encode_as_png() -> None:
    image_module = pytest.importorskip("PIL.Image")
    blank = image_module.new("RGB", (2, 2), "red")
    assert Chunk(blank).content_type == "image/jpeg"  # made in memory: no format of its own
    assert Chunk(image_module.Image()).is_empty() and not Chunk(blank).is_empty()
    data, mime = Chunk(blank).as_bytes()
    assert mime == "image/png" and data.startswith(b"\x89PNG")
    assert Chunk(blank, "image/png").content_type == "image/png"
    with pytest.raises(ValueError, match="does not fit"):
        Chunk(blank, "str")
    assert str(ChunkList(["x", blank])) == "x<image/jpeg>"
