"""Question answering: the interfaces a QA strategy implements, and its examples.

A :class:`QAStrategy` answers a question from what the model knows; a
:class:`ContextualQAStrategy` answers it from documents given with the question (found
beforehand, e.g. by a retriever). Both are called, ``strategy(question)``, for an
executable of the answer; :class:`QAExample` is one question with its gold answer, for
evaluations and few-shot exemplars.

Example:
    >>> import dataclasses
    >>> from onetwo import ot
    >>> from onetwo.backends.fake import FakeBackend
    >>> from onetwo.builtins import llm
    >>> FakeBackend(default_reply="Paris").register()
    >>> @dataclasses.dataclass
    ... class AskTheModel(SimpleQAStrategy):
    ...     @ot.make_executable(copy_self=False)
    ...     async def __call__(self, question: str) -> str:
    ...         return await llm.generate_text(f"Q: {question}\\nA:")
    >>> ot.run(AskTheModel()("Capital of France?"))
    'Paris'
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from onetwo.core.content import ChunkList
from onetwo.core.executable import make_executable
from onetwo.stdlib.retrieval.retrieval import DocT
from onetwo.stdlib.retrieval.retrieval_data_structures import Document

__all__ = [
    "AnswerT",
    "ContextualQAExample",
    "ContextualQAStrategy",
    "DocT",
    "QAExample",
    "QAStrategy",
    "QuestionT",
    "SimpleContextualQAStrategy",
    "SimpleQAStrategy",
]

QuestionT = TypeVar("QuestionT")  # a str, or e.g. a ChunkList with an image
AnswerT = TypeVar("AnswerT")  # a str, or a structured reply


class QAStrategy(abc.ABC, Generic[QuestionT, AnswerT]):
    """A strategy that answers a question: ``answer = await strategy(question)``."""

    @abc.abstractmethod
    @make_executable(copy_self=False)
    async def __call__(self, question: QuestionT) -> AnswerT:
        """The answer to ``question``."""


class ContextualQAStrategy(abc.ABC, Generic[QuestionT, AnswerT, DocT]):
    """A strategy that answers a question from documents given with it."""

    @abc.abstractmethod
    @make_executable(copy_self=False)
    async def __call__(self, question: QuestionT, docs: Sequence[DocT]) -> AnswerT:
        """The answer to ``question``, grounded in ``docs``."""


class SimpleQAStrategy(QAStrategy[str, str]):
    """A :class:`QAStrategy` from a text question to a text answer.

    Subclasses implement ``__call__``; this class cannot be used as it is.
    """


class SimpleContextualQAStrategy(ContextualQAStrategy[str, str, Document]):
    """A :class:`ContextualQAStrategy` from a text question and documents to a text answer.

    Subclasses implement ``__call__``; this class cannot be used as it is.
    """


@dataclasses.dataclass(kw_only=True)
class QAExample:
    """A question with its gold answer (an evaluation example, or a few-shot exemplar).

    Attributes:
        question: the question.
        answer: the gold answer.
        metadata: anything else about the example (keep it to JSON values to save it).
    """

    question: str | ChunkList = ""
    answer: Any = None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(kw_only=True)
class ContextualQAExample(QAExample):
    """A :class:`QAExample` with the documents to answer it from.

    Attributes:
        docs: the context documents.
    """

    docs: list[Document] = dataclasses.field(default_factory=list)
