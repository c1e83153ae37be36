"""``llm.generate_content``: replies as chunks (text and inline media).

The default builds on ``generate_text`` (FakeBackend); Gemini answers natively, text
parts as str chunks and inline data as bytes chunks with their MIME type.
"""

from __future__ import annotations

import pathlib
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import caching
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole
from onetwo.errors import InvalidArgumentError
from tests.rig.gemini_shim import GeminiShim

genai_api = pytest.importorskip("onetwo.backends.google_genai_api")
types = pytest.importorskip("google.genai.types")
IMAGE = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20  # long enough for a blob row


def test_the_default_answers_with_the_text_as_one_chunk() -> None:
    FakeBackend(replies={"Hi": "Hello!"}).register()
    reply = ot.run(llm.generate_content("Hi"))
    assert isinstance(reply, ChunkList)
    assert reply.chunks == [Chunk("Hello!")]


def test_gemini_parts_become_text_and_media_chunks() -> None:
    parts = [
        types.Part(text="A cat:"),
        types.Part(text="(thinking)", thought=True),
        types.Part(inline_data=types.Blob(data=IMAGE, mime_type="image/png")),
    ]
    content = types.Content(role="model", parts=parts)
    response = types.GenerateContentResponse(candidates=[types.Candidate(content=content)])
    chunks = genai_api._chunks(response).chunks
    assert chunks == [Chunk("A cat:"), Chunk(IMAGE, "image/png")]
    assert genai_api._chunks(types.GenerateContentResponse(candidates=[])).chunks == []


class _Drawer(caching.CacheEnabled):
    def __init__(self, cache: caching.CallCache) -> None:
        self.cache, self.calls = cache, 0

    @caching.cache_method(name="llm.generate_content", is_sampled=True)
    async def generate_content(self, prompt: str) -> ChunkList:
        self.calls += 1
        return ChunkList([Chunk(prompt), Chunk(IMAGE, "image/png")])


def test_chunks_with_image_bytes_round_trip_through_the_cache(tmp_path: pathlib.Path) -> None:
    drawer = _Drawer(caching.open_cache(tmp_path))
    first = ot.run(drawer.generate_content("A cat:"))
    again = _Drawer(caching.open_cache(tmp_path))
    replayed = ot.run(again.generate_content("A cat:"))
    assert again.calls == 0 and drawer.calls == 1
    assert replayed == first and replayed.chunks[1] == Chunk(IMAGE, "image/png")


@pytest.mark.rig
def test_gemini_answers_with_text_chunks(gemini_shim: GeminiShim) -> None:
    genai_api.GoogleGenAIAPI(
        "gemini-2.5-flash", api_key="gemini-test-key-0123456789", base_url=gemini_shim.url
    ).register()
    reply = ot.run(llm.generate_content("Name a color:", temperature=0.0, max_tokens=6))
    assert isinstance(reply, ChunkList) and reply.chunks
    assert all(c.content_type == "str" for c in reply.chunks) and str(reply).strip()
    body = gemini_shim.requests[-1].body
    assert isinstance(body, dict)
    assert body["generationConfig"]["maxOutputTokens"] == 6
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Name a color:"}]}]


def test_the_default_takes_a_conversation_and_gives_details() -> None:
    # The reference's tutorial: generate_content(messages, include_details=True).
    backend = FakeBackend(default_reply="x = -2")
    backend.register()
    messages = [
        Message(PredefinedRole.USER, "Hi! "),
        Message(PredefinedRole.MODEL, "Hello! How can I help you?"),
        Message(PredefinedRole.USER, "solve x^2 + 4x + 4 = 0"),
    ]
    reply, found = ot.run(llm.generate_content(messages, include_details=True))
    assert reply.chunks == [Chunk("x = -2")] and found[llm.THOUGHTS] == ChunkList()
    assert "solve x^2 + 4x + 4 = 0" in backend.prompts[-1]  # formatted as a chat
    assert ot.run(llm.generate_content(messages)).chunks == [Chunk("x = -2")]
    with pytest.raises(InvalidArgumentError, match="prompt"):
        ot.run(llm.generate_content([]))


