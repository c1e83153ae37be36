"""evaluate and compare: metrics, failing examples, per-example stats, two registries."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import composables as c
from onetwo.builtins import llm
from onetwo.evaluation import evaluation

EXAMPLES = [
    {"question": "2+2=", "answer": "4"},
    {"question": "3+3=", "answer": "6"},
    {"question": "boom", "answer": "?"},
    {"question": "5+5=", "answer": "10"},
]


def exact(target: str, prediction: str) -> bool:
    return prediction.strip() == target


@ot.make_executable
async def solve(question: str) -> str:
    return await llm.generate_text(f"Q: {question}\nA:")


def calculator(**kwargs: Any) -> FakeBackend:
    return FakeBackend(
        regex_replies=[
            ("boom", RuntimeError("the model crashed")),
            (r"2\+2", " 4"),
            (r"3\+3", " 6"),
            (r"5\+5", " 11"),
        ],
        **kwargs,
    )


def test_evaluate_averages_metrics_and_records_a_failing_example() -> None:
    calculator().register()
    summary = ot.evaluate(solve, EXAMPLES, metric_functions={"exact": exact}, progress=False)
    assert summary.metrics == {"exact": pytest.approx(2 / 3)}
    assert summary.counts == {"exact": 3}  # the failed example has no value
    assert [r.prediction for r in summary.results.values()] == [" 4", " 6", None, " 11"]
    (failed,) = summary.errors
    assert failed.index == 2
    assert isinstance(failed.error, RuntimeError)
    assert "crashed" in str(failed.error)
    assert failed.metrics == {}
    assert summary.results[0].inputs == {"question": "2+2="}
    assert summary.results[0].target == "4"
    assert "4 examples, 1 errors" in repr(summary)


def test_each_example_keeps_its_trace_latency_and_token_counts() -> None:
    calculator().register()
    summary = ot.evaluate(solve, EXAMPLES[:2], metric_functions=[exact], progress=False)
    first = summary.results[0]
    assert first.trace is not None
    assert first.trace.calls()[0].inputs["prompt"] == "Q: 2+2=\nA:"
    assert first.latency is not None and first.latency >= 0
    stats = first.stats()
    assert (stats.model_calls, stats.prompt_tokens, stats.completion_tokens) == (1, 3, 1)
    assert summary.stats().model_calls == 2
    assert summary.metrics == {"exact": 1.0}  # a list of functions is named by __name__
    row = summary.to_dicts()[0]
    assert row["exact"] == 1.0 and row["tokens"] == 4 and row["error"] is None


def test_extractors_metric_variants_and_async_metrics() -> None:
    FakeBackend(default_reply="yes").register()
    examples = [{"q": "a", "gold": "yes"}, {"q": "b", "gold": "no"}]

    async def judged(target: str, prediction: str, example: dict[str, Any]) -> tuple[float, str]:
        return float(prediction == target), f"judged {example['q']}"

    def skip_b(target: str, prediction: str, example: dict[str, Any]) -> float | None:
        return None if example["q"] == "b" else 1.0

    summary = ot.evaluate(
        llm.generate_text,
        examples,
        inputs_extractor=lambda ex: ((ex["q"],), {"max_tokens": 5}),
        target_extractor=lambda ex: ex["gold"],
        metric_functions={"judged": judged, "only_a": skip_b},
        progress=False,
    )
    assert summary.metrics == {"judged": 0.5, "only_a": 1.0}
    assert summary.counts == {"judged": 2, "only_a": 1}
    assert summary.results[1].info == {"judged": "judged b"}
    assert summary.results[0].inputs == {"prompt": "a", "max_tokens": 5}


def test_an_extractor_or_metric_error_is_recorded_not_raised() -> None:
    FakeBackend(default_reply="x").register()

    def broken(target: Any, prediction: Any) -> float:
        raise ZeroDivisionError("metric bug")

    summary = ot.evaluate(
        llm.generate_text,
        [{"question": "ok"}, {"wrong_key": 1}],
        target_extractor=None,
        metric_functions={"broken": broken},
        progress=False,
    )
    ok, bad = summary.results.values()
    assert isinstance(ok.error, ZeroDivisionError)
    assert ok.prediction == "x"  # the strategy's part still recorded
    assert isinstance(bad.error, ValueError) and isinstance(bad.error.__cause__, KeyError)
    assert str(bad.error) == (
        "inputs_extractor failed on example 1: KeyError: 'question'. The example: "
        "{'wrong_key': 1}. By default the inputs are example['question']; pass "
        "inputs_extractor=lambda example: ... to read them from your examples."
    )
    assert summary.metrics == {}


def test_a_bad_extractor_or_metric_result_says_what_it_got() -> None:
    FakeBackend(default_reply="x").register()
    summary = ot.evaluate(
        llm.generate_text,
        [{"question": "q", "solution": "x"}],
        progress=False,
    )
    assert "target_extractor failed on example 0: KeyError: 'answer'" in str(
        summary.results[0].error
    )
    assert "or target_extractor=None for no target" in str(summary.results[0].error)

    summary = ot.evaluate(
        llm.generate_text,
        [{"question": "q", "answer": "x"}, {"question": "r", "answer": "y"}],
        metric_functions={"label": lambda target, prediction: "yes", "ok": exact},
        progress=False,
    )  # a metric returning text is recorded on each example, not fatal
    assert [str(r.error) for r in summary.results.values()] == [
        "metric 'label' returned 'yes' (a str); a metric returns a number or a bool, None "
        "(no value for this example), or (value, info)."
    ] * 2


def test_misuse_is_reported_before_anything_runs() -> None:
    backend = FakeBackend(default_reply="x")
    backend.register()
    example = {"question": "q", "answer": "x"}
    with pytest.raises(TypeError, match=r"metric 'one' is called as fn\(target, prediction\)"):
        ot.evaluate(llm.generate_text, [example], metric_functions={"one": lambda p: 1})
    with pytest.raises(TypeError, match=r"iterable of examples.*got a dict.*pass \[example\]"):
        ot.evaluate(llm.generate_text, example)
    assert backend.calls == []


def test_one_metric_function_and_no_examples() -> None:
    FakeBackend(default_reply="x").register()
    summary = ot.evaluate(
        llm.generate_text, [{"question": "q", "answer": "x"}], metric_functions=exact
    )
    assert summary.metrics == {"exact": 1.0}
    empty = ot.evaluate(llm.generate_text, [], metric_functions=exact, progress=False)
    assert (empty.results, empty.metrics, empty.counts) == ({}, {}, {"exact": 0})
    assert "0 examples" in repr(empty) and "Evaluation" in empty._repr_html_()
    table = ot.compare(llm.generate_text, [], {"a": FakeBackend()}, progress=False)
    assert table.to_dicts() == [] and table.overview()[0]["examples"] == 0
    assert "Comparison" in table._repr_html_()


def test_evaluate_shows_a_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    calculator().register()
    ot.evaluate(solve, EXAMPLES, progress="grading")
    assert "grading" in capsys.readouterr().err


def test_compare_runs_the_same_strategy_on_two_registries_side_by_side() -> None:
    with ot.RegistryContext():
        calculator(model="calc").register()
        calc = ot.copy_registry()
    always_four = FakeBackend(default_reply=" 4", model="four")  # a backend works directly

    table = ot.compare(
        solve,
        EXAMPLES,
        {"calc": calc, "four": always_four},
        metric_functions={"exact": exact},
        progress=False,
    )
    assert table.names == ["calc", "four"]
    assert table.metrics == {"calc": {"exact": pytest.approx(2 / 3)}, "four": {"exact": 0.25}}
    rows = table.to_dicts()
    assert len(rows) == 4
    assert rows[0]["inputs"] == {"question": "2+2="}
    assert (rows[1]["calc/prediction"], rows[1]["four/prediction"]) == (" 6", " 4")
    assert rows[2]["calc/error"] is not None and rows[2]["four/error"] is None
    assert rows[0]["calc/tokens"] == rows[0]["four/tokens"] == 4
    assert {"calc/latency_s", "calc/cache_hits", "four/exact"} <= rows[0].keys()
    overview = {row["backend"]: row for row in table.overview()}
    assert overview["calc"]["errors"] == 1 and overview["four"]["errors"] == 0
    assert overview["four"]["model_calls"] == 4
    calls = table.summaries["four"].results[0].trace.calls()  # type: ignore[union-attr]
    assert calls[0].details["model"] == "four"


def test_compare_runs_registries_concurrently() -> None:
    slow_a = FakeBackend(default_reply="a", latency=0.05)
    slow_b = FakeBackend(default_reply="b", latency=0.05)
    examples = [{"question": str(i)} for i in range(10)]
    table = ot.compare(
        llm.generate_text, examples, {"a": slow_a, "b": slow_b}, target_extractor=None
    )
    # 20 calls of 50 ms each: all at once, not one after another.
    assert max(s.duration for s in table.summaries.values()) < 0.5
    assert len(slow_a.calls) == len(slow_b.calls) == 10


def test_compare_rejects_what_is_not_a_registry_or_backend() -> None:
    with pytest.raises(TypeError, match="needs registries"):
        ot.compare(solve, EXAMPLES, {"x": 42}, progress=False)
    with pytest.raises(ValueError, match="at least one"):
        ot.compare(solve, EXAMPLES, {}, progress=False)


async def test_aevaluate_from_async_code() -> None:
    FakeBackend(default_reply="x").register()
    summary = await evaluation.aevaluate(
        llm.generate_text, [{"question": "q", "answer": "x"}], metric_functions=[exact]
    )
    assert summary.metrics == {"exact": 1.0}


def test_a_composable_is_a_strategy_taking_its_inputs_by_name() -> None:
    FakeBackend(default_reply=" 4").register()
    prompt = "Q: " + c.f("{question}") + "\nA:" + c.generate_text()
    examples = [{"question": "2+2", "answer": "Q: 2+2\nA: 4"}]
    summary = ot.evaluate(
        prompt,
        examples,
        inputs_extractor=lambda ex: {"question": ex["question"]},
        metric_functions=[exact],
        progress=False,
    )
    assert summary.metrics == {"exact": 1.0}
    assert summary.results[0].inputs == {"question": "2+2"}
    summary = ot.evaluate(prompt, examples, progress=False)  # one positional argument
    assert "takes its inputs by name, e.g. prompt(question=...)" in str(summary.results[0].error)


class NumpyLikeBool:
    """Stands for numpy.bool_: not a numbers.Real, but convertible with float()."""

    def __init__(self, value: bool) -> None:
        self.value = value

    def __float__(self) -> float:
        return float(self.value)


def test_metric_values_of_any_numeric_type_are_averaged() -> None:
    FakeBackend(default_reply="x").register()
    summary = ot.evaluate(
        llm.generate_text,
        [{"question": "q", "answer": "x"}],
        metric_functions={
            "decimal": lambda t, p: Decimal("0.5"),
            "numpy_bool": lambda t, p: NumpyLikeBool(True),
            "int": lambda t, p: 2,
        },
        progress=False,
    )
    assert summary.metrics == {"decimal": 0.5, "numpy_bool": 1.0, "int": 2.0}


def test_output_filter_sees_each_result_once_as_it_ends() -> None:
    """The command line writes each result from ``output_filter=``: it is called once per
    example, with the scored result, while the evaluation still runs."""
    calculator().register()
    seen: list[tuple[int, Any, float | None]] = []
    gate = asyncio.Event()

    @ot.make_executable
    async def waits(question: str) -> str:
        if question == "5+5=":  # the last example waits until three results were seen
            await asyncio.wait_for(gate.wait(), 30)  # fails the example, not hangs
        return await llm.generate_text(f"Q: {question}\nA:")

    def keep(example: dict[str, str], result: evaluation.ExampleResult) -> bool:
        seen.append((result.index, example["question"], result.metrics.get("exact")))
        if len(seen) == 3:
            gate.set()
        return result.index != 0

    summary = ot.evaluate(
        waits, EXAMPLES, metric_functions={"exact": exact}, output_filter=keep, progress=False
    )
    assert sorted(seen, key=lambda s: s[0]) == [
        (0, "2+2=", 1.0),
        (1, "3+3=", 1.0),
        (2, "boom", None),
        (3, "5+5=", 0.0),
    ]
    assert seen[-1][0] == 3  # after the others: called as each ends, not at the end
    assert list(summary.results) == [1, 2, 3] and summary.counters["total_count"] == 4
