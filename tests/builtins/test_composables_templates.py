"""Jinja2 composables (``c.j``): calls inside the template, dry runs, errors with lines."""

from __future__ import annotations

import builtins
from pathlib import Path
from typing import Any

import pydantic
import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import composables as c
from onetwo.builtins import llm
from onetwo.core import sampling
from onetwo.core.content import Message, PredefinedRole
from onetwo.errors import BackendError, TemplateError

SCRIPT = {
    "Q: 2+2?\nThink:": " it is easy",
    "Q: 2+2?\nThink: it is easy\nA:": " 4",
}


def plus_syntax() -> c.Composable:
    return (
        "Q: "
        + c.f("{question}")
        + "\nThink:"
        + c.generate_text(stop=["\n"], temperature=0.5)
        + "\nA:"
        + c.store("answer", c.generate_text(max_tokens=5))
    )


def template_syntax() -> c.Composable:
    return c.j(
        "Q: {{ question }}\n"
        "Think:{{ generate_text(stop=['\\n'], temperature=0.5) }}\n"
        "A:{{ store('answer', generate_text(max_tokens=5)) }}",
        name="qa",
    )


def test_the_same_strategy_in_both_syntaxes_makes_identical_backend_calls() -> None:
    runs = []
    for build in (plus_syntax, template_syntax):
        backend = FakeBackend(SCRIPT)
        backend.register()
        prompt = build()
        text = ot.run(prompt(question="2+2?"))
        runs.append((text, prompt["answer"], backend.calls))
    assert runs[0] == runs[1]
    text, answer, calls = runs[0]
    assert text == "Q: 2+2?\nThink: it is easy\nA: 4" and answer == " 4"
    assert [call.arguments["prompt"] for call in calls] == list(SCRIPT)


def test_the_second_syntax_is_served_from_the_first_ones_cache(tmp_path: Path) -> None:
    first = FakeBackend(SCRIPT, cache=tmp_path)
    first.register()
    assert ot.run(plus_syntax()(question="2+2?")).endswith("A: 4")
    second = FakeBackend(SCRIPT, cache=tmp_path)
    second.register()
    text, trace = ot.run(template_syntax()(question="2+2?"), enable_tracing=True)
    assert text.endswith("A: 4")
    assert len(first.calls) == 2
    assert second.calls == []  # every call was a cache hit
    assert [call.details["cache_hit"] for call in trace.calls()] == [True, True]


def test_each_call_in_a_template_sees_the_text_rendered_so_far() -> None:
    backend = FakeBackend(default_reply=lambda prompt, **kw: f"<{len(prompt)}>")
    backend.register()
    prompt = "Intro. " + c.j(
        "{% for i in range(2) %}Step {{ i }}:{{ generate_text() }}\n{% endfor %}"
        "{% if done %}Done:{{ generate_text() }}{% endif %}"
    )
    text = ot.run(prompt(done=True) + " End:" + c.generate_text())
    assert backend.prompts == [
        "Intro. Step 0:",
        "Intro. Step 0:<14>\nStep 1:",
        "Intro. Step 0:<14>\nStep 1:<26>\nDone:",
        "Intro. Step 0:<14>\nStep 1:<26>\nDone:<36> End:",
    ]
    assert text == "Intro. Step 0:<14>\nStep 1:<26>\nDone:<36> End:<45>"


def test_template_functions_choose_generate_texts_objects_store_and_input() -> None:
    class Point(pydantic.BaseModel):
        x: int
        y: int

    backend = FakeBackend(
        regex_replies=[(r"Point:$", '{"x": 1, "y": 2}'), (r"N:$", "3")],
        default_reply=lambda prompt, **kw: f"s{sampling.current_sampling_key()}",
        scores={" red": -2.0, " blue": -0.5, " green": -1.0},
    )
    backend.register()
    prompt = c.j(
        "Color:{{ store('color', choose([' red', ' blue', ' green'])) }}\n"
        "Top:{{ choose([' red', ' blue', ' green'], top_k=2) | join(',') }}\n"
        "Samples:{{ generate_texts(2) | join('|') }}\n"
        "Point:{% set p = store('point', generate_object(Point)) %}{{ p.x + p.y }}\n"
        "N:{{ generate_object('int') + 1 }}\n"
        "Again:{{ input('color') }} {{ input('point') }}"
    )
    text = ot.run(prompt(Point=Point))
    assert text == (
        'Color: blue\nTop: blue, green\nSamples:s0|s1\nPoint:3\nN:4\nAgain: blue {"x":1,"y":2}'
    )
    assert prompt["color"] == " blue" and prompt["point"] == Point(x=1, y=2)
    scored = [call.arguments["prompt"] for call in backend.calls if call.name == "score_text"]
    assert scored == ["Color:", "Color: blue\nTop:"]
    assert backend.prompts[:2] == ["Color: blue\nTop: blue, green\nSamples:"] * 2


