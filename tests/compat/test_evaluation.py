"""The reference's evaluation examples (its notebooks and docs), run on onetwo: what
``ot.evaluate`` takes and returns, and its LLM critics."""

from __future__ import annotations

import dataclasses
import string
from typing import Any

import pytest

from onetwo import ot
from onetwo.agents.agents_base import SingleSampleAgent, UpdateListState
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core.content import Message
from onetwo.evaluation import evaluation

QA = [{"question": "a", "answer": "b"}, {"question": "c", "answer": "c"}]


@ot.make_executable
async def identity(question: str) -> str:
    return question


def accuracy(target: str, prediction: str) -> float:
    return float(target == prediction)


def test_getting_started_evaluation_cell() -> None:
    # getting_started.ipynb: an (args, kwargs) inputs extractor, a target extractor.
    FakeBackend(regex_replies=[("telephone", "1876"), ("web", "1989")]).register()

    @ot.make_executable
    async def invention_year(technology: str) -> str:
        return await llm.generate_text(f"The {technology} was invented in the year")

    dataset = [{"technology": "telephone", "year": "1876"}, {"technology": "web", "year": "1989"}]
    summary = ot.evaluate(
        strategy=invention_year,
        examples=dataset,
        inputs_extractor=lambda x: ([x["technology"]], {}),
        target_extractor=lambda x: x["year"],
        metric_functions={"accuracy": lambda target, prediction: float(target == prediction)},
        output_results=True,
    )
    assert summary.metrics == {"accuracy": 1.0}
    assert "accuracy" in ot.HTMLRenderer().render(summary)


def test_results_are_keyed_by_example_with_the_references_accessors() -> None:
    # tutorial.ipynb and rag_tutorial.ipynb read results like this.
    summary = ot.evaluate(
        strategy=identity,
        examples=QA,
        metric_functions={"accuracy": accuracy},
        output_results=True,
        output_results_debug=True,
        output_final_states=True,
    )
    assert summary.metrics == {"accuracy": 0.5}
    assert summary.counters == {"total_count": 2, "error_count": 0, "accuracy_count": 2}
    assert summary.example_keys == {0: 0, 1: 1}
    assert list(summary.results) == [0, 1] and list(summary.results_debug) == [0, 1]
    for example, result in zip(QA, summary.results.values(), strict=True):
        assert result.inputs == {"question": example["question"]}
        assert result.outputs == {"output": example["question"]}
        assert result.targets == {"target": example["answer"]}
    assert [r.metrics["accuracy"] for r in summary.results.values()] == [0.0, 1.0]
    assert summary.timing.time_elapsed.total_seconds() >= 0
    assert summary.timing.start_time <= summary.timing.end_time


def test_example_key_function_and_output_filter() -> None:
    summary = ot.evaluate(
        strategy=identity,
        examples=QA,
        metric_functions={"accuracy": accuracy},
        example_key_function=lambda index, example: str(example["question"]),
        output_filter=lambda example, result: result.metrics["accuracy"] > 0.0,
        output_results=True,
        output_results_debug=True,
    )
    assert list(summary.results) == ["c"] and list(summary.results_debug) == ["c"]
    assert summary.example_keys == {1: "c"}
    assert summary.metrics == {"accuracy": 0.5}  # the filter leaves the metrics alone
    assert summary.counters["total_count"] == 2


def test_callback_sees_each_example_with_its_own_summary() -> None:
    calls: list[tuple[int, Any, dict[str, float], list[Any]]] = []

    def callback(index: int, example: Any, summary: evaluation.EvaluationSummary) -> None:
        calls.append((index, example, summary.metrics, list(summary.results)))

    ot.evaluate(identity, QA, metric_functions={"accuracy": accuracy}, callback=callback)
    assert sorted(calls, key=lambda c: c[0]) == [
        (0, QA[0], {"accuracy": 0.0}, [0]),
        (1, QA[1], {"accuracy": 1.0}, [1]),
    ]


def test_aggregation_functions_see_the_running_summary() -> None:
    def count_info(summary: Any, example_summary: Any) -> None:
        summary.info["seen"] = summary.info.get("seen", 0) + example_summary.counters["total_count"]

    summary = ot.evaluate(
        identity, QA, aggregation_functions=[count_info], dataset_name="qa", progress=False
    )
    assert summary.info == {"dataset_name": "qa", "seen": 2}


def test_metric_extra_info_and_tracing_disabled() -> None:
    def with_info(target: str, prediction: str) -> tuple[float, dict[str, Any]]:
        return accuracy(target, prediction), {"rationale": f"{prediction} vs {target}"}

    summary = ot.evaluate(
        identity, QA, metric_functions={"accuracy": with_info}, enable_tracing=False
    )
    assert summary.results[1].info == {"rationale": "c vs c"}
    assert summary.results[1].trace is None and summary.metrics == {"accuracy": 0.5}


