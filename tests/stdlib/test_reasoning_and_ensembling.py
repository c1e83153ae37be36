"""chain_of_thought and self_consistency on the scripted FakeBackend."""

from __future__ import annotations

from typing import Any

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.core.sampling import current_sampling_key
from onetwo.stdlib.ensembling.self_consistency import (
    ExtractConsensus,
    SelfConsistency,
    select_first_highest_scoring_output,
)
from onetwo.stdlib.reasoning.chain_of_thought import (
    QA_COT_EXEMPLARS_ORIGINAL_MATH_WORD_PROBLEMS,
    CoTReply,
    QACoTPromptChat,
    QACoTPromptWithAnswerParserChat,
    default_cot_parse_answer,
)


def test_chain_of_thought_asks_for_reasoning_then_the_answer() -> None:
    backend = FakeBackend(
        regex_replies=[(r"Final answer:\n\*\*Model\*\*:$", " 5"), (r"Reasoning:", " 3 + 2 = 5.")]
    )
    backend.register()
    cot = QACoTPromptChat(exemplars=QA_COT_EXEMPLARS_ORIGINAL_MATH_WORD_PROBLEMS[:1])
    reply = ot.run(cot("Tom has 3 pens and buys 2. How many?"))
    assert reply == CoTReply(reasoning="3 + 2 = 5.", answer="5")
    assert len(backend.prompts) == 2
    assert "4 * 6 = 24" in backend.prompts[0]  # the exemplar's reasoning is shown
    assert backend.prompts[1].endswith("3 + 2 = 5.\n**User**: Final answer:\n**Model**:")


def test_the_answer_parser_variant() -> None:
    FakeBackend(default_reply="A: 3 + 2 = 5. The answer is 5.").register()
    reply = ot.run(QACoTPromptWithAnswerParserChat()("Tom has 3 pens and buys 2. How many?"))
    assert reply == CoTReply(reasoning="3 + 2 = 5.", answer="5")
    assert default_cot_parse_answer("no phrase\nlast line") == CoTReply(
        reasoning="no phrase\nlast line", answer="last line"
    )


def test_self_consistency_votes_over_independent_samples() -> None:
    answers = ["5", "6", "5", "5", "7"]

    def reply(prompt: str, **_: Any) -> str:
        return f"The answer is {answers[int(current_sampling_key() or 0)]}."

    backend = FakeBackend(default_reply=reply)
    backend.register()
    cot = QACoTPromptWithAnswerParserChat()
    sc = SelfConsistency(sampler=cot, bucketizer=lambda r: r.answer, num_samples=5)
    distribution = ot.run(sc("q"))
    assert [(r.answer, p) for r, p in distribution] == [("5", 0.6), ("6", 0.2), ("7", 0.2)]
    assert len(backend.prompts) == 5
    assert ot.run(ExtractConsensus(sc)("q")).answer == "5"


def test_filters_and_scores_shape_the_distribution() -> None:
    answers = ["5", "6", "x"]
    FakeBackend(
        default_reply=lambda p, **_: f"The answer is {answers[int(current_sampling_key() or 0)]}."
    ).register()
    sc = SelfConsistency(
        sampler=QACoTPromptWithAnswerParserChat(),
        num_samples=3,
        output_filter=lambda r: r.answer.isdigit(),
        scorer=lambda args, kwargs, r: 3.0 if r.answer == "6" else 1.0,
        bucketizer=lambda r: r.answer,
    )
    assert [(r.answer, p) for r, p in ot.run(sc("q"))] == [("6", 0.75), ("5", 0.25)]
    empty = SelfConsistency(
        sampler=QACoTPromptWithAnswerParserChat(), output_filter=lambda r: False
    )
    assert ot.run(ExtractConsensus(empty)("q")) is None


def test_an_async_scorer_votes_and_a_none_score_leaves_an_output_out() -> None:
    # The reference's tutorial weighs votes with a model-based verifier (async).
    answers = ["5", "6", "5", "7"]
    FakeBackend(
        default_reply=lambda p, **_: f"The answer is {answers[int(current_sampling_key() or 0)]}."
    ).register()

    async def verifier(args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> Any:
        assert args == ("q",) and kwargs == {}
        return {"5": 1.0, "6": 2.0}.get(output.answer)  # "7": None, not counted

    sc = SelfConsistency(
        sampler=QACoTPromptWithAnswerParserChat(),
        num_samples=4,
        scorer=verifier,
        bucketizer=lambda r: r.answer,
    )
    assert [(r.answer, p) for r, p in ot.run(sc("q"))] == [("5", 0.5), ("6", 0.5)]


def test_the_representative_selector_takes_the_bucket_as_the_reference_does() -> None:
    answers = ["5", "5", "6"]
    FakeBackend(
        default_reply=lambda p, **_: (
            f"Step {current_sampling_key()}. The answer is "
            f"{answers[int(current_sampling_key() or 0)]}."
        )
    ).register()
    seen: list[Any] = []

    async def last_of_bucket(bucket: Any, predictions_with_scores: list[tuple[Any, float]]) -> Any:
        seen.append(bucket)
        return predictions_with_scores[-1][0]

    sc = SelfConsistency(
        sampler=QACoTPromptWithAnswerParserChat(),
        num_samples=3,
        bucketizer=lambda r: r.answer,
        representative_output_selector=last_of_bucket,
    )
    distribution = ot.run(sc("q"))
    assert seen == ["5", "6"]
    unhashable: list[Any] = []

    def first_of_bucket(bucket: Any, predictions_with_scores: list[tuple[Any, float]]) -> Any:
        unhashable.append(bucket)
        return predictions_with_scores[0][0]

    by_list = SelfConsistency(
        sampler=QACoTPromptWithAnswerParserChat(),
        num_samples=3,
        bucketizer=lambda r: [r.answer],
        representative_output_selector=first_of_bucket,
    )
    assert len(ot.run(by_list("q"))) == 2 and unhashable == [["5"], ["6"]]  # not their repr
    assert [r.answer for r, _ in distribution] == ["5", "6"]
    assert distribution[0][0].reasoning.startswith("Step 1.")  # the bucket's last output
    assert select_first_highest_scoring_output("b", [("x", 1.0), ("y", 2.0), ("z", 2.0)]) == "y"
    assert select_first_highest_scoring_output("b", []) is None


def test_zero_votes_are_returned_unnormalized_not_dropped() -> None:
    FakeBackend(default_reply="The answer is 5.").register()
    sc = SelfConsistency(
        sampler=QACoTPromptWithAnswerParserChat(),
        num_samples=2,
        scorer=lambda a, k, o: 0.0,
        bucketizer=lambda r: r.answer,
    )
    assert [(r.answer, p) for r, p in ot.run(sc("q"))] == [("5", 0.0)]
    assert ot.run(ExtractConsensus(sc)("q")).answer == "5"