def test_gemini_thought_parts_are_the_details_thoughts() -> None:
    parts = [types.Part(text="Let me see. ", thought=True), types.Part(text="2", thought=True)]
    parts.append(types.Part(text="The answer is 2."))
    content = types.Content(role="model", parts=parts)
    response = types.GenerateContentResponse(candidates=[types.Candidate(content=content)])
    assert genai_api._thoughts(response).chunks == [Chunk("Let me see. "), Chunk("2")]
    assert genai_api._chunks(response).chunks == [Chunk("The answer is 2.")]
    assert genai_api._thoughts(types.GenerateContentResponse(candidates=[])) == ChunkList()


@pytest.mark.rig
def test_gemini_answers_a_conversation_with_details_and_replays_it(
    gemini_shim: GeminiShim, tmp_path: pathlib.Path
) -> None:
    def gemini() -> Any:
        return genai_api.GoogleGenAIAPI(
            "gemini-2.5-flash",
            api_key="gemini-test-key-0123456789",
            base_url=gemini_shim.url,
            cache=tmp_path / "cache",
        )

    messages = [
        Message(PredefinedRole.SYSTEM, "Answer in one word."),
        Message(PredefinedRole.USER, "Name a color."),
        Message(PredefinedRole.MODEL, "Red."),
        Message(PredefinedRole.USER, "Another one."),
    ]
    with ot.RegistryContext():
        gemini().register()
        call = llm.generate_content(messages, include_details=True, temperature=0.0, max_tokens=5)
        reply, found = ot.run(call)
    assert isinstance(reply, ChunkList) and str(reply).strip()
    assert found["thoughts"] == ChunkList() and found["completion_tokens"] > 0
    body = gemini_shim.requests[-1].body
    assert isinstance(body, dict)
    assert body["systemInstruction"]["parts"] == [{"text": "Answer in one word."}]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    sent = len(gemini_shim.requests)
    with ot.RegistryContext():
        gemini().register()
        again = llm.generate_content(messages, include_details=True, temperature=0.0, max_tokens=5)
        assert ot.run(again) == (reply, found)
    assert len(gemini_shim.requests) == sent  # replayed from the cache


def test_details_survive_an_implementation_that_does_not_take_include_details() -> None:
    with ot.RegistryContext():
        llm.generate_text.configure(lambda prompt: "hello")
        reply, found = ot.run(llm.generate_content("Hi", include_details=True))
        assert reply.chunks == [Chunk("hello")] and found == {"thoughts": ChunkList()}
        conversation = [Message(PredefinedRole.USER, "Hi")]
        assert ot.run(llm.chat(conversation, include_details=True)) == ("hello", {})


@pytest.mark.rig
def test_gemini_plain_calls_keep_their_cache_key(
    gemini_shim: GeminiShim, tmp_path: pathlib.Path
) -> None:
    # Details have their own entry: a plain call's key is what it was before they existed.
    cache = caching.open_cache(tmp_path / "cache")
    backend = genai_api.GoogleGenAIAPI(
        "gemini-2.5-flash",
        api_key="gemini-test-key-0123456789",
        base_url=gemini_shim.url,
        cache=cache,
    )
    with ot.RegistryContext():
        backend.register()
        ot.run(llm.generate_content("Name a color:", max_tokens=4))
        ot.run(llm.generate_content("Name a color:", max_tokens=4, include_details=True))
    calls = {r["call"]["method"]: r["call"]["params"] for r in cache.records()}
    assert sorted(calls) == ["llm.generate_content", "llm.generate_content.details"]
    for params in calls.values():
        assert "include_details" not in params and params["max_tokens"] == 4