def test_a_template_can_be_tagged_with_a_role_and_chat_sees_messages() -> None:
    seen: list[list[Message]] = []

    def chat(messages: list[Message], **kw: Any) -> str:
        seen.append(list(messages))
        return "4"

    llm.chat.configure(chat)
    prompt = c.system("Answer briefly.") + c.user(c.j("What is {{ q }}?")) + c.chat()
    assert ot.run(prompt(q="2+2")) == "Answer briefly.What is 2+2?4"
    assert seen == [
        [
            Message(PredefinedRole.SYSTEM, "Answer briefly."),
            Message(PredefinedRole.USER, "What is 2+2?"),
        ]
    ]


def test_dry_run_returns_the_prompts_with_stub_replies_and_contacts_no_backend() -> None:
    backend = FakeBackend(SCRIPT)
    backend.register()
    prompt = c.j(
        "Q: {{ question }}\nA:{{ store('answer', generate_text()) }}\n"
        "Sure?{{ choose([' yes', ' no']) }}\n{{ generate_object('int') }}"
    )
    dry = prompt.dry_run(question="2+2?")
    assert dry.prompts == [
        "Q: 2+2?\nA:",
        "Q: 2+2?\nA:<generated>\nSure?",
        "Q: 2+2?\nA:<generated>\nSure? yes\n",
    ]
    assert [call.builtin for call in dry.calls] == [
        "llm.generate_text",
        "llm.score_text",
        "llm.generate_object",
    ]
    assert dry.calls[1].arguments == {"targets": [" yes", " no"]}
    assert dry.text == "Q: 2+2?\nA:<generated>\nSure? yes\n0"
    assert dry.variables == {"question": "2+2?", "answer": c.DRY_RUN_REPLY}
    assert backend.calls == []


def test_dry_run_of_every_step_contacts_no_backend() -> None:
    backend = FakeBackend(default_reply="real", scores=lambda prompt, target: 0.0)
    backend.register()
    prompt = (
        c.system("Be brief.")
        + c.user("Q:" + c.f("{q}"))
        + c.chat()
        + c.generate_text()
        + c.instruct()
        + c.select(" a", " b" + c.generate_text())
        + c.store("n", c.generate_object(int))
        + llm.generate_texts("side", 2)
        + c.j("{{ generate_texts(2) | join }}{{ choose(['x', 'y'], top_k=1) | join }}")
    )
    dry = prompt.dry_run(q="2+2?")
    assert backend.calls == []
    assert "real" not in dry.text
    assert dry.prompts[0] == [
        Message(PredefinedRole.SYSTEM, "Be brief."),
        Message(PredefinedRole.USER, "Q:2+2?"),
    ]
    assert dry.variables["n"] == 0  # int() stands in for a generated int
    assert {call.builtin for call in dry.calls} == {
        "llm.chat",
        "llm.generate_text",
        "llm.score_text",
        "llm.generate_object",
    }


def test_dry_run_of_a_chat_records_the_messages() -> None:
    dry = (c.user("Hi") + c.chat() + c.user("Bye") + c.chat()).dry_run()
    assert dry.prompts[1] == [
        Message(PredefinedRole.USER, "Hi"),
        Message(PredefinedRole.MODEL, "<generated>"),
        Message(PredefinedRole.USER, "Bye"),
    ]


