"""The scripted fake backend: replies, errors, truncation, latency, records, dry runs."""

from __future__ import annotations

import asyncio
import inspect
import time
from pathlib import Path

import pytest

from onetwo import ot
from onetwo.backends.fake import DRY_RUN_REPLY, DryRunCall, FakeBackend, FakeCall, dry_run
from onetwo.builtins import composables as c
from onetwo.builtins import llm
from onetwo.core.content import Message, PredefinedRole
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
    assert ot.run(llm.select("Sky?", ["red", "blue"])) == "blue"


def test_repr_and_validation() -> None:
    backend = FakeBackend({"a": "b"}, model="script-1")
    assert repr(backend) == "FakeBackend(model='script-1', replies=1, regex_replies=0, calls=0)"
    assert backend.identity() == {"provider": "fake", "model": "script-1"}
    with pytest.raises(
        ValueError, match=r"FakeBackend\(latency=-1\): latency must be a number of seconds >= 0"
    ):
        FakeBackend(latency=-1)


def test_chat_and_generate_object_are_answered_directly_when_implemented() -> None:
    backend = FakeBackend({"Hi": "Hello"}, implements=["generate_text", "chat", "generate_object"])
    backend.register()
    assert ot.run(llm.chat([Message(PredefinedRole.USER, "Hi")], temperature=0.5)) == "Hello"
    assert ot.run(llm.generate_object("N?", int)) == 0  # a stand-in: int()
    assert [c.name for c in backend.calls] == ["chat", "generate_object"]
    assert backend.calls[0].arguments["messages"] == [Message(PredefinedRole.USER, "Hi")]
    assert backend.calls[0].arguments["temperature"] == 0.5
    default = FakeBackend({"Hi": "Hello"}, default_reply="formatted")
    default.register()  # by default, chat goes through a formatter to generate_text
    assert ot.run(llm.chat([Message(PredefinedRole.USER, "Hi")])) == "formatted"
    assert default.prompts[0] == "Task: Hi\nAnswer:"  # the reference's default prompt text


def test_the_settings_keep_their_place_in_signatures_and_cache_keys(tmp_path: Path) -> None:
    params = inspect.signature(FakeBackend.generate_text).parameters
    # The builtin's own parameters, in its order: the settings spelled out.
    assert list(params) == ["self", *inspect.signature(llm.generate_text).parameters]
    backend = FakeBackend(default_reply="x", cache=tmp_path)
    backend.register()
    ot.run(llm.generate_text("p", temperature=0.5))
    [record] = backend.cache.records()  # type: ignore[union-attr]
    assert record["call"]["params"] == {
        "include_details": False,
        "max_tokens": None,
        "prompt": "p",
        "stop": None,
        "temperature": 0.5,
        "top_k": None,
        "top_p": None,
    }


def test_dry_run_stubs_every_call_and_contacts_no_backend() -> None:
    backend = FakeBackend(default_reply="real")
    backend.register()

    @ot.make_executable
    async def strategy() -> str:
        text = await llm.generate_text("Q:", max_tokens=5)
        best = await llm.select("Pick:", [" x", " y"])
        reply = await llm.chat([Message(PredefinedRole.USER, "Hi")])
        number = await llm.generate_object("N?", int)
        return f"{text}|{best}|{reply}|{number}"

    dry = dry_run(strategy())
    assert backend.calls == []
    assert dry.text == f"{DRY_RUN_REPLY}| x|{DRY_RUN_REPLY}|0" and dry.variables == {}
    assert dry.calls[0] == DryRunCall("llm.generate_text", "Q:", {"max_tokens": 5})
    assert dry.calls[1] == DryRunCall("llm.score_text", "Pick:", {"targets": [" x", " y"]})
    assert dry.calls[2] == DryRunCall("llm.chat", [Message(PredefinedRole.USER, "Hi")], {})
    assert dry.calls[3] == DryRunCall("llm.generate_object", "N?", {"cls": int})
    assert dry.prompts == ["Q:", "Pick:", [Message(PredefinedRole.USER, "Hi")], "N?"]
    with pytest.raises(ConfigurationError, match=r"llm\.embed is not configured"):
        dry_run(llm.embed("x"))  # nothing else is configured in a dry run
    assert ot.run(llm.generate_text("Q:")) == "real"  # the registry is as it was


def test_dry_run_of_a_composable_reports_its_text_and_variables() -> None:
    prompt = c.j("Q: {{ q }}\nA:{{ store('a', generate_text()) }}")
    dry = dry_run(prompt(q="2+2?"))
    assert dry.prompts == ["Q: 2+2?\nA:"]
    assert dry.text == f"Q: 2+2?\nA:{DRY_RUN_REPLY}"
    assert dry.variables == {"q": "2+2?", "a": DRY_RUN_REPLY}
