"""The scripted fake backend: replies, errors, truncation, latency, records."""

from __future__ import annotations

import asyncio
import time

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend, FakeCall
from onetwo.builtins import llm
from onetwo.errors import BackendUnavailable, ConfigurationError


def test_reply_by_exact_prompt_regex_callable_and_default() -> None:
    backend = FakeBackend(
        {"exact": "E"},
        regex_replies=[(r"^num (\d+)", "N"), ("call", lambda prompt, **kw: prompt[::-1])],
        default_reply="D",
    )
    backend.register()
    prompts = ["exact", "num 12", "call me", "other"]
    assert ot.run(ot.parallel(*(llm.generate_text(p) for p in prompts))) == [
        "E",
        "N",
        "em llac",
        "D",
    ]
    assert backend.prompts == prompts
    assert backend.calls[0] == FakeCall(
        "generate_text",
        {
            "prompt": "exact",
            "temperature": None,
            "max_tokens": None,
            "stop": None,
            "top_k": None,
            "top_p": None,
        },
    )


def test_async_callable_replies_see_the_arguments() -> None:
    async def reply(prompt: str, *, temperature: float | None, **_: object) -> str:
        await asyncio.sleep(0)
        return f"{prompt}@{temperature}"

    FakeBackend(default_reply=reply).register()
    assert ot.run(llm.generate_text("p", temperature=0.3)) == "p@0.3"


def test_successive_replies_then_the_last_repeats() -> None:
    backend = FakeBackend({"q": ["one", "two"]})
    backend.register()
    assert [ot.run(llm.generate_text("q")) for _ in range(3)] == ["one", "two", "two"]
    backend.reset()
    assert ot.run(llm.generate_text("q")) == "one" and len(backend.calls) == 1


def test_exception_replies_are_raised() -> None:
    FakeBackend({"a": BackendUnavailable("down"), "b": TimeoutError}).register()
    with pytest.raises(BackendUnavailable, match="down"):
        ot.run(llm.generate_text("a"))
    with pytest.raises(TimeoutError):
        ot.run(llm.generate_text("b"))


def test_unmatched_prompt_says_how_to_script_it() -> None:
    FakeBackend({"known": "x"}).register()
    with pytest.raises(
        ConfigurationError, match=r"no reply for the prompt 'unknown'.*default_reply="
    ):
        ot.run(llm.generate_text("unknown"))


def test_stop_and_max_tokens_truncate_with_details() -> None:
    FakeBackend(default_reply="one two three. four").register()
    assert ot.run(llm.generate_text("q", stop=["."])) == "one two three"
    text, details = ot.run(llm.generate_text("q", max_tokens=2, include_details=True))
    assert text == "one two"
    assert details == {
        "finish_reason": "length",
        "prompt_tokens": 1,
        "completion_tokens": 2,
        "latency": 0.0,
    }


def test_latency_overlaps_across_concurrent_calls() -> None:
    FakeBackend(default_reply="x", latency=0.2).register()
    start = time.perf_counter()
    assert ot.run(ot.par_iter(llm.generate_text(str(i)) for i in range(20))) == ["x"] * 20
    # 20 sequential calls would take 4 s; concurrent ones about 0.2 s.
    assert time.perf_counter() - start < 2.0


def test_default_scores_prefer_the_scripted_reply() -> None:
    FakeBackend({"Sky?": " blue sky"}).register()
    assert ot.run(llm.score_text("Sky?", ["red", "blue"])) == [-1.0, 0.0]
    assert ot.run(llm.select("Sky?", ["red", "blue"])) == 1


def test_repr_and_validation() -> None:
    backend = FakeBackend({"a": "b"}, model="script-1")
    assert repr(backend) == "FakeBackend(model='script-1', replies=1, regex_replies=0, calls=0)"
    assert backend.identity() == {"provider": "fake", "model": "script-1"}
    with pytest.raises(ValueError, match="latency must be >= 0 seconds, got -1"):
        FakeBackend(latency=-1)
