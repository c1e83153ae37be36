"""OpenAIAPI against a real OpenAI-compatible server: llama.cpp (xllamacpp) with SmolLM2.

Shapes are asserted, not texts, except for sequential greedy calls, which are
reproducible on this server.
"""

from __future__ import annotations

import asyncio
import math
import time

import pydantic
import pytest

from onetwo import ot
from onetwo.backends import RetryPolicy
from onetwo.backends.openai_api import OpenAIAPI
from onetwo.builtins import llm
from onetwo.builtins.settings import ModelSettings
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole
from onetwo.errors import BackendHTTPError, ConfigurationError, InvalidArgumentError
from tests.rig.faults import FaultProxy

pytestmark = pytest.mark.rig

SECRET = "sk-test-0123456789-secret"


@pytest.fixture
def backend(llama_url: str) -> OpenAIAPI:
    backend = OpenAIAPI(
        "smollm2",
        api_key=SECRET,
        base_url=llama_url + "/v1",
        server_kind="llama.cpp",
        max_tokens=12,
        max_samples_per_request=4,
        timeout=60,
        retry=RetryPolicy(attempts=2, initial_backoff=0.05),
    )
    backend.register()
    return backend


class City(pydantic.BaseModel):
    name: str
    country: str


def test_generate_text_continues_the_prompt_and_greedy_is_reproducible(
    backend: OpenAIAPI,
) -> None:
    call = llm.generate_text("The capital of France is", temperature=0.0, max_tokens=8)
    first = ot.run(call)
    assert isinstance(first, str) and first.strip()
    assert ot.run(call) == first  # sequential greedy calls are identical
    assert "Paris" in first


def test_include_details_returns_tokens_finish_reason_latency_and_logprobs(
    backend: OpenAIAPI,
) -> None:
    text, details = ot.run(
        llm.generate_text("Once upon a time", max_tokens=5, temperature=0.0, include_details=True)
    )
    assert isinstance(text, str)
    assert details["finish_reason"] == "length"
    assert details["completion_tokens"] == 5 and details["prompt_tokens"] > 0
    assert details["latency"] > 0
    assert len(details["logprobs"]) == 5
    assert all(lp <= 0 for _, lp in details["logprobs"])
    assert "".join(token for token, _ in details["logprobs"]) == text


def test_stop_sequences_end_the_text(backend: OpenAIAPI) -> None:
    text, details = ot.run(
        llm.generate_text("1, 2, 3, 4,", stop=[","], temperature=0.0, include_details=True)
    )
    assert "," not in text
    assert details["finish_reason"] == "stop"


def test_generate_texts_asks_for_n_samples_per_request(fault_proxy: FaultProxy) -> None:
    OpenAIAPI(
        "smollm2",
        base_url=fault_proxy.url + "/v1",
        server_kind="llama.cpp",
        max_samples_per_request=4,
    ).register()
    samples = ot.run(
        llm.generate_texts(
            "My favourite fruits are",
            6,
            temperature=1.0,
            max_tokens=8,
            stop=[","],
            include_details=True,
        )
    )
    assert len(samples) == 6
    # Two requests, n=4 and n=2 (n may not exceed the server's 4 slots).
    assert sorted(r.body["n"] for r in fault_proxy.requests) == [2, 4]
    assert len({text for text, _ in samples}) > 1
    for _, details in samples:  # each sample's own tokens, not the request's usage
        assert details["completion_tokens"] == len(details["logprobs"]) <= 8


def test_default_settings_merge_under_each_calls_on_the_wire(fault_proxy: FaultProxy) -> None:
    defaults: ModelSettings = {"temperature": 0.0, "max_tokens": 3, "stop": ["\n"], "top_k": 4}
    defaults["top_p"] = 0.5
    OpenAIAPI(
        "smollm2", base_url=fault_proxy.url + "/v1", server_kind="llama.cpp", **defaults
    ).register()
    ot.run(llm.generate_text("Hello", max_tokens=2, stop="END"))
    body = fault_proxy.requests[-1].body
    sent = {k: body.get(k) for k in ("temperature", "max_tokens", "stop", "top_k", "top_p")}
    # The call's values win; a single stop string is one stop sequence, not its letters.
    assert sent == {"temperature": 0.0, "max_tokens": 2, "stop": ["END"], "top_k": 4, "top_p": 0.5}


