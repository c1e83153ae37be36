"""Images in prompts: what OpenAIAPI and GoogleGenAIAPI send, and the embedded model's no.

Against loopback servers: a scripted OpenAI-compatible chat server
(``tests/rig/scripted_chat.py``), and the Gemini shim in front of it
(``tests/rig/gemini_tools.py``, which turns ``inlineData`` parts into OpenAI image parts).
"""

from __future__ import annotations

import base64
import importlib.util
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.builtins import llm
from onetwo.core.caching import CallCache
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole
from onetwo.errors import ConfigurationError
from tests.rig.scripted_chat import ScriptedChatServer

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("openai") is None or importlib.util.find_spec("google.genai") is None,
    reason="needs openai and google-genai",
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
)


def _images_seen(body: dict[str, Any]) -> list[bytes]:
    """The images of the last message a server received, decoded from their data URLs."""
    content = body["messages"][-1]["content"]
    urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"]
    assert all(u.startswith("data:image/png;base64,") for u in urls)
    return [base64.b64decode(u.split(",", 1)[1]) for u in urls]


@pytest.fixture
def server() -> Iterator[ScriptedChatServer]:
    server = ScriptedChatServer(lambda body: {"content": "a red dot"}).start()
    yield server
    server.stop()


def _openai(server: ScriptedChatServer, **kwargs: Any) -> Any:
    from onetwo.backends.openai_api import OpenAIAPI

    return OpenAIAPI("m", base_url=server.url + "/v1", **kwargs)


def test_openai_sends_an_image_as_a_data_url(server: ScriptedChatServer) -> None:
    _openai(server).register()  # a compatible server: text prompts go to /v1/completions
    prompt = ChunkList(["What is this? ", Chunk(PNG, "image/png")])
    assert ot.run(llm.generate_text(prompt, max_tokens=5)) == "a red dot"
    [body] = server.requests  # a chat: images cannot go to /v1/completions
    assert body["max_tokens"] == 5
    assert body["messages"][0]["content"][0] == {"type": "text", "text": "What is this? "}
    assert _images_seen(body) == [PNG]
    messages = [
        Message(PredefinedRole.SYSTEM, "Be brief."),
        Message(
            PredefinedRole.USER,
            ChunkList(["Two: ", Chunk(PNG, "image/png"), Chunk(PNG, "image/png")]),
        ),
    ]
    assert ot.run(llm.chat(messages)) == "a red dot"
    assert server.requests[-1]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert _images_seen(server.requests[-1]) == [PNG, PNG]


@pytest.mark.skipif(importlib.util.find_spec("PIL") is None, reason="needs pillow")
def test_a_pil_image_is_sent_as_png(server: ScriptedChatServer) -> None:
    from PIL import Image

    _openai(server).register()
    image = Image.new("RGB", (2, 3), (255, 0, 0))
    ot.run(llm.generate_text(ChunkList(["What color?", Chunk(image)])))
    [sent] = _images_seen(server.requests[-1])
    decoded = Image.open(io.BytesIO(sent))
    assert decoded.format == "PNG" and decoded.size == (2, 3)
    assert decoded.getpixel((0, 0)) == (255, 0, 0)


def test_gemini_sends_an_image_as_inline_data(server: ScriptedChatServer) -> None:
    from onetwo.backends.google_genai_api import GoogleGenAIAPI
    from tests.rig.gemini_tools import ToolGeminiShim, decode_bytes

    shim = ToolGeminiShim(server.url).start()
    try:
        GoogleGenAIAPI("g", api_key="k", base_url=shim.url).register()
        prompt = ChunkList(["What is this? ", Chunk(PNG, "image/png")])
        assert ot.run(llm.generate_text(prompt)) == "a red dot"
        [part_text, part_image] = shim.requests[-1].body["contents"][0]["parts"]
        assert part_text == {"text": "What is this? "}
        blob = part_image["inlineData"]
        assert (blob.get("mimeType") or blob["mime_type"]) == "image/png"
        assert decode_bytes(blob["data"]) == PNG
        assert _images_seen(server.requests[-1]) == [PNG]  # what the shim made of it
    finally:
        shim.stop()


def test_the_same_image_is_one_cache_entry_and_another_image_a_new_one(
    server: ScriptedChatServer, tmp_path: Path
) -> None:
    _openai(server, cache=CallCache(tmp_path)).register()
    other = PNG[:-1] + b"\x00"  # other bytes: another image

    def ask(image: bytes) -> Any:
        return llm.generate_text(ChunkList(["What is this?", Chunk(bytes(image), "image/png")]))

    ot.run(ask(PNG))
    ot.run(ask(bytes(PNG)))  # the same image, loaded again: from the cache
    assert len(server.requests) == 1
    ot.run(ask(other))
    assert len(server.requests) == 2


def test_the_embedded_model_refuses_images_naming_the_model() -> None:
    from onetwo.backends.local import local_backend

    local_backend().register()  # starts nothing
    prompt = ChunkList(["What is this?", Chunk(PNG, "image/png")])
    with pytest.raises(ConfigurationError, match=r"local model 'smollm2' takes text only"):
        ot.run(llm.generate_text(prompt))
    with pytest.raises(ConfigurationError, match="smollm2"):
        ot.run(llm.chat([Message(PredefinedRole.USER, prompt)]))
