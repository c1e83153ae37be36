"""Real backends report each call to the trace: tokens, finish reason, latency, cache hit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onetwo import ot
from onetwo.backends.google_genai_api import GoogleGenAIAPI
from onetwo.backends.openai_api import OpenAIAPI
from onetwo.builtins import llm
from onetwo.builtins.formatting import DefaultFormatter
from onetwo.core.content import Message, PredefinedRole
from tests.rig.gemini_shim import GeminiShim


def _calls(trace: Any, name: str) -> list[dict[str, Any]]:
    return [n.details for n in trace.walk() if n.kind == "builtin" and n.name == name]


def _check_two_runs(strategy: Any, name: str) -> None:
    _, first = ot.run(strategy, enable_tracing=True)
    _, second = ot.run(strategy, enable_tracing=True)
    [miss], [hit] = _calls(first, name), _calls(second, name)
    assert miss["cache_hit"] is False and hit["cache_hit"] is True
    assert isinstance(miss["prompt_tokens"], int) and miss["prompt_tokens"] > 0
    assert isinstance(miss["completion_tokens"], int) and miss["completion_tokens"] > 0
    assert miss["finish_reason"] in ("stop", "length", "STOP", "MAX_TOKENS")
    assert miss["latency"] > 0
    assert "prompt_tokens" not in hit  # nothing was sent: a hit reports no usage


def test_openai_backend_traces_usage_and_cache_hits(llama_url: str, tmp_path: Path) -> None:
    OpenAIAPI(
        "smollm2",
        base_url=llama_url + "/v1",
        server_kind="llama.cpp",
        max_tokens=8,
        cache=tmp_path,
    ).register()
    _check_two_runs(llm.generate_text("The capital of France is"), "llm.generate_text")
    # A formatter object is accepted with a cache (the server formats chats itself).
    chat = llm.chat([Message(PredefinedRole.USER, "Hi")], formatter=DefaultFormatter())
    _check_two_runs(chat, "llm.chat")


def test_gemini_backend_traces_usage_and_cache_hits(
    gemini_shim: GeminiShim, tmp_path: Path
) -> None:
    GoogleGenAIAPI(
        "gemini-2.5-flash",
        api_key="test-key",
        base_url=gemini_shim.url,
        max_tokens=8,
        cache=tmp_path,
    ).register()
    _check_two_runs(llm.generate_text("The capital of France is"), "llm.generate_text")
