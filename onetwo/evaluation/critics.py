"""LLM judges as metric functions: is a prediction the same answer as the target?

:func:`naive_evaluation_critic` asks the model (``llm.chat``) for a yes/no verdict and a
reason, :func:`naive_fuzzy_evaluation_critic` for a score in [0, 1]. Both take the question
from the example (``example["question"]``), return ``(value, info)`` and fit
``metric_functions`` directly; ``info`` carries ``critic_reason``, ``critic_prompt``
(the messages sent), ``critic_golden_answer``, ``critic_candidate_answer`` and
``critic_answer_is_correct``, the keys OneTwo's critics use.

Example:
    >>> critic = {"accuracy": ot.naive_evaluation_critic}
    >>> summary = ot.evaluate(strategy, examples, metric_functions=critic)  # doctest: +SKIP
    >>> summary.results[0].info["critic_reason"]  # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from onetwo.builtins import llm
from onetwo.core.content import Message, PredefinedRole
from onetwo.core.executing import make_executable

__all__ = ["naive_evaluation_critic", "naive_fuzzy_evaluation_critic"]

_VERDICT = (
    "You grade answers. Given a question, the expected answer and a predicted answer, "
    "say whether the prediction gives the same answer as the expected one for this "
    "question (wording, units and precision may differ). Reply with yes or no on the "
    "first line, then a line starting with 'Reason:'."
)
_VERDICT_SHOTS = [
    ("How many legs does a spider have?", "8", "eight legs", "yes\nReason: eight is 8."),
    (
        "What is the boiling point of water at sea level in Celsius?",
        "100",
        "212",
        "no\nReason: 212 is the boiling point in Fahrenheit, not Celsius.",
    ),
]
_SCORE = (
    "You grade answers. Given a question, the expected answer and a predicted answer, "
    "score from 0.0 to 1.0 how well the prediction matches the expected answer in meaning "
    "for this question: 1.0 the same answer, about 0.5 partly right or incomplete, 0.0 "
    "unrelated or wrong. Reply with the score on the first line, then a line starting "
    "with 'Reason:'."
)
_SCORE_SHOTS = [
    ("Who wrote Hamlet?", "William Shakespeare", "Shakespeare", "0.9\nReason: the surname only."),
    (
        "Name the primary colours of light.",
        "red, green and blue",
        "red and blue",
        "0.6\nReason: one of the three colours is missing.",
    ),
    ("What is the capital of Peru?", "Lima", "Cusco", "0.0\nReason: a different city."),
]
_REASON = re.compile(r"\n\s*\**reason:?\**:?\s*", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _turn(question: Any, target: Any, prediction: Any) -> str:
    return f"Question: {question}\nExpected answer: {target}\nPredicted answer: {prediction}"


def _messages(
    instruction: str,
    shots: list[tuple[str, str, str, str]],
    question: Any,
    target: Any,
    prediction: Any,
) -> list[Message]:
    messages = [Message(PredefinedRole.SYSTEM, instruction)]
    for shot_question, shot_target, shot_prediction, reply in shots:
        messages.append(
            Message(PredefinedRole.USER, _turn(shot_question, shot_target, shot_prediction))
        )
        messages.append(Message(PredefinedRole.MODEL, reply))
    messages.append(Message(PredefinedRole.USER, _turn(question, target, prediction)))
    return messages


def _question_of(example: Mapping[str, Any] | None, question_key: str, critic: str) -> Any:
    if not isinstance(example, Mapping) or question_key not in example:
        got = "no example" if example is None else f"an example with keys {sorted(example)}"
        raise ValueError(
            f"{critic} needs the question: it reads example[{question_key!r}], got {got}. "
            f"Pass question_key='...' (e.g. functools.partial({critic}, question_key='q'))."
        )
    return example[question_key]


def _verdict(reply: str, rating: str) -> float:
    """1.0 for a yes, 0.0 for a no (the first of them, or the only one)."""
    words = re.findall(r"[a-z]+", rating)
    if words and words[0] in ("yes", "no"):
        return float(words[0] == "yes")
    if ("yes" in words) != ("no" in words):
        return float("yes" in words)
    raise ValueError(
        f"naive_evaluation_critic: the model's reply starts with neither yes nor no: "
        f"{reply!r:.200}. Use a model that follows instructions, or a custom metric."
    )


def _score(reply: str, rating: str) -> float:
    """The first number of the rating, clipped to [0, 1]."""
    numbers = _NUMBER.findall(rating)
    if numbers:
        return min(1.0, max(0.0, float(numbers[0])))
    raise ValueError(
        f"naive_fuzzy_evaluation_critic: no score in the model's reply: {reply!r:.200}. "
        "Use a model that follows instructions, or a custom metric."
    )


_ARGS = """

    Args:
        target: the expected answer.
        prediction: the strategy's answer.
        example: the example; its ``question_key`` field is the question.
        question_key: where the question is in the example.

    Returns:
        ``(value, info)``; ``info["critic_reason"]`` is the model's reason.

    Raises:
        ValueError: the example has no question, or the reply cannot be read.
    """


def _critic(
    name: str,
    instruction: str,
    shots: list[tuple[str, str, str, str]],
    read: Callable[[str, str], float],
    summary: str,
) -> Any:
    """A critic: asks the model with ``instruction`` and ``shots``, reads the reply with
    ``read(reply, rating line)``."""

    async def critic(
        target: Any,
        prediction: Any,
        example: Mapping[str, Any] | None = None,
        question_key: str = "question",
    ) -> tuple[float, dict[str, Any]]:
        question = _question_of(example, question_key, name)
        messages = _messages(instruction, shots, question, target, prediction)
        reply = str(await llm.chat(messages, stop=["\nQuestion:"])).strip()
        rating, *reason = _REASON.split(reply, maxsplit=1)
        value = read(reply, rating.lower())
        return value, {
            "critic_golden_answer": target,
            "critic_candidate_answer": prediction,
            "critic_answer_is_correct": value,
            "critic_reason": reason[0].split("\n\n")[0].strip() if reason else "",
            "critic_prompt": messages,
        }

    critic.__name__ = critic.__qualname__ = name
    critic.__doc__ = summary + _ARGS
    return make_executable(critic)


naive_evaluation_critic = _critic(
    "naive_evaluation_critic",
    _VERDICT,
    _VERDICT_SHOTS,
    _verdict,
    "1.0 if the model judges ``prediction`` the same answer as ``target``, else 0.0.",
)
naive_fuzzy_evaluation_critic = _critic(
    "naive_fuzzy_evaluation_critic",
    _SCORE,
    _SCORE_SHOTS,
    _score,
    "The model's score in [0.0, 1.0] of how well ``prediction`` matches ``target``.",
)
