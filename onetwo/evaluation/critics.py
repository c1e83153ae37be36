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
from collections.abc import Mapping
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


async def _judge(messages: list[Message]) -> tuple[str, str, str]:
    """The model's reply (stripped), its rating part (lower case) and its reason."""
    reply = str(await llm.chat(messages, stop=["\nQuestion:"])).strip()
    rating, *reason = _REASON.split(reply, maxsplit=1)
    return reply, rating.lower(), reason[0].split("\n\n")[0].strip() if reason else ""


def _info(
    target: Any, prediction: Any, value: float, reason: str, messages: list[Message]
) -> dict[str, Any]:
    return {
        "critic_golden_answer": target,
        "critic_candidate_answer": prediction,
        "critic_answer_is_correct": value,
        "critic_reason": reason,
        "critic_prompt": messages,
    }


@make_executable
async def naive_evaluation_critic(
    target: Any,
    prediction: Any,
    example: Mapping[str, Any] | None = None,
    question_key: str = "question",
) -> tuple[float, dict[str, Any]]:
    """1.0 if the model judges ``prediction`` the same answer as ``target``, else 0.0.

    Args:
        target: the expected answer.
        prediction: the strategy's answer.
        example: the example; its ``question_key`` field is the question.
        question_key: where the question is in the example.

    Returns:
        ``(1.0 or 0.0, info)``; ``info["critic_reason"]`` is the model's reason.

    Raises:
        ValueError: the example has no question, or the reply says neither yes nor no.
    """
    question = _question_of(example, question_key, "naive_evaluation_critic")
    messages = _messages(_VERDICT, _VERDICT_SHOTS, question, target, prediction)
    reply, rating, reason = await _judge(messages)
    words = re.findall(r"[a-z]+", rating)
    first = words[0] if words else ""
    if first in ("yes", "no"):
        value = float(first == "yes")
    elif ("yes" in words) != ("no" in words):
        value = float("yes" in words)
    else:
        raise ValueError(
            f"naive_evaluation_critic: the model's reply starts with neither yes nor no: "
            f"{reply!r:.200}. Use a model that follows instructions, or a custom metric."
        )
    return value, _info(target, prediction, value, reason, messages)


@make_executable
async def naive_fuzzy_evaluation_critic(
    target: Any,
    prediction: Any,
    example: Mapping[str, Any] | None = None,
    question_key: str = "question",
) -> tuple[float, dict[str, Any]]:
    """The model's score in [0.0, 1.0] of how well ``prediction`` matches ``target``.

    Args:
        target: the expected answer.
        prediction: the strategy's answer.
        example: the example; its ``question_key`` field is the question.
        question_key: where the question is in the example.

    Returns:
        ``(score, info)``, the score clipped to [0, 1]; ``info["critic_reason"]`` is the
        model's reason.

    Raises:
        ValueError: the example has no question, or the reply holds no number.
    """
    question = _question_of(example, question_key, "naive_fuzzy_evaluation_critic")
    messages = _messages(_SCORE, _SCORE_SHOTS, question, target, prediction)
    reply, rating, reason = await _judge(messages)
    number = _NUMBER.search(rating)
    if number is None:
        raise ValueError(
            f"naive_fuzzy_evaluation_critic: no score in the model's reply: {reply!r:.200}. "
            "Use a model that follows instructions, or a custom metric."
        )
    value = min(1.0, max(0.0, float(number.group())))
    return value, _info(target, prediction, value, reason, messages)