def test_chat_with_system_and_history(backend: OpenAIAPI) -> None:
    messages = [
        Message(PredefinedRole.SYSTEM, "You answer briefly."),
        Message(PredefinedRole.USER, "What is 2+2?"),
        Message(PredefinedRole.MODEL, "4."),
        Message(PredefinedRole.USER, "And 3+3?"),
    ]
    reply, details = ot.run(llm.chat(messages, temperature=0.0, include_details=True))
    assert isinstance(reply, str) and reply
    assert details["prompt_tokens"] > 20  # the whole history went through the template


def test_instruct_continues_an_assistant_prefix(backend: OpenAIAPI) -> None:
    reply = ot.run(
        llm.instruct(
            "What is the capital of France?",
            assistant_prefix="The capital of France is",
            temperature=0.0,
            max_tokens=4,
        )
    )
    assert "Paris" in reply
    assert not reply.startswith("The capital of France is")


def test_generate_object_uses_the_schema_and_validates(backend: OpenAIAPI) -> None:
    city = ot.run(
        llm.generate_object(
            "Give a city as JSON with name and country.", City, temperature=0.0, max_tokens=48
        )
    )
    assert isinstance(city, City)
    assert city.name and city.country
    count = ot.run(
        llm.generate_object("How many legs does a dog have?", int, temperature=0, max_tokens=32)
    )
    assert isinstance(count, int)


def test_generate_object_takes_a_conversation(backend: OpenAIAPI) -> None:
    messages = [
        Message(PredefinedRole.SYSTEM, "Answer with JSON only."),
        Message(PredefinedRole.USER, "What is the capital of France?"),
        Message(PredefinedRole.MODEL, "Paris."),
        Message(PredefinedRole.USER, "Give it as JSON with name and country."),
    ]
    city = ot.run(llm.generate_object(messages, City, temperature=0.0, max_tokens=48))
    assert isinstance(city, City) and city.name and city.country
    picture = ChunkList([Chunk("Which city is this?"), Chunk(b"\x89PNG....", "image/png")])
    with pytest.raises(InvalidArgumentError, match="takes text; the prompt holds an image"):
        ot.run(llm.generate_object([Message(PredefinedRole.USER, picture)], City))


def test_score_text_matches_the_check_value(backend: OpenAIAPI) -> None:
    # Summed log-probs of " Paris. It is a big city", checked against teacher forcing
    # one token at a time (see the rig notes).
    [score] = ot.run(llm.score_text("The capital of France is", [" Paris. It is a big city"]))
    assert score == pytest.approx(-14.4186, abs=1e-3)


def test_select_and_rank_pick_the_likeliest_option(backend: OpenAIAPI) -> None:
    prompt = "The capital of France is"
    options = [" London", " Paris", " a banana"]
    assert ot.run(llm.select(prompt, options)) == " Paris"
    best, index, scores = ot.run(llm.select(prompt, options, include_details=True))
    assert (best, index) == (" Paris", 1) and len(scores) == 3 and all(s < 0 for s in scores)
    assert ot.run(llm.rank(prompt, options, top_k=3))[0] == " Paris"


def test_score_text_when_the_target_merges_with_the_prompt(backend: OpenAIAPI) -> None:
    # "Par" + "is" tokenizes differently from "Par" then "is": scored from the boundary.
    scores = ot.run(llm.score_text("The capital of France is Par", ["is", "ty"]))
    assert all(math.isfinite(s) and s <= 0 for s in scores)


def test_embed_batches_concurrent_calls_and_matches_single_calls(backend: OpenAIAPI) -> None:
    texts = ["a cat", "a dog", "the stock market", "a kitten", "bonds"]
    together = ot.run(ot.parallel(*(llm.embed(t) for t in texts)))
    stats = backend._embed_batch.stats()
    assert stats.requests == 5 and stats.batches < 5
    alone = ot.run(llm.embed("a cat"))
    assert len(alone) == 576
    assert math.isclose(sum(x * x for x in alone), 1.0, rel_tol=1e-3)
    cosine = sum(a * b for a, b in zip(alone, together[0]))
    assert cosine > 0.999  # batched inputs get the same vectors (kv_unified)

    def similarity(i: int, j: int) -> float:
        return sum(a * b for a, b in zip(together[i], together[j]))

    assert similarity(0, 3) > similarity(0, 2)  # cat ~ kitten more than cat ~ stocks


