"""HTML display: escaped, collapsible, and complete enough to read a run from it."""

from __future__ import annotations

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import rendering, tracing
from onetwo.core.content import Message, PredefinedRole
from tests.html_page import parse

ATTACK = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def test_a_prompt_with_script_is_shown_as_text_in_a_trace() -> None:
    FakeBackend(default_reply=ATTACK).register()
    _, trace = ot.run(llm.generate_text(ATTACK), enable_tracing=True)
    markup = trace._repr_html_()
    parsed = parse(markup)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in markup
    assert any(ATTACK in t for t in parsed.text)  # the text itself is all there


def test_trace_html_is_nested_collapsible_and_shows_model_call_details() -> None:
    FakeBackend(default_reply=" 4", model="calc").register()

    @ot.make_executable
    @tracing.trace
    async def solve(question: str) -> str:
        return await llm.generate_text(question)

    _, trace = ot.run(solve("2+2="), enable_tracing=True)
    markup = ot.HTMLRenderer().render(trace)
    parsed = parse(markup)
    assert parsed.tags.count("details") == 2  # solve > llm.generate_text
    assert "<details open>" in markup  # the top node starts expanded
    text = "".join(parsed.text)
    for expected in ["solve", "llm.generate_text", "fake:calc", "1+1 tokens", "2+2=", " 4"]:
        assert expected in text, expected


def test_errors_and_cache_flags_in_the_headline() -> None:
    node = tracing.Trace("llm.generate_text", "builtin", {"prompt": "p"}, start=0.0, end=0.25)
    node.details.update(backend="fake", model="m", cache_hit=True, finish_reason="stop")
    failed = tracing.Trace("step", error=ValueError("<bad>"), start=0.0, end=1.5)
    text = "".join(parse(rendering.HTMLRenderer().render(node)).text)
    assert "cache hit" in text and "250.0 ms" in text
    assert "finish_reason" in text  # other details go in a table
    markup = rendering.HTMLRenderer().render(failed)
    assert "ValueError: &lt;bad&gt;" in markup and "1.50 s" in markup


def test_long_values_are_cut_and_many_children_elided() -> None:
    root = tracing.Trace("root", inputs={"text": "x" * 5000}, start=0.0, end=1.0)
    root.children.extend(tracing.Trace(f"c{i}", start=0.0, end=0.1) for i in range(5))
    markup = rendering.HTMLRenderer(max_chars=100, max_rows=3).render(root)
    assert "4900 more characters" in markup
    assert "2 more calls" in markup
    assert "x" * 101 not in markup


def test_plain_values_and_chat_messages() -> None:
    r = rendering.HTMLRenderer()
    messages = [Message(PredefinedRole.USER, "<hi>"), Message(PredefinedRole.MODEL, "hello")]
    markup = r.render(messages)
    assert "<b>user</b>" in markup and "&lt;hi&gt;" in markup
    assert "&lt;tag&gt;" in r.render({"k": "<tag>"})
    assert rendering.escape('"&') == "&quot;&amp;"


def assert_shown_as_text(markup: str) -> None:
    parsed = parse(markup)
    assert "script" not in parsed.tags and "img" not in parsed.tags
    assert any(ATTACK in t for t in parsed.text), "the text itself must be shown"


def test_every_renderer_shows_markup_from_a_run_as_text() -> None:
    # The attack is everywhere a run puts text: prompt, reply, error, names of the
    # strategy, metric and backend.
    backend = FakeBackend(
        regex_replies=[("boom", RuntimeError(ATTACK))], default_reply=ATTACK, model=ATTACK
    )
    backend.register()
    examples = [{"question": ATTACK, "answer": ATTACK}, {"question": "boom", "answer": "b"}]
    metrics = {ATTACK: lambda target, prediction: target == prediction}
    summary = ot.evaluate(
        llm.generate_text, examples, metric_functions=metrics, progress=False, name=ATTACK
    )
    table = ot.compare(
        llm.generate_text,
        examples,
        {ATTACK: backend, "two": FakeBackend(default_reply="b")},
        metric_functions=metrics,
        progress=False,
    )
    (update, *_) = list(ot.stream_updates(llm.generate_text(ATTACK)))
    failed = summary.results[1]
    assert failed.error is not None and failed.trace is not None
    rendered = {
        "trace": summary.results[0].trace._repr_html_(),  # type: ignore[union-attr]
        "failed trace": failed.trace._repr_html_(),
        "summary": summary._repr_html_(),
        "example": failed._repr_html_(),
        "comparison": table._repr_html_(),
        "update": update._repr_html_(),
        "value": ot.HTMLRenderer().render({ATTACK: [ATTACK]}),
    }
    for name, markup in rendered.items():
        try:
            assert_shown_as_text(markup)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from e


def test_evaluation_summary_and_comparison_render_tables() -> None:
    examples = [{"question": "2+2", "answer": "a"}, {"question": "boom", "answer": "b"}]
    backend = FakeBackend(regex_replies=[("boom", RuntimeError("<crash>"))], default_reply="a")
    backend.register()
    summary = ot.evaluate(
        llm.generate_text,
        examples,
        metric_functions={"exact": lambda t, p: t == p},
        progress=False,
    )
    parsed = parse(summary._repr_html_())
    assert "table" in parsed.tags and "details" in parsed.tags
    text = "".join(parsed.text)
    assert "exact" in text and "1 errors" in text and "RuntimeError: <crash>" in text

    table = ot.compare(
        llm.generate_text,
        examples,
        {"one": backend, "two": FakeBackend(default_reply="b")},
        metric_functions={"exact": lambda t, p: t == p},
        progress=False,
    )
    text = "".join(parse(table._repr_html_()).text)
    for expected in ["one: prediction", "two: exact", "two: tokens", "one: cache", "backend"]:
        assert expected in text, expected
