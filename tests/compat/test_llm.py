"""The reference's llm examples: a user's own implementations under every builtin."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import formatting, llm
from onetwo.core.content import ChunkList, Message
from onetwo.core.content import PredefinedRole as R

SEPARATOR = " @@@ "


def fake_generate_text(prompt: str | ChunkList) -> str:
    """The reference tutorial's stand-in: it takes the prompt and nothing else."""
    return f"<{prompt}>"


def returns_prompt_and_stop(
    prompt: str | ChunkList, *, temperature: float | None = None, stop: Any = None
) -> str:
    return f"{prompt}{SEPARATOR}{','.join(sorted(stop))}" if stop else str(prompt)


def test_a_prompt_only_implementation_answers_every_builtin_built_on_it() -> None:
    llm.generate_text.configure(fake_generate_text)
    assert ot.run(llm.generate_texts("a", 2)) == ["<a>", "<a>"]
    assert ot.run(llm.instruct("a")) == "<Task: a\nAnswer:>"
    assert ot.run(llm.chat([Message(R.USER, "a"), Message(R.MODEL, "b")])) == "<Task: a\nAnswer: b>"
    assert ot.run(llm.generate_object("7", int)) == 7
    assert ot.run(llm.stream_text("s")) == "<s>"
    with pytest.raises(TypeError, match="does not accept it"):  # a direct call says so
        ot.run(llm.generate_text("a", temperature=0.5))


def test_configure_takes_defaults_for_the_implementation_s_own_parameters() -> None:
    def generate(prompt: str, style: str = "plain") -> str:
        return f"{style}:{prompt}"

    llm.generate_text.configure(generate, style="bold")
    assert ot.run(llm.generate_text("a")) == "bold:a"
    llm.generate_text.update(style="italic")
    assert ot.run(llm.generate_text("a")) == "italic:a"
    with pytest.raises(TypeError, match=r"no parameter\(s\) \['tempreature'\]"):
        llm.generate_text.configure(generate, tempreature=0.5)  # a typo


@pytest.mark.parametrize(
    ("messages", "formatter", "expected"),
    [
        ([Message(R.USER, "Hello")], formatting.FormatterName.NONE, "Hello"),
        (
            [Message(R.USER, "Hello"), Message(R.MODEL, "What can I")],
            formatting.FormatterName.NONE,
            "HelloWhat can I",
        ),
        (
            [Message(R.USER, "Hello")],
            formatting.FormatterName.DEFAULT,
            f"Task: Hello\nAnswer:{SEPARATOR}\n**User**:,\nTask:",
        ),
        (
            [Message(R.USER, "Hello"), Message(R.MODEL, "What can I")],
            formatting.FormatterName.DEFAULT,
            f"Task: Hello\nAnswer: What can I{SEPARATOR}\n**User**:,\nTask:",
        ),
    ],
)
def test_default_chat_formats_with_the_named_formatter(
    messages: Sequence[Message], formatter: formatting.FormatterName, expected: str
) -> None:
    llm.generate_text.configure(returns_prompt_and_stop)
    assert ot.run(llm.chat(messages, formatter=formatter)) == expected
    prefix = str(messages[1].content) if len(messages) == 2 else None
    assert ot.run(llm.instruct(str(messages[0].content), prefix, formatter=formatter)) == expected


def test_default_chat_keeps_the_configured_stops_and_refuses_the_api_formatter() -> None:
    llm.generate_text.configure(returns_prompt_and_stop, stop=["END"])
    result = ot.run(llm.instruct("Hello"))
    assert result == f"Task: Hello\nAnswer:{SEPARATOR}\n**User**:,\nTask:,END"
    with pytest.raises(NotImplementedError):
        ot.run(llm.chat([Message(R.USER, "Hello")], formatter=formatting.FormatterName.API))


def test_tokenize_count_tokens_and_detokenize() -> None:
    llm.tokenize.configure(lambda content: [len(w) for w in str(content).split()])
    llm.detokenize.configure(lambda tokens: " ".join(str(t) for t in tokens))
    assert ot.run(llm.count_tokens(content="hello world")) == 2
    assert ot.run(llm.detokenize(tokens=[1, 2, 3, 4])) == "1 2 3 4"


def test_a_string_names_only_the_fixed_types_and_is_never_run(tmp_path: pathlib.Path) -> None:
    backend = FakeBackend(default_reply="12", implements=["generate_text", "generate_object"])
    backend.register()
    assert ot.run(llm.generate_object("n?", "int")) == 0  # the backend got the type int
    assert backend.calls[0].arguments["cls"] is int
    target = tmp_path / "made"
    attack = f"__import__('os').mkdir({str(target)!r})"
    with pytest.raises(ValueError, match="never run as Python"):
        llm.generate_object("q", attack)
    with pytest.raises(ValueError, match="never run as Python"):
        llm.parse_object("1", attack)
    assert not target.exists()