def test_tokenize_and_count_tokens(backend: OpenAIAPI) -> None:
    ids = ot.run(llm.tokenize("The capital of France is"))
    assert ids == [504, 3575, 282, 4649, 314]
    assert ot.run(llm.count_tokens("The capital of France is")) == 5


def test_concurrent_calls_are_in_flight_together(backend: OpenAIAPI) -> None:
    spans: list[tuple[float, float]] = []

    @ot.make_executable
    async def timed(i: int) -> str:
        start = time.monotonic()
        text = await llm.generate_text(f"Story {i}: Once upon a time", max_tokens=16)
        spans.append((start, time.monotonic()))
        return str(text)

    texts = ot.run(ot.par_iter([timed(i) for i in range(4)]))
    assert len(texts) == 4 and all(isinstance(t, str) for t in texts)
    assert max(s for s, _ in spans) < min(e for _, e in spans)  # all four overlapped


def test_max_concurrency_is_enforced_per_run(llama_url: str) -> None:
    backend = OpenAIAPI(
        "smollm2", base_url=llama_url + "/v1", server_kind="llama.cpp", max_concurrency=1
    )
    backend.register()
    seen: list[dict[str, int]] = []

    @ot.make_executable
    async def strategy() -> int:
        calls = asyncio.gather(*(llm.generate_text(f"Count {i}:", max_tokens=4) for i in range(3)))
        task = asyncio.ensure_future(calls)
        while not task.done():
            seen.append(backend.rate_limiter.stats())
            await asyncio.sleep(0.005)
        await task
        return backend.rate_limiter.stats()["started"]

    assert ot.run(strategy()) == 3
    assert max(s["in_flight"] for s in seen) == 1
    assert max(s["waiting"] for s in seen) >= 1
    assert backend.rate_limiter.stats()["in_flight"] == 0


def test_one_client_serves_every_run(backend: OpenAIAPI) -> None:
    clients = []

    @ot.make_executable
    async def call() -> str:
        clients.append(await backend._client())
        return str(await llm.generate_text("Hi", max_tokens=2))

    for _ in range(2):
        assert ot.run(call())
    assert clients[0] is clients[1] and not clients[0].is_closed()  # kept by the runtime


async def test_works_inside_a_running_loop(backend: OpenAIAPI) -> None:
    texts = await asyncio.gather(*(backend.generate_text("Hello", max_tokens=3) for _ in range(2)))
    assert len(texts) == 2


def test_a_real_400_raises_at_once_with_status_and_the_servers_message(
    backend: OpenAIAPI,
) -> None:
    backend.max_samples_per_request = None
    with pytest.raises(BackendHTTPError) as info:
        ot.run(llm.generate_texts("Hi", 8, max_tokens=2))  # n=8 > 4 slots: HTTP 400
    error = info.value
    assert type(error) is BackendHTTPError and error.status == 400
    assert "HTTP 400" in str(error) and error.body["message"] in str(error)


def test_a_server_that_cannot_score_says_so(llama_url: str) -> None:
    OpenAIAPI("smollm2", base_url=llama_url + "/v1").register()  # server_kind="compatible"
    with pytest.raises(ConfigurationError, match="cannot score text") as info:
        ot.run(llm.score_text("The capital of France is", [" Paris", " London"]))
    assert "llama.cpp" in str(info.value)
    # select still works: by constrained generation (tests/backends/test_choice_*.py)
    assert ot.run(llm.select("The capital of France is", [" Paris", " London"])) in (
        " Paris",
        " London",
    )
    with pytest.raises(ConfigurationError, match="cannot tokenize"):
        ot.run(llm.count_tokens("hello"))


def test_the_environment_key_goes_to_openai_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    assert OpenAIAPI("gpt-4o-mini")._key() == SECRET
    assert OpenAIAPI("m", base_url="http://127.0.0.1:1/v1")._key() != SECRET
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(ConfigurationError, match="OPENAI_API_KEY"):
        OpenAIAPI("gpt-4o-mini")._key()


def test_the_environment_base_url_is_part_of_the_cache_identity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    plain = OpenAIAPI("gpt-4o-mini").identity()
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    proxied = OpenAIAPI("gpt-4o-mini")
    assert proxied.identity() == {**plain, "base_url": "http://127.0.0.1:9/v1"}
    assert proxied.server_kind == "openai"  # still OpenAI's protocol and key handling
    assert OpenAIAPI("gpt-4o-mini", base_url="http://127.0.0.1:8/v1").base_url == (
        "http://127.0.0.1:8/v1"
    )
