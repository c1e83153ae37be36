"""Composable prompts built with ``+``: what the model sees, variables, roles, select."""

from __future__ import annotations

import asyncio
from typing import Any

import pydantic
import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import composables as c
from onetwo.builtins import llm
from onetwo.core import sampling
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole
from onetwo.errors import TemplateError

R = PredefinedRole


def test_plus_composes_str_composables_and_executables_in_any_order() -> None:
    backend = FakeBackend(default_reply="<r>")
    backend.register()
    prompt = "Q: " + c.generate_text() + " / " + llm.generate_text("side") + "!"
    prompt += c.generate_text()
    assert isinstance(prompt, c.Composable)
    assert ot.run(prompt) == "Q: <r> / <r>!<r>"
    assert backend.prompts == ["Q: ", "side", "Q: <r> / <r>!"]
    assert ot.run(llm.generate_text("x") + "!") == "<r>!"  # an executable on the left


OPERANDS = {
    "str": ("s", "s"),
    "Chunk": (Chunk("k"), "k"),
    "ChunkList": (ChunkList(["l1", "l2"]), "l1l2"),
    "bytes": (b"\x00", "<1 bytes>"),
    "executable": (llm.generate_text("side"), "<side>"),
    "composable": (c.f("F"), "F"),
}


@pytest.mark.parametrize("operand, shown", OPERANDS.values(), ids=OPERANDS.keys())
def test_plus_takes_every_operand_type_on_either_side(operand: Any, shown: str) -> None:
    FakeBackend(default_reply=lambda prompt, **kw: f"<{str(prompt)[-4:]}>").register()
    for prompt, expected in [
        (operand + c.generate_text(), f"{shown}<{shown[-4:]}>"),
        (c.generate_text() + operand, f"<>{shown}"),
    ]:
        assert isinstance(prompt, c.Composable)
        assert ot.run(prompt) == expected


def test_each_model_call_sees_everything_before_it() -> None:
    backend = FakeBackend(
        {
            "Q: 2+2?\nThink:": " it is easy",
            "Q: 2+2?\nThink: it is easy\nA:": " 4",
            "Q: 2+2?\nThink: it is easy\nA: 4\nSure?": " yes",
        }
    )
    backend.register()
    prompt = (
        "Q: "
        + c.f("{question}")
        + "\nThink:"
        + c.generate_text(stop=["\n"])
        + "\nA:"
        + c.store("answer", c.generate_text(max_tokens=5))
        + "\nSure?"
        + c.generate_text(temperature=0.0)
    )
    assert ot.run(prompt(question="2+2?")) == "Q: 2+2?\nThink: it is easy\nA: 4\nSure? yes"
    assert backend.prompts == [
        "Q: 2+2?\nThink:",
        "Q: 2+2?\nThink: it is easy\nA:",
        "Q: 2+2?\nThink: it is easy\nA: 4\nSure?",
    ]
    arguments = [call.arguments for call in backend.calls]
    assert [a["stop"] for a in arguments] == [["\n"], None, None]
    assert [a["max_tokens"] for a in arguments] == [None, 5, None]
    assert [a["temperature"] for a in arguments] == [None, None, 0.0]
    assert prompt["answer"] == " 4"


def test_f_formats_with_inputs_and_values_stored_so_far() -> None:
    FakeBackend(default_reply="Ada").register()
    prompt = (
        "Name:"
        + c.store("name", c.generate_text())
        + "\n"
        + c.f("{greeting}, {name}! {{literal}} {n:03d}")
    )
    assert ot.run(prompt(n=7, greeting="Hello")) == "Name:Ada\nHello, Ada! {literal} 007"
    assert prompt["greeting"] == "Hello" and prompt["n"] == 7


def test_f_with_a_missing_variable_says_which_and_how_to_provide_it() -> None:
    with pytest.raises(TemplateError) as info:
        ot.run("Q: " + c.f("{question}"))
    message = str(info.value)
    assert "'question'" in message and "prompt(question=...)" in message
    assert info.value.template_name == "c.f"
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(TemplateError, match="named fields"):
        ot.run(c.f("{}"))


class Answer(pydantic.BaseModel):
    value: int
    unit: str = ""


