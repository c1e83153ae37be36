"""The reference's composables examples: c.c, c.f errors, __vars__ in templates."""

from __future__ import annotations

from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import composables as c
from onetwo.builtins import llm
from onetwo.core.content import Chunk, ChunkList, Message
from onetwo.core.content import PredefinedRole as R


def test_c_makes_a_prompt_part_of_any_content_with_a_role() -> None:
    prompts: list[Any] = []

    def generate(prompt: Any) -> str:
        prompts.append(prompt)
        return " a flag"

    llm.generate_text.configure(generate)
    image = Chunk(b"\x89PNG", "image/png")
    prompt = c.c(image) + "Question: What is on this picture?\nAnswer: This is" + c.generate_text()
    assert ot.run(prompt) == "<image/png>Question: What is on this picture?\nAnswer: This is a flag"
    assert prompts == [ChunkList([image, "Question: What is on this picture?\nAnswer: This is"])]
    seen: list[list[Message]] = []

    def chat(messages: list[Message], **kw: Any) -> str:
        seen.append(list(messages))
        return "ok"

    llm.chat.configure(chat)
    ot.run(c.c("Be brief.", role=R.SYSTEM) + c.c("Hi", role="user") + c.chat())
    assert seen == [[Message(R.SYSTEM, "Be brief."), Message(R.USER, "Hi")]]


def test_f_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="no variable 'missing'"):
        ot.run(c.f("{missing}"))
    assert ot.run(c.f("{x} and {y}", role=R.USER)(x=1, y=2)) == "1 and 2"


def test_the_tutorial_template_reads_stored_values_through_vars() -> None:
    FakeBackend(
        regex_replies=[
            (r"(?s)mayor of Paris\?.*Answer: $", "Anne Hidalgo"),
            (r"Answer: $", "Paris"),
        ]
    ).register()
    prompt = c.j(
        "Question: What is the capital of {{ question }}? (Just the answer.)\n"
        'Answer: {{ store("city", generate_text(stop=["\\n"]) | trim) }}\n'
        "Question: Who is the mayor of {{ __vars__.city }}? (Just the answer.)\n"
        'Answer: {{ store("mayor", generate_text(stop=["\\n"]) | trim) }}'
    )
    text = ot.run(prompt(question="France"))
    assert text.endswith("Who is the mayor of Paris? (Just the answer.)\nAnswer: Anne Hidalgo")
    assert (prompt["city"], prompt["mayor"]) == ("Paris", "Anne Hidalgo")
