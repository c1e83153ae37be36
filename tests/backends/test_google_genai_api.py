"""GoogleGenAIAPI through the real google-genai SDK, against the local Gemini shim.

The shim (tests/rig/gemini_shim.py) speaks Gemini's REST API on /v1 and /v1beta and
answers from the real local model, so every call here is a real SDK call and a real
generation.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pydantic
import pytest

from onetwo import ot
from onetwo.builtins import llm
from onetwo.core.content import Message, PredefinedRole
from onetwo.errors import BackendHTTPError, ConfigurationError
from tests.rig.gemini_shim import GeminiShim

pytestmark = pytest.mark.rig

genai_api = pytest.importorskip("onetwo.backends.google_genai_api")
SECRET = "gemini-test-key-0123456789"


class City(pydantic.BaseModel):
    name: str
    country: str


@pytest.fixture(params=["v1", "v1beta"])
def backend(request: pytest.FixtureRequest, gemini_shim: GeminiShim) -> object:
    backend = genai_api.GoogleGenAIAPI(
        "gemini-2.5-flash",
        api_key=SECRET,
        base_url=gemini_shim.url,
        api_version=request.param,
        max_tokens=12,
        embedding_dimensions=16,
    )
    backend.register()
    return backend


def last_body(shim: GeminiShim, method: str) -> dict[str, object]:
    for recorded in reversed(shim.requests):
        if recorded.path.split("?")[0].endswith(":" + method):
            assert isinstance(recorded.body, dict)
            return recorded.body
    raise AssertionError(f"no {method} request")


def test_generate_text_sends_every_parameter(gemini_shim: GeminiShim, backend: object) -> None:
    text, details = ot.run(
        llm.generate_text(
            "The capital of France is",
            temperature=0.0,
            max_tokens=6,
            stop=["\n\n"],
            top_k=5,
            top_p=0.9,
            include_details=True,
        )
    )
    assert isinstance(text, str) and text
    assert details["finish_reason"] in ("STOP", "MAX_TOKENS")
    assert details["prompt_tokens"] > 0 and 0 < details["completion_tokens"] <= 6
    assert details["latency"] > 0 and details["logprobs"]
    config = last_body(gemini_shim, "generateContent")["generationConfig"]
    assert config == {
        "temperature": 0.0,
        "maxOutputTokens": 6,
        "stopSequences": ["\n\n"],
        "topK": 5,
        "topP": 0.9,
        "responseLogprobs": True,
    }
    path = gemini_shim.requests[-1].path
    assert path.startswith(f"/{backend.api_version}/models/gemini-2.5-flash:")  # type: ignore[attr-defined]


def test_default_settings_merge_under_each_calls(gemini_shim: GeminiShim) -> None:
    genai_api.GoogleGenAIAPI(
        "gemini-2.5-flash", api_key=SECRET, base_url=gemini_shim.url, temperature=0.0, top_k=3
    ).register()
    ot.run(llm.generate_text("Hello", max_tokens=2, stop="END"))
    config = last_body(gemini_shim, "generateContent")["generationConfig"]
    assert config == {"temperature": 0.0, "maxOutputTokens": 2, "stopSequences": ["END"], "topK": 3}


def test_sequential_greedy_calls_are_reproducible(backend: object) -> None:
    call = llm.generate_text("Name three colors:", temperature=0.0, max_tokens=8)
    assert ot.run(call) == ot.run(call)


def test_chat_sends_turns_and_the_system_instruction(
    gemini_shim: GeminiShim, backend: object
) -> None:
    messages = [
        Message(PredefinedRole.SYSTEM, "Be brief."),
        Message(PredefinedRole.USER, "What is 2+2?"),
        Message(PredefinedRole.MODEL, "4."),
        Message(PredefinedRole.USER, "And 3+3?"),
    ]
    reply = ot.run(llm.chat(messages, temperature=0.0))
    assert isinstance(reply, str) and reply
    body = last_body(gemini_shim, "generateContent")
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]  # type: ignore[index]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]  # type: ignore[attr-defined]


def test_instruct(backend: object) -> None:
    assert isinstance(ot.run(llm.instruct("Say hello.", temperature=0.0)), str)


def test_generate_object_sends_the_json_schema(gemini_shim: GeminiShim, backend: object) -> None:
    city = ot.run(
        llm.generate_object(
            "Give a city as JSON with name and country.", City, temperature=0.0, max_tokens=48
        )
    )
    assert isinstance(city, City) and city.name
    config = last_body(gemini_shim, "generateContent")["generationConfig"]
    assert config["responseMimeType"] == "application/json"  # type: ignore[index]
    assert config["responseJsonSchema"]["required"] == ["name", "country"]  # type: ignore[index]


def test_generate_object_takes_a_conversation(gemini_shim: GeminiShim, backend: object) -> None:
    messages = [
        Message(PredefinedRole.SYSTEM, "Answer with JSON only."),
        Message(PredefinedRole.USER, "What is the capital of France?"),
        Message(PredefinedRole.MODEL, "Paris."),
        Message(PredefinedRole.USER, "Give it as JSON with name and country."),
    ]
    city = ot.run(llm.generate_object(messages, City, temperature=0.0, max_tokens=48))
    assert isinstance(city, City) and city.name
    body = last_body(gemini_shim, "generateContent")
    assert body["systemInstruction"]["parts"] == [{"text": "Answer with JSON only."}]  # type: ignore[index]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]  # type: ignore[attr-defined]
    assert body["generationConfig"]["responseMimeType"] == "application/json"  # type: ignore[index]


def test_embed_batches_concurrent_calls(gemini_shim: GeminiShim, backend: object) -> None:
    vectors = ot.run(ot.parallel(*(llm.embed(t) for t in ["a cat", "a dog", "a car"])))
    assert [len(v) for v in vectors] == [16, 16, 16]
    requests = last_body(gemini_shim, "batchEmbedContents")["requests"]
    assert len(requests) == 3  # type: ignore[arg-type]
    assert requests[0]["outputDimensionality"] == 16  # type: ignore[index]


def test_count_tokens(backend: object) -> None:
    assert ot.run(llm.count_tokens("The capital of France is")) == 5


def test_one_client_serves_every_run(backend: Any) -> None:
    clients = []

    @ot.make_executable
    async def call() -> int:
        clients.append(await backend._client())
        return int(await llm.count_tokens("Hi"))

    for _ in range(2):
        assert ot.run(call())
    assert clients[0] is clients[1]  # kept by the runtime
    assert not clients[0]._api_client._async_httpx_client.is_closed


def test_vertex_ai_settings_in_the_environment_are_ignored(
    gemini_shim: GeminiShim, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Set for Vertex AI work, they would make the SDK call Vertex's paths instead.
    monkeypatch.setenv("GOOGLE_GENAI_USE_VERTEXAI", "true")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "project")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "us-central1")
    genai_api.GoogleGenAIAPI(
        "gemini-2.5-flash", api_key=SECRET, base_url=gemini_shim.url
    ).register()
    assert ot.run(llm.count_tokens("The capital of France is")) == 5
    assert ":countTokens" in gemini_shim.requests[-1].path


def test_scoring_and_tokenizing_say_clearly_they_are_unavailable(backend: object) -> None:
    with pytest.raises(ConfigurationError, match=r"cannot score text.*llm.select"):
        ot.run(llm.score_text("Q", ["a", "b"]))
    with pytest.raises(ConfigurationError, match="no tokenizer endpoint"):
        ot.run(llm.tokenize("hello"))


def test_server_errors_carry_status_and_message(backend: object) -> None:
    with pytest.raises(BackendHTTPError) as info:  # the shim relays llama.cpp's 400
        ot.run(llm.generate_text("x " * 9000, max_tokens=2))
    assert info.value.status == 400
    assert "exceeds the available context size" in str(info.value)


def test_the_shim_streams_like_gemini(gemini_shim: GeminiShim) -> None:
    from google import genai
    from google.genai import types

    async def stream() -> list[str]:
        client = genai.Client(
            api_key="x", http_options=types.HttpOptions(base_url=gemini_shim.url)
        ).aio
        chunks = []
        async for chunk in await client.models.generate_content_stream(
            model="gemini-2.5-flash",
            contents="Count to five:",
            config=types.GenerateContentConfig(max_output_tokens=8, temperature=0.0),
        ):
            chunks.append(chunk)
        await client.aclose()
        assert (chunks[-1].candidates or [])[0].finish_reason is not None
        return [c.text or "" for c in chunks]

    pieces = asyncio.run(stream())
    assert len(pieces) > 1 and "".join(pieces)
