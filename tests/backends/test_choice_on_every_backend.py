"""llm.select and llm.rank on every backend, against real servers with the real model.

* llama.cpp (the embedded model, and OpenAIAPI on its server): options scored by their
  tokens' log-probs, combined as ``scoring=`` says.
* OpenAIAPI on a server that serves chat completions only (no prompt log-probs, no
  tokenizer), and Gemini (through the shim): the model answers under a JSON schema
  whose enum is the options, scored from the answer's top log-probs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.openai_api import OpenAIAPI
from onetwo.builtins import llm
from onetwo.builtins.choice import Scores
from onetwo.core.caching import CallCache
from onetwo.errors import ConfigurationError
from tests.rig.chat_only import CHAT_PATH, ChatOnlyServer
from tests.rig.gemini_shim import GeminiShim

pytestmark = pytest.mark.rig

PROMPT = "The capital of France is"
OPTIONS = [" Paris", " banana", " Berlin"]


@pytest.fixture
def chat_only(llama_url: str) -> Iterator[ChatOnlyServer]:
    server = ChatOnlyServer(llama_url).start()
    yield server
    server.stop()


def _chat_only_backend(server: ChatOnlyServer, **kwargs: Any) -> OpenAIAPI:
    return OpenAIAPI(
        "smollm2", base_url=server.url + "/v1", use_completions=False, max_tokens=12, **kwargs
    )


def _gemini_backend(shim: GeminiShim, **kwargs: Any) -> Any:
    from onetwo.backends.google_genai_api import GoogleGenAIAPI

    return GoogleGenAIAPI("smollm2", api_key="x", base_url=shim.url, max_tokens=12, **kwargs)


def _llama_backend(url: str, **kwargs: Any) -> OpenAIAPI:
    return OpenAIAPI(
        "smollm2", base_url=url + "/v1", server_kind="llama.cpp", max_tokens=12, **kwargs
    )


@pytest.fixture(params=["llama.cpp", "local", "chat-only", "gemini"])
def any_backend(request: pytest.FixtureRequest, llama_url: str) -> Iterator[str]:
    """Each kind of backend, registered; yields the method its scores come from."""
    if request.param == "llama.cpp":
        _llama_backend(llama_url).register()
        yield "score_text:mean"
    elif request.param == "local":
        from onetwo.backends.local import local_backend

        local_backend(max_tokens=12).register()
        yield "score_text:mean"
    elif request.param == "chat-only":
        server = ChatOnlyServer(llama_url).start()
        _chat_only_backend(server).register()
        yield "generation"
        assert set(server.paths) == {CHAT_PATH}  # it used nothing else
        server.stop()
    else:
        shim = request.getfixturevalue("gemini_shim")
        _gemini_backend(shim).register()
        yield "generation"


def test_select_and_rank_pick_paris_on_every_backend(any_backend: str) -> None:
    assert ot.run(llm.select(PROMPT, OPTIONS)) == " Paris"
    option, index, scores = ot.run(llm.select(PROMPT, OPTIONS, include_details=True))
    assert (option, index) == (" Paris", 0)
    assert isinstance(scores, Scores) and scores.method == any_backend and len(scores) == 3
    assert scores[0] == max(scores) and all(s <= 0 or "normalized" in scores.method for s in scores)
    ranked, rank_scores = ot.run(llm.rank(PROMPT, OPTIONS, top_k=0, include_details=True))
    assert ranked[0] == " Paris" and sorted(ranked) == sorted(OPTIONS)
    assert list(rank_scores) == list(scores)  # the same greedy scores, from the cache or not
    assert ot.run(llm.rank(PROMPT, OPTIONS, top_k=2)) == ranked[:2]


def test_the_readme_draft_then_select_strategy_runs_on_every_backend(any_backend: str) -> None:
    @ot.make_executable
    async def best_color(question: str) -> str:
        drafts = await ot.parallel(*(llm.generate_text(question) for _ in range(3)))
        return await llm.select(question, drafts)

    drafts = ot.run(ot.parallel(*(llm.generate_text("Name a color:") for _ in range(3))))
    assert all(isinstance(d, str) for d in drafts)
    best = ot.run(best_color("Name a color:"))
    assert isinstance(best, str)


@pytest.mark.parametrize("scoring", ["sum", "mean", "normalized"])
def test_paris_wins_by_every_scoring_on_the_embedded_model(scoring: str) -> None:
    from onetwo.backends.local import local_backend

    local_backend().register()
    option, _, scores = ot.run(
        llm.select(PROMPT, OPTIONS, include_details=True, scoring=scoring)  # type: ignore[arg-type]
    )
    assert option == " Paris" and scores.method == f"score_text:{scoring}"


def test_an_empty_option_never_wins_with_the_default_scoring(llama_server: object) -> None:
    from onetwo.backends.local import local_backend

    local_backend().register()
    prompt = "Question: What is the capital of France?\nShort answer:"
    options = ["", " Paris", " The capital of France is a city in Europe with many people."]
    _, _, summed = ot.run(llm.select(prompt, options, include_details=True, scoring="sum"))
    assert summed[0] == 0.0 == max(summed)  # by the sum, nothing at all is likeliest
    option, _, scores = ot.run(llm.select(prompt, options, include_details=True))
    assert option != "" and scores[0] == -math.inf


def test_the_scores_are_the_token_log_probs_combined(llama_url: str) -> None:
    backend = _llama_backend(llama_url)
    backend.register()
    [tokens] = ot.run(_token_logprobs(backend, PROMPT, [" Paris. It is a big city"]))
    assert sum(tokens) == pytest.approx(-14.4186, abs=1e-3)  # the rig notes' check value
    _, _, mean = ot.run(llm.select(PROMPT, [" Paris. It is a big city"], include_details=True))
    assert mean[0] == pytest.approx(sum(tokens) / len(tokens))


@ot.make_executable
async def _token_logprobs(backend: OpenAIAPI, prompt: str, targets: list[str]) -> Any:
    return await backend._token_logprobs(prompt, targets)


def test_a_chat_only_server_chooses_by_generation_and_replays_from_the_cache(
    chat_only: ChatOnlyServer, tmp_path: Path
) -> None:
    _chat_only_backend(chat_only, cache=CallCache(tmp_path)).register()
    first = ot.run(llm.rank(PROMPT, OPTIONS, top_k=0, include_details=True))
    asked = [r.body for r in chat_only.requests]
    assert len(asked) == 1 and asked[0]["response_format"]["type"] == "json_schema"
    enum = asked[0]["response_format"]["json_schema"]["schema"]["properties"]["answer"]["enum"]
    assert enum == ["Paris", "banana", "Berlin"]  # what a chat model writes, no spaces
    assert asked[0]["top_logprobs"] == 20 and asked[0]["temperature"] == 0.0
    assert all(math.isfinite(s) for s in first[1])  # every option among the top log-probs
    _chat_only_backend(chat_only, cache=CallCache(tmp_path, mode="replay")).register()
    assert ot.run(llm.rank(PROMPT, OPTIONS, top_k=0, include_details=True)) == first
    assert len(chat_only.requests) == 1  # replayed, nothing sent
    with pytest.raises(ConfigurationError, match="cannot score text"):
        ot.run(llm.score_text(PROMPT, OPTIONS))


def test_gemini_sends_the_options_as_an_enum_with_log_probs(gemini_shim: GeminiShim) -> None:
    _gemini_backend(gemini_shim).register()
    before = len(gemini_shim.requests)
    assert ot.run(llm.select(PROMPT, [" Paris", " Rome"])) == " Paris"
    [request] = gemini_shim.requests[before:]
    config = request.body["generationConfig"]
    assert config["responseJsonSchema"]["properties"]["answer"]["enum"] == ["Paris", "Rome"]
    assert config["responseLogprobs"] is True and config["logprobs"] == 20
    assert config["temperature"] == 0.0 and config["responseMimeType"] == "application/json"


def test_chat_only_select_sees_the_prompt_and_the_options(chat_only: ChatOnlyServer) -> None:
    _chat_only_backend(chat_only).register()
    ot.run(llm.select("Pick one:", [" a", "b "]))
    [message] = chat_only.requests[-1].body["messages"]
    assert message == {"role": "user", "content": message["content"]}
    assert message["content"].startswith("Pick one:") and '- "a"\n- "b"' in message["content"]


def test_a_server_with_prompt_log_probs_scores_by_echo(llama_url: str) -> None:
    from tests.rig.echo_server import EchoLogprobServer

    server = EchoLogprobServer(llama_url).start()
    try:
        OpenAIAPI("smollm2", base_url=server.url + "/v1").register()  # compatible: completions
        option, _, scores = ot.run(llm.select(PROMPT, OPTIONS, include_details=True))
        assert option == " Paris" and scores.method == "score_text:mean"
        assert all(r["echo"] is True and r["prompt"].startswith(PROMPT) for r in server.requests)
        [score] = ot.run(llm.score_text(PROMPT, [" Paris. It is a big city"]))
        assert score == pytest.approx(-14.4186, abs=0.05)  # the rig notes' check value
        _llama_backend(llama_url).register()  # the same model, scored by forcing tokens
        _, _, forced = ot.run(llm.select(PROMPT, OPTIONS, include_details=True))
        assert list(scores) == pytest.approx(list(forced), abs=0.05)
    finally:
        server.stop()
