"""The LLM builtins' default implementations fall back on each other."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import sampling
from onetwo.core.content import Message, PredefinedRole
from onetwo.errors import ConfigurationError, OutputParseError


def test_generate_texts_defaults_to_repeated_generate_text_with_sampling_keys() -> None:
    FakeBackend(default_reply=lambda prompt, **kw: f"s{sampling.current_sampling_key()}").register()
    assert ot.run(llm.generate_texts("q", 3)) == ["s0", "s1", "s2"]
    assert ot.run(llm.generate_texts("q")) == ["s0"]  # samples defaults to 1


def test_instruct_goes_through_chat_and_the_formatter_to_generate_text() -> None:
    backend = FakeBackend(default_reply=" Paris\nTask: and more")
    backend.register()
    assert ot.run(llm.instruct("Capital of France?")) == "Paris"
    assert backend.prompts == ["Task: Capital of France?\nAnswer:"]
    assert backend.calls[0].arguments["stop"] == ["\nTask:", "\n**User**:"]


def test_instruct_with_assistant_prefix_continues_the_model_turn() -> None:
    backend = FakeBackend(default_reply=" Paris.")
    backend.register()
    assert ot.run(llm.instruct("Capital?", assistant_prefix="The capital is")) == "Paris."
    assert backend.prompts == ["Task: Capital?\nAnswer: The capital is"]


def test_chat_formats_every_role_and_passes_options() -> None:
    backend = FakeBackend(default_reply="ok")
    backend.register()
    messages = [
        Message(PredefinedRole.SYSTEM, "Be brief."),
        Message(PredefinedRole.USER, "Hi"),
        Message(PredefinedRole.MODEL, "Hello"),
        Message("user", "Bye"),
    ]
    text, details = ot.run(llm.chat(messages, temperature=0.2, include_details=True))
    assert text == "ok" and details["finish_reason"] == "stop"
    rules = 'Actor "Model" needs to obey the following rules when generating the messages below:'
    turns = "**User**: Hi\n**Model**: Hello\n**User**: Bye\n**Model**:"
    assert backend.prompts == [f"**System**: {rules}\nBe brief.\n{turns}"]
    assert backend.calls[0].arguments["temperature"] == 0.2
    with pytest.raises(TypeError, match="list of Message"):
        ot.run(llm.chat("not messages"))  # type: ignore[arg-type]


def test_a_backend_chat_replaces_the_fallback_for_instruct() -> None:
    FakeBackend(default_reply="text").register()
    llm.chat.configure(lambda messages, **kw: f"chat:{messages[0].content}")
    assert ot.run(llm.instruct("q")) == "chat:q"


def test_select_and_rank_use_score_text() -> None:
    FakeBackend(scores={"red": -2.0, "blue": -0.5, "green": -1.0}).register()
    assert ot.run(llm.select("Sky?", ["red", "blue", "green"])) == "blue"
    option, index, scores = ot.run(llm.select("Sky?", ["red", "blue"], include_details=True))
    assert (option, index, scores) == ("blue", 1, [-2.0, -0.5])
    assert ot.run(llm.rank("Sky?", ["red", "blue", "green"], top_k=2)) == ["blue", "green"]
    assert ot.run(llm.rank("Sky?", ["red", "blue", "green"])) == ["blue"]


def test_select_without_a_scorer_says_what_is_missing() -> None:
    llm.generate_text.configure(lambda prompt: "x")
    with pytest.raises(ConfigurationError) as info:
        ot.run(llm.select("q", ["a", "b"]))
    assert "llm.select cannot run" in str(info.value)
    assert "llm.score_text" in str(info.value) and "configure" in str(info.value)
    with pytest.raises(ValueError, match="non-empty list of options"):
        ot.run(llm.select("q", []))


def test_count_tokens_defaults_to_tokenize() -> None:
    FakeBackend().register()
    assert ot.run(llm.count_tokens("one two three")) == 3
    assert len(ot.run(llm.tokenize("one two"))) == 2


class City(pydantic.BaseModel):
    name: str
    population: int


@pytest.mark.parametrize(
    ("reply", "cls", "expected"),
    [
        ("The answer is 42.", int, 42),
        ("about -3.5 degrees", float, -3.5),
        ("  hello \n", str, "hello"),
        ("Sure! [1, 2, 3] done", list[int], [1, 2, 3]),
        ('{"a": 1}', dict, {"a": 1}),
        (
            '```json\n{"name": "Paris", "population": 2100000}\n```',
            City,
            City(name="Paris", population=2_100_000),
        ),
        ("Yes.", bool, True),
    ],
)
def test_generate_object_parses_and_validates(reply: str, cls: Any, expected: Any) -> None:
    FakeBackend(default_reply=reply).register()
    assert ot.run(llm.generate_object("q", cls)) == expected


def test_generate_object_takes_a_conversation_answered_by_chat() -> None:
    # The reference's tutorial: generate_object(prompt=messages, cls=...).
    backend = FakeBackend(default_reply='{"name": "Paris", "population": 2100000}')
    backend.register()
    messages = [
        Message(PredefinedRole.USER, "What is the capital of France?"),
        Message(PredefinedRole.MODEL, "Obviously, it is Paris."),
        Message(PredefinedRole.USER, "Tell me more about it."),
    ]
    city = ot.run(llm.generate_object(prompt=messages, cls=City))
    assert city == City(name="Paris", population=2_100_000)
    assert "Obviously, it is Paris." in backend.prompts[-1]  # the whole conversation


def test_generate_object_failure_names_the_type_and_the_reply() -> None:
    FakeBackend(default_reply='{"name": "Paris"}').register()
    with pytest.raises(OutputParseError) as info:
        ot.run(llm.generate_object("q", City))
    assert "as City" in str(info.value) and "Paris" in str(info.value)
    assert info.value.text == '{"name": "Paris"}'


def test_embed() -> None:
    FakeBackend(embedding_size=4).register()
    vector = ot.run(llm.embed("x"))
    assert len(vector) == 4 and abs(sum(v * v for v in vector) - 1.0) < 1e-9
    assert ot.run(llm.embed("x")) == vector


def test_registering_a_backend_leaves_nothing_answering_from_the_previous_one() -> None:
    # A backend with a native chat, registered first (e.g. at the top of a notebook)...
    llm.configure_backend(
        generate_text=lambda prompt, **kw: "first", chat=lambda messages, **kw: "first chat"
    )
    assert ot.run(llm.instruct("q")) == "first chat"
    with ot.RegistryContext():
        # ...then a text-only backend for a comparison: its instruct must not be the
        # first backend's chat.
        FakeBackend(default_reply="second").register()
        assert ot.run(llm.instruct("q")) == "second"
        assert ot.run(llm.generate_texts("q", 2)) == ["second", "second"]
    assert ot.run(llm.instruct("q")) == "first chat"


def test_configure_backend_rejects_unknown_builtins() -> None:
    with pytest.raises(TypeError, match=r"\['generate'\], which are not LLM builtins"):
        llm.configure_backend(generate=lambda prompt: prompt)