def test_a_syntax_error_names_the_template_and_the_line() -> None:
    with pytest.raises(TemplateError) as info:
        c.j("Q: {{ question }}\nA: {{ generate_text( }}", name="qa")
    error = info.value
    assert (error.template_name, error.line) == ("qa", 2)
    assert str(error).startswith("template 'qa', line 2: syntax error:")


def test_an_undefined_variable_names_the_line_and_how_to_pass_it() -> None:
    FakeBackend(default_reply="x").register()
    prompt = c.j("Q: {{ question }}\n\nA: {{ answr }}", name="qa")
    with pytest.raises(TemplateError) as info:
        ot.run(prompt(question="2+2?"))
    assert info.value.line == 3
    assert str(info.value) == (
        "template 'qa', line 3: 'answr' is undefined. Pass it as an input, e.g. "
        "prompt(answr=...); for a value stored in this template, use input('answr') or "
        "__vars__.answr."
    )


def test_a_failing_call_names_the_line_and_keeps_the_cause() -> None:
    down = BackendError("the server is down")
    FakeBackend(regex_replies=[(r"Second:$", down)], default_reply="ok").register()
    prompt = c.j(
        "First:{{ generate_text() }}\n{% for i in range(1) %}\nSecond:{{ generate_text() }}"
        "{% endfor %}"
    )
    with pytest.raises(TemplateError) as info:
        ot.run(prompt)
    assert info.value.line == 3 and info.value.template_name == "<template>"
    assert str(info.value) == "template '<template>', line 3: BackendError: the server is down"
    assert info.value.__cause__ is down


def test_template_misuse_is_a_template_error_with_its_line() -> None:
    FakeBackend(default_reply="x").register()
    cases = {
        "a\n{{ input('nope') }}": "KeyError: no variable 'nope'",
        "{{ generate_text(tmp=1) }}": "InvalidArgumentError: llm.generate_text() got unexpected",
        "\n\n{{ ''.__class__.__mro__ }}": "SecurityError: access to attribute '__class__'",
    }
    for source, cause in cases.items():
        with pytest.raises(TemplateError) as info:
            ot.run(c.j(source, name="t"))
        assert info.value.line == source.count("\n") + 1, source
        assert cause in str(info.value), str(info.value)


ESCAPES = {
    # pydantic evaluates a type given as a string: that would run Python outside jinja.
    "type name": "{{ generate_object(\"__import__('builtins').setattr("
    "__import__('builtins'), 'onetwo_escaped', 1) or int\") }}",
    "str.format": '{{ "{0.__class__.__mro__}".format(1) }}',
    "stored str.format (CVE-2024-56326)": '{% set f = "{0.__class__}".format %}{{ f(1) }}',
    "attr filter (CVE-2025-27516)": '{{ ("{0.__class__}" | attr("format"))(1) }}',
    "a function's captured context": "{{ generate_text.__closure__ }}",
    "a global's module": "{{ cycler.__init__.__globals__ }}",
}


@pytest.mark.parametrize("source", ESCAPES.values(), ids=ESCAPES.keys())
def test_the_sandbox_holds_against_known_escapes(source: str) -> None:
    FakeBackend(default_reply="1").register()
    with pytest.raises(TemplateError, match=r"SecurityError|generate_object: cls must be"):
        ot.run(c.j(source))
    assert not hasattr(builtins, "onetwo_escaped")


def test_generate_object_takes_a_type_by_name_or_as_an_input() -> None:
    FakeBackend(default_reply="[1, 2]").register()
    assert ot.run(c.j("{{ generate_object('list') | sum }}")) == "3"
    with pytest.raises(TemplateError, match=r"one of \['bool', 'dict'.*prompt\(Answer="):
        ot.run(c.j("{{ generate_object('Answer') }}"))


def test_a_template_is_text_exactly_as_written() -> None:
    FakeBackend(default_reply="x").register()
    assert ot.run(c.j("a {{ none }}\n")(none=None)) == "a \n"  # trailing newline kept


def test_store_in_a_template_is_visible_to_later_parts() -> None:
    FakeBackend(default_reply=" 4").register()
    prompt = c.j("A:{{ store('answer', generate_text()) }}") + c.f(" (was{answer})")
    assert ot.run(prompt) == "A: 4 (was 4)"
    assert prompt["answer"] == " 4"
