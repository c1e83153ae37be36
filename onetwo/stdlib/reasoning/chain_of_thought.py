"""Chain of thought: ask for the reasoning, then for the answer that follows from it.

Each strategy is a small dataclass (the configuration) called with a question; the call
is a lazy executable returning a :class:`CoTReply` (``reasoning`` and ``answer``).

* :class:`QACoTPromptChat`: two chat turns (``llm.chat``): the reasoning, then the
  final answer; works on every backend (text-only ones format the chat).
* :class:`QACoTPromptWithAnswerParserChat`: one turn ending "The answer is ...", parsed
  by ``answer_parser`` (default :func:`default_cot_parse_answer`).

Example:
    >>> cot = QACoTPromptChat(exemplars=QA_COT_EXEMPLARS_ORIGINAL_MATH_WORD_PROBLEMS)
    >>> reply = ot.run(cot("Tom has 3 pens and buys 2 more. How many pens?"))  # doctest: +SKIP
    >>> reply.answer  # doctest: +SKIP
    '5'
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from typing import Any

from onetwo.builtins import llm
from onetwo.core import tracing
from onetwo.core.content import Message, PredefinedRole
from onetwo.core.executing import make_executable

__all__ = [
    "QA_COT_EXEMPLARS_ORIGINAL_MATH_WORD_PROBLEMS",
    "CoTReply",
    "QACoTExemplar",
    "QACoTPromptChat",
    "QACoTPromptWithAnswerParserChat",
    "default_cot_parse_answer",
]


@dataclasses.dataclass
class CoTReply:
    """A chain-of-thought result: the reasoning and the answer it led to."""

    reasoning: Any
    answer: Any


@dataclasses.dataclass
class QACoTExemplar:
    """A worked example: a question, its reasoning and its answer."""

    question: str
    answer: Any
    reasoning: Any


QA_COT_EXEMPLARS_ORIGINAL_MATH_WORD_PROBLEMS = [
    QACoTExemplar(
        question="A baker makes 4 trays of 6 rolls and sells 10 rolls. How many are left?",
        reasoning="4 trays of 6 rolls is 4 * 6 = 24 rolls. Selling 10 leaves 24 - 10 = 14.",
        answer="14",
    ),
    QACoTExemplar(
        question="Ana reads 12 pages a day. How many days does a 60-page book take her?",
        reasoning="At 12 pages a day, 60 pages take 60 / 12 = 5 days.",
        answer="5",
    ),
]

_USER, _MODEL = PredefinedRole.USER, PredefinedRole.MODEL
_Exemplars = Sequence[QACoTExemplar]


def _exemplar_turns(exemplars: _Exemplars, instruction: str | None) -> list[Message]:
    messages = [Message(_USER, instruction.rstrip() + "\n")] if instruction else []
    for e in exemplars:
        messages += [
            Message(_USER, f"Question: {e.question}\nReasoning:"),
            Message(_MODEL, str(e.reasoning).strip()),
            Message(_USER, "Final answer:"),
            Message(_MODEL, str(e.answer).strip()),
        ]
    return messages


@dataclasses.dataclass
class QACoTPromptChat:
    """Reasoning, then the final answer, in two chat turns.

    Attributes:
        instruction: an optional first user message.
        exemplars: worked examples shown as earlier turns.
    """

    instruction: str | None = None
    exemplars: _Exemplars = ()

    @make_executable
    @tracing.trace(name="QACoTPromptChat")
    async def __call__(self, question: str, exemplars: _Exemplars | None = None) -> CoTReply:
        messages = _exemplar_turns(
            self.exemplars if exemplars is None else exemplars, self.instruction
        )
        messages.append(Message(_USER, f"Question: {question}\nReasoning:"))
        reasoning = str(await llm.chat(messages, stop=["\nFinal", "\nAnswer", "\nQuestion:"]))
        messages += [Message(_MODEL, reasoning.strip()), Message(_USER, "Final answer:")]
        answer = str(await llm.chat(messages, stop=["\nQuestion:"]))
        return CoTReply(reasoning=reasoning.strip(), answer=answer.strip())


def default_cot_parse_answer(reasoning_and_answer: str) -> CoTReply:
    """Split "... The answer is X." into reasoning and answer (case-insensitive).

    Without such a phrase, the whole text is the reasoning and the answer is its last
    line.
    """
    match = None
    for m in re.finditer(r"(?:the )?answer is[:\s]*", reasoning_and_answer, re.I):
        match = m
    if match is None:
        lines = reasoning_and_answer.strip().splitlines() or [""]
        return CoTReply(reasoning=reasoning_and_answer.strip(), answer=lines[-1].strip())
    answer = reasoning_and_answer[match.end() :].strip().splitlines()
    return CoTReply(
        reasoning=reasoning_and_answer[: match.start()].strip(),
        answer=(answer[0] if answer else "").strip().rstrip("."),
    )


@dataclasses.dataclass
class QACoTPromptWithAnswerParserChat:
    """One chat turn, "reasoning... The answer is X.", parsed into a ``CoTReply``.

    Attributes:
        instruction: an optional first user message.
        answer_parser: turns the reply into a ``CoTReply``.
        exemplars: worked examples, shown in the same one-turn form.
    """

    instruction: str | None = None
    answer_parser: Callable[[str], CoTReply] = default_cot_parse_answer
    exemplars: _Exemplars = ()

    @make_executable
    @tracing.trace(name="QACoTPromptWithAnswerParserChat")
    async def __call__(self, question: str, exemplars: _Exemplars | None = None) -> CoTReply:
        messages = [Message(_USER, self.instruction.rstrip())] if self.instruction else []
        for e in self.exemplars if exemplars is None else exemplars:
            messages += [
                Message(_USER, f"Q: {e.question}"),
                Message(_MODEL, f"A: {str(e.reasoning).strip()} The answer is {e.answer}."),
            ]
        messages.append(Message(_USER, f"Q: {question}"))
        reply = str(await llm.chat(messages, stop=["\nQ:"]))
        return self.answer_parser(reply.strip().removeprefix("A:").strip())