def test_store_keeps_what_the_step_produced() -> None:
    backend = FakeBackend(
        regex_replies=[(r"JSON:$", '{"value": 4, "unit": "apples"}')], default_reply=" 4"
    )
    backend.register()
    prompt = (
        "JSON:"
        + c.store("obj", c.generate_object(Answer))
        + "\nplain"
        + c.store("text", "Q" + c.generate_text())
        + c.store("number", 123)
        + c.store("side", llm.generate_text("elsewhere"))
    )
    text = ot.run(prompt)
    assert text == 'JSON:{"value":4,"unit":"apples"}\nplainQ 4123 4'
    assert prompt["obj"] == Answer(value=4, unit="apples")  # the object, appended as JSON
    assert prompt["text"] == "Q 4"  # a longer composable: the text it added
    assert prompt["number"] == 123  # a plain value: appended as text, kept as is
    assert prompt["side"] == " 4"  # an executable's result is appended and stored


def test_reading_a_variable_before_a_run_or_an_unknown_one_says_why() -> None:
    FakeBackend(default_reply="x").register()
    prompt = "a" + c.store("answer", c.generate_text())
    with pytest.raises(KeyError, match="has not run yet"):
        prompt["answer"]
    ot.run(prompt)
    with pytest.raises(KeyError, match=r"no variable 'nope'; the variables are \['answer'\]"):
        prompt["nope"]
    with pytest.raises(TypeError):
        list(prompt)  # not a sequence, although it has __getitem__


def test_binding_inputs_shares_the_last_run_with_the_original() -> None:
    FakeBackend(default_reply=lambda prompt, **kw: prompt.upper()).register()
    prompt = c.f("{word}") + c.store("loud", c.generate_text())
    assert ot.run(prompt(word="hi")) == "hiHI"
    assert prompt["loud"] == "HI"
    ot.run(prompt(word="yo"))
    assert prompt["loud"] == "YO"


def test_each_run_starts_from_its_inputs_only() -> None:
    FakeBackend(default_reply="x").register()
    prompt = c.j("{% if n is defined %}seen before;{% endif %}") + c.store("n", c.generate_text())
    assert ot.run(prompt) == "x"
    assert ot.run(prompt) == "x"  # the first run's `n` is not an input of the second
    assert prompt["n"] == "x"


def test_concurrent_runs_keep_their_own_variables_with_with_context() -> None:
    FakeBackend(default_reply=lambda prompt, **kw: prompt[::-1]).register()
    prompt = c.f("{word}:") + c.store("reply", c.generate_text())
    contexts = ot.run(ot.parallel(*(prompt(word=w).with_context() for w in ["abc", "xyz", "123"])))
    assert [ctx["reply"] for ctx in contexts] == [":cba", ":zyx", ":321"]
    assert [ctx.text for ctx in contexts] == ["abc::cba", "xyz::zyx", "123::321"]
    assert prompt["reply"] in {":cba", ":zyx", ":321"}  # whichever run ended last


def test_under_repeat_each_copy_is_its_own_sample() -> None:
    FakeBackend(
        default_reply=lambda prompt, **kw: f"<{sampling.current_sampling_key()}>"
    ).register()
    prompt = "Q" + c.store("a", c.generate_text()) + c.j("{{ generate_text() }}")
    assert ot.run(ot.parallel(*ot.repeat(prompt, 3))) == ["Q<0><0>", "Q<1><1>", "Q<2><2>"]
    contexts = ot.run(ot.parallel(*ot.repeat(prompt.with_context(), 2)))
    assert [ctx["a"] for ctx in contexts] == ["<0>", "<1>"]


def test_roles_turn_the_prefix_into_chat_messages() -> None:
    seen: list[list[Message]] = []

    def chat(messages: list[Message], **options: Any) -> str:
        seen.append(list(messages))
        return f"reply{len(seen)}"

    llm.chat.configure(chat)
    prompt = (
        c.system("Be brief.")
        + c.user("Hi, I am ", c.f("{name}"), ".")
        + c.chat()
        + "And 2+2?"  # untagged text belongs to the user
        + c.chat()
    )
    assert ot.run(prompt(name="Ada")) == "Be brief.Hi, I am Ada.reply1And 2+2?reply2"
    assert seen == [
        [Message(R.SYSTEM, "Be brief."), Message(R.USER, "Hi, I am Ada.")],
        [
            Message(R.SYSTEM, "Be brief."),
            Message(R.USER, "Hi, I am Ada."),
            Message(R.MODEL, "reply1"),  # the reply is appended as the model's turn
            Message(R.USER, "And 2+2?"),
        ],
    ]


