"""llm.stream_text streams natively on OpenAI (completions and chat), Gemini and llama.cpp.

Against the real model (llama.cpp with SmolLM2, directly, through a fault proxy, or
behind the Gemini shim): the streamed text equals the non-streamed one at temperature 0;
it is cached as the final text under generate_text's key, so a replay contacts no model
and emits the text at once; a stream is bounded by the attempt's timeout like any answer;
and the pieces reach ``ot.stream_updates`` as the server sends them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends import RetryPolicy
from onetwo.builtins import llm
from onetwo.core import streaming
from onetwo.core.caching import CallCache
from onetwo.errors import BackendTimeout, CacheMiss
from tests.rig.faults import Fault, FaultProxy

pytestmark = pytest.mark.rig

PROMPT = "The capital of France is"
SETTINGS: dict[str, Any] = {"max_tokens": 24, "temperature": 0.0}
needs_channel = pytest.mark.skipif(
    not hasattr(streaming, "emit_delta"),
    reason="the token channel (onetwo.core.streaming.emit_delta) is not in this tree yet",
)


def openai_backend(url: str, **kwargs: Any) -> Any:
    from onetwo.backends.openai_api import OpenAIAPI

    kwargs.setdefault("server_kind", "llama.cpp")
    return OpenAIAPI("smollm2", base_url=url + "/v1", **kwargs)


def gemini_backend(url: str, **kwargs: Any) -> Any:
    genai_api = pytest.importorskip("onetwo.backends.google_genai_api")
    return genai_api.GoogleGenAIAPI("gemini-2.5-flash", api_key="k", base_url=url, **kwargs)


def local_model(url: str, **kwargs: Any) -> Any:
    del url
    from onetwo.backends.local import local_backend

    return local_backend(**kwargs)


def chat_only(url: str, **kwargs: Any) -> Any:
    """OpenAIAPI sending generate_text as a one-message chat (as on OpenAI itself)."""
    return openai_backend(url, use_completions=False, **kwargs)


# name → (make, the proxy fixture; the embedded model has none: its server is its own)
MAKERS: dict[str, tuple[Callable[..., Any], str | None]] = {
    "openai-completions": (openai_backend, "fault_proxy"),
    "openai-chat": (chat_only, "fault_proxy"),
    "gemini": (gemini_backend, "gemini_fault_proxy"),
    "local": (local_model, None),
}
Rig = tuple[FaultProxy | None, Callable[..., Any]]


@pytest.fixture(params=sorted(MAKERS))
def rig(request: pytest.FixtureRequest) -> Rig:
    """(proxy, make_backend): a backend on the proxy in front of its server, if any."""
    make, fixture = MAKERS[request.param]
    if fixture is None:
        request.getfixturevalue("llama_server")
        return None, lambda **kw: make("", **kw)
    proxy: FaultProxy = request.getfixturevalue(fixture)
    return proxy, lambda **kw: make(proxy.url, **kw)


def sent(proxy: FaultProxy | None) -> int:
    return len(proxy.requests) if proxy is not None else 0


def streamed(executable: Any) -> tuple[Any, list[str]]:
    """The run's result and the deltas ``ot.stream_updates`` carried, in order."""
    deltas, result = [], None
    with ot.stream_updates(executable) as updates:
        for update in updates:
            if update.final:
                result = update.value
            elif getattr(update, "delta", False):
                deltas.append(update.value)
    return result, deltas


def test_streamed_text_equals_generated_text_at_temperature_zero(
    rig: Rig,
) -> None:
    proxy, make = rig
    make(**SETTINGS).register()
    text = ot.run(llm.stream_text(PROMPT))
    assert isinstance(text, str) and text.strip()
    assert ot.run(llm.generate_text(PROMPT)) == text
    if proxy is not None:  # the stream was asked for, as the wire says
        assert "stream" in str(proxy.requests[0].body) + proxy.requests[0].path


def test_a_stream_is_cached_as_its_text_and_replayed_with_no_model(
    rig: Rig, tmp_path: Path
) -> None:
    proxy, make = rig
    make(cache=CallCache(tmp_path / "c"), **SETTINGS).register()
    text = ot.run(llm.stream_text(PROMPT))
    before = sent(proxy)
    # A fresh backend on the folder in replay mode: the same text, no request.
    make(cache=CallCache(tmp_path / "c", mode="replay"), **SETTINGS).register()
    assert ot.run(llm.stream_text(PROMPT)) == text
    assert ot.run(llm.generate_text(PROMPT)) == text  # one key for both builtins
    assert sent(proxy) == before
    with pytest.raises(CacheMiss):
        ot.run(llm.stream_text(PROMPT + " not cached"))


def test_a_generated_text_is_replayed_by_stream_text(rig: Rig, tmp_path: Path) -> None:
    proxy, make = rig
    make(cache=tmp_path / "c", **SETTINGS).register()
    text = ot.run(llm.generate_text(PROMPT))
    before = sent(proxy)
    make(cache=CallCache(tmp_path / "c", mode="replay"), **SETTINGS).register()
    assert ot.run(llm.stream_text(PROMPT)) == text
    assert sent(proxy) == before


def test_a_trickled_stream_is_bounded_by_the_attempt_timeout(
    rig: Rig,
) -> None:
    proxy, make = rig
    if proxy is None:
        pytest.skip("the embedded model's own server is behind no proxy")
    make(timeout=1.0, retry=RetryPolicy(attempts=1), **SETTINGS).register()
    proxy.inject(Fault.trickle(0.1, chunk=4))
    began = time.monotonic()
    with pytest.raises(BackendTimeout):
        ot.run(llm.stream_text(PROMPT))
    assert time.monotonic() - began < 2.0


@needs_channel
def test_the_pieces_reach_stream_updates_as_they_arrive(
    rig: Rig,
) -> None:
    _, make = rig
    make(**SETTINGS).register()
    text, deltas = streamed(llm.stream_text(PROMPT))
    assert "".join(deltas) == text
    assert len(deltas) > 3  # token by token, not the whole text at the end


@needs_channel
def test_the_first_piece_arrives_long_before_the_call_ends(llama_server: object) -> None:
    local_model("", temperature=0.0).register()
    began, first = time.monotonic(), 0.0
    with ot.stream_updates(llm.stream_text("Once upon a time", max_tokens=60)) as updates:
        for update in updates:
            if not first and getattr(update, "delta", False):
                first = time.monotonic() - began
    whole = time.monotonic() - began
    # About 5% here (benchmarks/bench_streaming.py); half leaves room for a busy machine.
    assert 0 < first < 0.5 * whole, (first, whole)


@needs_channel
def test_a_replay_emits_the_whole_text_at_once(rig: Rig, tmp_path: Path) -> None:
    _, make = rig
    make(cache=tmp_path / "c", **SETTINGS).register()
    text = ot.run(llm.stream_text(PROMPT))
    replayed, deltas = streamed(llm.stream_text(PROMPT))
    assert replayed == text and deltas == [text]


@needs_channel
def test_a_retried_stream_emits_no_text_twice(
    fault_proxy: FaultProxy,
) -> None:
    openai_backend(fault_proxy.url, retry=RetryPolicy(attempts=2), **SETTINGS).register()
    fault_proxy.inject(Fault.reset())  # half the events, then the connection is reset
    text, deltas = streamed(llm.stream_text(PROMPT))
    assert "".join(deltas) == text
    assert len(fault_proxy.requests) == 2