@dataclasses.dataclass
class StringAgent(SingleSampleAgent[str, str, UpdateListState[str, str], str, None]):
    """Spells out the alphabet, ``max_length`` letters."""

    max_length: int = 3

    async def initialize_state(self, inputs: str, environment: None = None) -> Any:
        return UpdateListState(inputs=inputs)

    async def _sample_single_next_step(self, *, state: Any, environment: None = None) -> str:
        return string.ascii_lowercase[len(state.updates)]

    def is_finished(self, state: Any) -> bool:
        return len(state.updates) >= self.max_length

    def extract_output(self, state: Any) -> str:
        return "".join(state.updates)


def test_an_agents_final_states() -> None:
    summary = ot.evaluate(
        StringAgent(),
        [{"question": "q1", "answer": "abc"}, {"question": "q2", "answer": "b"}],
        metric_functions={"accuracy": accuracy},
        example_key_function=lambda index, example: str(example["question"]),
        output_final_states=True,
        progress=False,
    )
    assert summary.metrics == {"accuracy": 0.5}
    assert [r.outputs for r in summary.results.values()] == [{"output": "abc"}] * 2
    assert list(summary.final_states) == ["q1", "q2"]
    assert summary.final_states["q1"].updates == ["a", "b", "c"]


def test_tutorial_llm_critic() -> None:
    # tutorial.ipynb: metric_functions={'accuracy': ot.naive_evaluation_critic}. The fake
    # judges the last prediction of the critic's prompt, whatever the chat formatting.
    FakeBackend(
        regex_replies=[
            (
                r"(?s)Predicted answer: Kahn and Cerf(?!.*Predicted answer)",
                "yes\nReason: the same two people.",
            ),
            (
                r"(?s)Predicted answer: 1776-07-04(?!.*Predicted answer)",
                "**No**\nReason: a different day.",
            ),
        ],
        default_reply="Kahn and Cerf",
    ).register()

    @ot.make_executable
    async def strategy(question: str, **_: Any) -> str:
        answer = await llm.generate_text(f"Question: {question} ?\nAnswer (concise):")
        return "1776-07-04" if "date" in question else answer.strip()

    dataset = [
        {"question": "Who developed TCP/IP?", "answer": "Bob Kahn and Vint Cerf"},
        {"question": "What date was it signed?", "answer": "8/2/1776"},
    ]
    summary = ot.evaluate(
        strategy=strategy,
        examples=dataset,
        metric_functions={"accuracy": ot.naive_evaluation_critic},
        output_results=True,
        output_results_debug=True,
        output_final_states=True,
    )
    assert summary.metrics == {"accuracy": 0.5}
    first, second = summary.results.values()
    assert first.inputs["question"] == "Who developed TCP/IP?"
    assert first.info["critic_golden_answer"] == "Bob Kahn and Vint Cerf"
    assert first.info["critic_candidate_answer"] == "Kahn and Cerf"
    assert (first.info["critic_answer_is_correct"], first.info["critic_reason"]) == (
        1.0,
        "the same two people.",
    )
    assert second.info["critic_reason"] == "a different day."
    prompt = first.info["critic_prompt"]
    assert isinstance(prompt, list) and all(isinstance(m, Message) for m in prompt)
    assert "Who developed TCP/IP?" in "".join(str(m.content) for m in prompt)


def test_fuzzy_critic_scores_and_both_critics_refuse_what_they_cannot_read() -> None:
    FakeBackend(
        regex_replies=[
            (
                r"(?s)Predicted answer: Truman(?!.*Predicted answer)",
                "0.9\nReason: the first name is missing.",
            )
        ],
        default_reply="I cannot say.",
    ).register()
    example = {"question": "Which president?", "answer": "Harry S. Truman"}
    score, info = ot.run(
        ot.naive_fuzzy_evaluation_critic("Harry S. Truman", "Truman", example=example)
    )
    assert (score, info["critic_reason"]) == (0.9, "the first name is missing.")
    with pytest.raises(ValueError, match=r"no score in the model's reply: 'I cannot say\.'"):
        ot.run(ot.naive_fuzzy_evaluation_critic("x", "y", example=example))
    with pytest.raises(ValueError, match="neither yes nor no"):
        ot.run(ot.naive_evaluation_critic("x", "y", example=example))
    with pytest.raises(ValueError, match=r"reads example\['question'\], got no example"):
        ot.run(ot.naive_evaluation_critic("x", "y"))
    summary = ot.evaluate(
        identity,
        [{"q": "a", "answer": "a"}],
        inputs_extractor=lambda x: x["q"],
        metric_functions={"critic": evaluation.naive_evaluation_critic},
        progress=False,
    )
    (failed,) = summary.errors  # recorded on the example, not raised
    assert "example with keys ['answer', 'q']" in str(failed.error)


def test_examples_from_a_generator_are_consumed_as_they_run() -> None:
    read: list[int] = []

    def examples() -> Any:
        for i in range(250):
            read.append(i)
            yield {"question": str(i), "answer": str(i)}

    started: list[int] = []

    @ot.make_executable
    async def strategy(question: str) -> str:
        started.append(len(read))
        return question

    summary = ot.evaluate(
        strategy,
        examples(),
        metric_functions={"accuracy": accuracy},
        examples_total_num=250,
        chunk_size=10,
        progress=False,
    )
    assert summary.metrics == {"accuracy": 1.0} and summary.counters["total_count"] == 250
    assert started[0] < 250  # the first example ran before the last was read