def test_chat_on_a_text_model_formats_the_roles_and_continues_a_model_prefix() -> None:
    backend = FakeBackend(default_reply=" Paris.")
    backend.register()
    prompt = c.user("Capital of France?") + c.model("The capital is") + c.chat()
    assert ot.run(prompt) == "Capital of France?The capital isParis."
    assert backend.prompts == ["Task: Capital of France?\nAnswer: The capital is"]


def test_generated_text_inside_a_role_gets_that_role() -> None:
    seen: list[list[Message]] = []
    FakeBackend(default_reply="draft").register()

    def chat(messages: list[Message], **kw: Any) -> str:
        seen.append(list(messages))
        return "ok"

    llm.chat.configure(chat)
    ot.run(c.user("Write:") + c.model(c.generate_text()) + c.user("Shorter.") + c.chat())
    assert seen[0] == [
        Message(R.USER, "Write:"),
        Message(R.MODEL, "draft"),
        Message(R.USER, "Shorter."),
    ]


def test_instruct_sends_the_text_so_far_and_appends_prefix_and_answer() -> None:
    backend = FakeBackend(default_reply=" Paris.")
    backend.register()
    prompt = "Capital of " + c.f("{country}") + "?" + c.instruct(assistant_prefix="It is")
    assert ot.run(prompt(country="France")) == "Capital of France?It isParis."
    assert backend.prompts == ["Task: Capital of France?\nAnswer: It is"]


def test_select_keeps_the_likeliest_branch_and_its_variables() -> None:
    scores = {" blue sky": -0.1, " green sky": -3.0}
    backend = FakeBackend(
        {"The sky is blue": " sky", "The sky is green": " sky"},
        scores=lambda prompt, target: scores[target],
    )
    backend.register()
    prompt = (
        "The sky is"
        + c.select(
            c.store("color", " blue") + c.generate_text(),
            c.store("color", c.f(" green")) + c.generate_text(),
        )
        + "."
    )
    assert ot.run(prompt) == "The sky is blue sky."
    assert prompt["color"] == " blue"
    scored = [call for call in backend.calls if call.name == "score_text"]
    assert [call.arguments for call in scored] == [
        {"prompt": "The sky is", "targets": [" blue sky", " green sky"]}
    ]
    assert sorted(backend.prompts) == ["The sky is blue", "The sky is green"]


async def test_select_branches_run_concurrently() -> None:
    started: list[str] = []
    both = asyncio.Event()

    async def reply(prompt: str, **kw: Any) -> str:
        started.append(prompt)
        if len(started) == 2:
            both.set()
        await asyncio.wait_for(both.wait(), timeout=5)  # would time out if run one by one
        return "!"

    FakeBackend(default_reply=reply, scores=lambda prompt, target: -len(target)).register()
    prompt = "Pick:" + c.select(" a" + c.generate_text(), " bb" + c.generate_text())
    assert await prompt == "Pick: a!"
    assert sorted(started) == ["Pick: a", "Pick: bb"]


def test_a_failing_select_branch_cancels_the_others_and_raises() -> None:
    FakeBackend(regex_replies=[(r"bad$", RuntimeError("down"))], default_reply="ok").register()
    with pytest.raises(RuntimeError, match="down"):
        ot.run(c.select(" good" + c.generate_text(), " bad" + c.generate_text()))


