"""Bad arguments to the builtins and content types are refused, each with a message that
names the parameter, the value received and what to pass instead (issue 11)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import composables as c
from onetwo.builtins import formatting, llm
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole
from onetwo.errors import InvalidArgumentError, OneTwoError

USER = [Message(PredefinedRole.USER, "hi")]
NAN = math.nan

# (what is called, the parameter its message must name, the value it must show)
BAD_CALLS: list[tuple[Callable[[], Any], str, str]] = [
    (lambda: llm.generate_text(5), "prompt", "5"),  # type: ignore[arg-type]
    (lambda: llm.generate_text(b"raw"), "prompt", "b'raw'"),  # type: ignore[arg-type]
    (lambda: llm.generate_text(["a", "b"]), "prompt", "['a', 'b']"),  # type: ignore[arg-type]
    (lambda: llm.generate_text({"q": 1}), "prompt", "{'q': 1}"),  # type: ignore[arg-type]
    (lambda: llm.generate_text(USER), "prompt", "Message("),  # type: ignore[arg-type]
    (lambda: llm.generate_text("p", max_tokens=-1), "max_tokens", "-1"),
    (lambda: llm.generate_text("p", max_tokens=0), "max_tokens", "0"),
    (lambda: llm.generate_text("p", max_tokens=NAN), "max_tokens", "nan"),  # type: ignore[arg-type]
    (lambda: llm.generate_text("p", max_tokens="10"), "max_tokens", "'10'"),  # type: ignore[arg-type]
    (lambda: llm.generate_text("p", max_tokens=1.5), "max_tokens", "1.5"),  # type: ignore[arg-type]
    (lambda: llm.generate_text("p", max_tokens=True), "max_tokens", "True"),
    (lambda: llm.generate_text("p", temperature=-1), "temperature", "-1"),
    (lambda: llm.generate_text("p", temperature="hot"), "temperature", "'hot'"),  # type: ignore[arg-type]
    (lambda: llm.generate_text("p", temperature=NAN), "temperature", "nan"),
    (lambda: llm.generate_text("p", temperature=math.inf), "temperature", "inf"),
    (lambda: llm.generate_text("p", top_p=2), "top_p", "2"),
    (lambda: llm.generate_text("p", top_p=-0.1), "top_p", "-0.1"),
    (lambda: llm.generate_text("p", top_k=-5), "top_k", "-5"),
    (lambda: llm.generate_text("p", top_k=2.5), "top_k", "2.5"),  # type: ignore[arg-type]
    (lambda: llm.generate_text("p", stop=123), "stop", "123"),  # type: ignore[arg-type]
    (lambda: llm.generate_text("p", stop=["\n", 1]), "stop", "1"),  # type: ignore[list-item]
    (lambda: llm.generate_text("p", include_details="yes"), "include_details", "'yes'"),  # type: ignore[arg-type]
    (lambda: llm.stream_text(7), "prompt", "7"),  # type: ignore[arg-type]
    (lambda: llm.stream_text("p", max_tokens=-3), "max_tokens", "-3"),
    (lambda: llm.generate_texts("p", samples=-1), "samples", "-1"),
    (lambda: llm.generate_texts("p", samples=2.5), "samples", "2.5"),  # type: ignore[arg-type]
    (lambda: llm.generate_texts("p", samples="3"), "samples", "'3'"),  # type: ignore[arg-type]
    (lambda: llm.generate_texts("p", 2, temperature=-0.5), "temperature", "-0.5"),
    (lambda: llm.generate_texts(3, 2), "prompt", "3"),  # type: ignore[arg-type]
    (lambda: llm.chat("hi"), "messages", "'hi'"),  # type: ignore[arg-type]
    (lambda: llm.chat(["hi"]), "messages", "['hi']"),  # type: ignore[list-item]
    (lambda: llm.chat(USER, top_p=1.5), "top_p", "1.5"),
    (lambda: llm.chat(USER, formatter="fancy"), "formatter", "'fancy'"),
    (lambda: llm.instruct(42), "prompt", "42"),  # type: ignore[arg-type]
    (lambda: llm.instruct("q", assistant_prefix=5), "assistant_prefix", "5"),  # type: ignore[arg-type]
    (lambda: llm.instruct("q", stop=7), "stop", "7"),  # type: ignore[arg-type]
    (lambda: llm.generate_object("q", "os.system('ls')"), "cls", "os.system('ls')"),
    (lambda: llm.generate_object("q", "List[int]"), "cls", "List[int]"),
    (lambda: llm.generate_object(b"q", int), "prompt", "b'q'"),  # type: ignore[arg-type]
    (lambda: llm.generate_object("q", int, max_tokens=-1), "max_tokens", "-1"),
    (lambda: llm.tokenize(5), "content", "5"),  # type: ignore[arg-type]
    (lambda: llm.count_tokens([1, 2]), "content", "[1, 2]"),  # type: ignore[arg-type]
    (lambda: llm.embed({"a": 1}), "content", "{'a': 1}"),  # type: ignore[arg-type]
    (lambda: llm.detokenize("abc"), "tokens", "'abc'"),  # type: ignore[arg-type]
    (lambda: llm.detokenize([1.5]), "tokens", "[1.5]"),  # type: ignore[list-item]
    (lambda: Message(42, "x"), "role", "42"),  # type: ignore[arg-type]
    (lambda: Message(None, "x"), "role", "None"),  # type: ignore[arg-type]
    (lambda: Message(PredefinedRole.USER, 42), "content", "42"),  # type: ignore[arg-type]
    (lambda: Message(PredefinedRole.TOOL, "4", tool_call_id=4), "tool_call_id", "4"),  # type: ignore[arg-type]
    (lambda: Chunk(3), "content", "3"),
    (lambda: Chunk("text", "image/png"), "content_type", "'image/png'"),
    (lambda: Chunk(b"\x89PNG", "str"), "content_type", "'str'"),
    (lambda: ChunkList([1.5]), "chunks", "1.5"),  # type: ignore[list-item]
    (lambda: c.f("{m.__class__}")(m=1), "{m.__class__}", "variable name"),
    (lambda: c.f("{x:>999999999}")(x=1), "format spec", "'>999999999'"),
    (lambda: c.j("{{ 'a' * 10**8 }}"), "'a' * 100000000", "1,000,000"),
    (lambda: c.j("{{ 2 ** (10**8) }}"), "2 ** 100000000", "1,000,000"),
    (
        lambda: c.j("{% for i in range(10**5) %}{{ 'abcdefghijk' }}{% endfor %}"),
        "output",
        "1,000,000",
    ),
    (lambda: formatting.get_formatter("fancy"), "formatter", "'fancy'"),
    (lambda: formatting.DefaultFormatter(use_fewshot=True), "DefaultFormatter", "use_fewshot"),
    (lambda: formatting.DefaultFormatter().format([Message("narrator", "x")]), "role", "narrator"),
]


@pytest.mark.parametrize(("call", "parameter", "shown"), BAD_CALLS)
def test_a_bad_argument_is_refused_naming_it_its_value_and_the_fix(
    call: Callable[[], Any], parameter: str, shown: str
) -> None:
    FakeBackend(default_reply="ok").register()
    with pytest.raises((OneTwoError, TypeError, ValueError, NotImplementedError)) as info:
        result = call()
        ot.run(result)  # some are refused when they run (templates, formatters)
    message = str(info.value)
    assert parameter in message and shown in message, message
    fixes = ("e.g.", "use ", "Use ", "pass ", "Pass ", "must be", "takes", "names are", "build ")
    assert any(fix in message for fix in fixes), message


def test_there_are_enough_cases_and_the_errors_are_type_and_value_errors() -> None:
    assert len(BAD_CALLS) >= 55
    with pytest.raises(InvalidArgumentError) as info:
        llm.generate_text("p", max_tokens="10")  # type: ignore[arg-type]
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)
    expected = "max_tokens must be a whole number of tokens >= 1, e.g. 64; got str '10'."
    assert str(info.value) == f"llm.generate_text: {expected}"


def test_good_values_pass_and_a_single_stop_string_is_not_split_into_letters() -> None:
    backend = FakeBackend(default_reply="ok")
    backend.register()
    ot.run(llm.generate_text("p", stop="END", temperature=0, top_p=1, top_k=0, max_tokens=1))
    assert backend.calls[0].arguments["stop"] == ["END"]
    assert ot.run(llm.generate_texts("p", samples=0)) == []
    assert ot.run(llm.generate_text(ChunkList(["a"]))) == "ok"
