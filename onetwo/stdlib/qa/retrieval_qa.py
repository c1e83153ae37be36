"""QA strategies that find their context with a retriever, then answer from it.

A :class:`RetrievalQAStrategy` is called with the question and the retriever to use,
``strategy(question, index)``, so one strategy serves several corpora. The retriever is
shared, never copied, when the executable is (``non_copied_args=["retriever"]``): an
index is a large, shared resource. Subclass :class:`SimpleRetrievalQAStrategy` and
implement ``__call__`` with the same decorator.

Example:
    >>> import dataclasses
    >>> from onetwo import ot
    >>> from onetwo.backends.fake import FakeBackend
    >>> from onetwo.builtins import llm
    >>> from onetwo.stdlib.retrieval import indexing
    >>> from onetwo.stdlib.retrieval.retrieval_data_structures import Document
    >>> FakeBackend(default_reply="In trees.").register()
    >>> @dataclasses.dataclass
    ... class RetrieveThenAnswer(SimpleRetrievalQAStrategy):
    ...     @ot.make_executable(copy_self=False, non_copied_args=["retriever"])
    ...     async def __call__(self, question, retriever):
    ...         docs = await retriever.retrieve(question, max_results=2)
    ...         context = "\\n".join(d.text for d in docs)
    ...         return await llm.generate_text(f"{context}\\nQ: {question}\\nA:")
    >>> index = indexing.NaiveIndex(docs=[Document(content="Monkeys live in trees.")])
    >>> ot.run(RetrieveThenAnswer()("Where do monkeys live?", index))
    'In trees.'
"""

from __future__ import annotations

import abc
from typing import Generic

from onetwo.core.executable import make_executable
from onetwo.stdlib.qa.qa import AnswerT, QuestionT
from onetwo.stdlib.retrieval.retrieval import RetrievalResultT, Retriever
from onetwo.stdlib.retrieval.retrieval_data_structures import Document

__all__ = ["RetrievalQAStrategy", "SimpleRetrievalQAStrategy"]


class RetrievalQAStrategy(abc.ABC, Generic[QuestionT, AnswerT, RetrievalResultT]):
    """A strategy that answers a question with the help of a retriever."""

    @abc.abstractmethod
    @make_executable(copy_self=False, non_copied_args=["retriever"])
    async def __call__(
        self, question: QuestionT, retriever: Retriever[QuestionT, RetrievalResultT]
    ) -> AnswerT:
        """The answer to ``question``, from what ``retriever`` finds."""


class SimpleRetrievalQAStrategy(RetrievalQAStrategy[str, str, Document]):
    """A :class:`RetrievalQAStrategy` from a text question, over documents, to a text answer.

    Subclasses implement ``__call__``; this class cannot be used as it is.
    """