def test_make_composable_steps_read_the_context_and_append_their_result() -> None:
    backend = FakeBackend(default_reply=" more")
    backend.register()

    @ot.make_composable
    def count_words(context: c.Context, extra: int = 0) -> int:
        return len(context.text.split()) + extra

    @c.make_composable
    async def remember(context: c.Context, name: str) -> None:
        context[name] = context.text

    @c.make_composable
    def continue_twice(context: c.Context) -> c.Composable:
        return c.generate_text() + c.generate_text()

    @ot.make_executable
    def two() -> int:
        return 2

    prompt = "one two" + c.store("n", count_words(two())) + remember("before") + continue_twice()
    assert ot.run(prompt) == "one two4 more more"
    assert prompt["n"] == 4  # the value itself, appended as text
    assert prompt["before"] == "one two4"
    assert backend.prompts == ["one two4", "one two4 more"]
    assert c.make_composable is ot.make_composable
    with pytest.raises(TypeError, match="first parameter receives the context"):
        c.make_composable(lambda: "x")


def test_composition_rejects_values_that_are_not_prompt_text() -> None:
    with pytest.raises(TypeError, match=r"cannot compose int 5.*str\(\)"):
        c.generate_text() + 5
    with pytest.raises(TypeError, match="cannot compose"):
        5 + c.generate_text()


def test_options_are_checked_when_the_composable_is_built() -> None:
    with pytest.raises(
        TypeError, match=r"c.generate_text\(\) got unexpected argument\(s\) \['tmp'\]"
    ):
        c.generate_text(tmp=0.1)
    with pytest.raises(TypeError, match="include_details"):
        c.chat(include_details=True)
    with pytest.raises(ValueError, match="at least one branch"):
        c.select()
    with pytest.raises(TypeError, match="non-empty str name"):
        c.store("", 1)


def test_the_registry_is_read_when_the_composable_runs() -> None:
    prompt = "Q:" + c.generate_text()
    with ot.RegistryContext():
        FakeBackend(default_reply=" A").register()
        reg_a = ot.copy_registry()
    with ot.RegistryContext():
        FakeBackend(default_reply=" B").register()
        reg_b = ot.copy_registry()
    results = ot.run(ot.parallel(ot.with_registry(prompt, reg_a), ot.with_registry(prompt, reg_b)))
    assert results == ["Q: A", "Q: B"]


def test_bytes_in_the_prefix_reach_the_model_as_chunks() -> None:
    prompts: list[Any] = []

    def generate(prompt: Any, **kw: Any) -> str:
        prompts.append(prompt)
        return "a cat"

    llm.generate_text.configure(generate)
    image = Chunk(b"\x89PNG")
    assert ot.run(c.f("Look: ") + image + " It shows" + c.generate_text()) == (
        "Look: <4 bytes> It showsa cat"
    )
    assert [str(chunk) for chunk in prompts[0]] == ["Look: ", "<4 bytes>", " It shows"]


def test_repr_shows_the_parts() -> None:
    prompt = "Q: " + c.f("{q}") + c.generate_text(stop=["\n"]) + c.select("a", "b")
    assert repr(prompt) == "'Q: ' + f('{q}') + generate_text(stop=['\\n']) + select('a', 'b')"


def test_repr_of_bound_inputs_names_them_without_their_values() -> None:
    prompt = (c.f("{doc}") + c.generate_text())(doc="x" * 100_000)
    assert repr(prompt) == "inputs(doc) + f('{doc}') + generate_text()"


def test_a_templates_generate_texts_makes_one_sample_unless_asked() -> None:
    with ot.RegistryContext():
        FakeBackend(default_reply="x").register()
        llm.generate_texts.update(samples=3)  # a default for direct calls, not for templates
        assert ot.run(c.j("{{ generate_texts() }}")) == "['x']"
        assert ot.run(c.j("{{ generate_texts(2) }}")) == "['x', 'x']"


def test_store_keeps_a_chunk_as_the_chunk() -> None:
    chunk = Chunk("hello", role="user")
    prompt = "A" + c.store("x", chunk) + c.store("y", "plain")
    assert ot.run(prompt) == "Ahelloplain"
    assert prompt["x"] == chunk and prompt["y"] == "plain"


def test_a_context_copies_the_variables_it_is_given() -> None:
    given = {"a": 1}
    context = c.Context(given)
    context["b"] = 2
    assert given == {"a": 1} and context["b"] == 2
    assert c.Context(None).variables == {}  # type: ignore[arg-type]
