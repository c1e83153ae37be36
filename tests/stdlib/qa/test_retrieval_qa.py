"""Retrieval QA: the notebook's RetrieveAndSummarize (cell 37) on the FakeBackend."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.stdlib.qa import qa, retrieval_qa
from onetwo.stdlib.retrieval import indexing, retrieval
from onetwo.stdlib.retrieval.retrieval_data_structures import Document
from tests.stdlib.retrieval.conftest import word_counts


@dataclasses.dataclass
class RetrieveAndSummarize(retrieval_qa.SimpleRetrievalQAStrategy):
    """Cell 37, shortened: retrieve, quote the documents, ask the model."""

    max_results: int | None = None

    @ot.make_executable(copy_self=False, non_copied_args=["retriever"])
    async def __call__(self, question: str, retriever: retrieval.Retriever[str, Document]) -> str:
        docs = await retriever.retrieve(question, max_results=self.max_results)
        context = "\n\n".join(f"Document {i}:\n{d.content}" for i, d in enumerate(docs))
        reply: str = await llm.instruct(f"Context:\n{context}\n\nQuestion: {question}\nAnswer:")
        return reply


@dataclasses.dataclass(eq=False)
class RecordingIndex(indexing.NaiveIndex):
    """A naive index that notes the queries it was asked."""

    asked: list[str] = dataclasses.field(default_factory=list)

    @ot.make_executable(copy_self=False)
    async def retrieve(
        self, query: str, *, max_results: int | None = None, **kwargs: Any
    ) -> list[Document]:
        self.asked.append(query)
        return self.docs[:max_results]


def _index() -> RecordingIndex:
    return RecordingIndex(
        docs=[
            Document(doc_id="monkey", content="Monkeys often live in trees."),
            Document(doc_id="lion", content="Lions live in prides."),
        ]
    )


def test_the_strategy_quotes_what_the_retriever_found() -> None:
    backend = FakeBackend(default_reply="In trees.")
    backend.register()
    index = _index()
    answer = ot.run(RetrieveAndSummarize(max_results=1)("Where do monkeys live?", index))
    assert answer == "In trees."
    assert index.asked == ["Where do monkeys live?"]
    [prompt] = backend.prompts
    assert "Document 0:\nMonkeys often live in trees." in prompt
    assert "Lions" not in prompt
    assert "Question: Where do monkeys live?\nAnswer:" in prompt


def test_a_copy_of_the_call_shares_the_retriever() -> None:
    FakeBackend(default_reply="ok").register()
    index = _index()
    call = RetrieveAndSummarize()("q", index)
    assert ot.run(copy.deepcopy(call)) == "ok"
    assert index.asked == ["q"]  # the copy asked the very index given, not a copy of it


def test_the_simple_strategies_must_be_subclassed() -> None:
    with pytest.raises(TypeError, match="abstract"):
        retrieval_qa.SimpleRetrievalQAStrategy()  # type: ignore[abstract]
    with pytest.raises(TypeError, match="abstract"):
        qa.SimpleQAStrategy()  # type: ignore[abstract]
    with pytest.raises(TypeError, match="abstract"):
        qa.SimpleContextualQAStrategy()  # type: ignore[abstract]


def test_a_contextual_strategy_answers_from_given_documents() -> None:
    backend = FakeBackend(default_reply="prides")
    backend.register()

    class FromDocs(qa.SimpleContextualQAStrategy):
        @ot.make_executable(copy_self=False)
        async def __call__(self, question: str, docs: list[Document]) -> str:
            reply: str = await llm.generate_text(f"{docs[0].text}\n{question}")
            return reply

    docs = _index().docs[1:]
    assert ot.run(FromDocs()("How do lions live?", docs)) == "prides"
    assert backend.prompts == ["Lions live in prides.\nHow do lions live?"]


def test_qa_examples_hold_a_question_its_answer_and_documents() -> None:
    example = qa.ContextualQAExample(question="Q?", answer="A", docs=_index().docs)
    assert (example.question, example.answer, example.metadata) == ("Q?", "A", {})
    assert [d.doc_id for d in example.docs] == ["monkey", "lion"]
    assert qa.QAExample().answer is None


@dataclasses.dataclass
class NotebookRetrieveAndSummarize(retrieval_qa.SimpleRetrievalQAStrategy):
    """Cell 37 as the notebook writes it (printing the documents it retrieved)."""

    print_retrieved_docs: bool = False
    max_results: int | None = None

    @ot.make_executable(copy_self=False, non_copied_args=["retriever"])
    async def __call__(self, question: str, retriever: retrieval.Retriever[str, Document]) -> str:
        docs = await retriever.retrieve(question, max_results=self.max_results)
        if self.print_retrieved_docs:
            print(f"Retrieved {len(docs)} documents:")
            for i, d in enumerate(docs):
                print(f"--- Document {i} ---")
                print(d.content)
        context = "\n\n".join([f"Document {i}:\n{d.content}" for i, d in enumerate(docs)])
        reply: str = await llm.instruct(f"Context:\n{context}\n\nQuestion: {question}\nAnswer:")
        return reply


def test_the_hotpot_cells_index_documents_and_answer_through_a_wrapper(
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend = FakeBackend(default_reply="The elephant.")
    backend.register()
    llm.embed.configure(word_counts)  # after register(), which binds the fake's own embed
    documents = [
        Document(doc_id=title, title=title, content=f"{title} facts: {text}")
        for title, text in [
            ("Elephant", "the largest land animal, with a trunk"),
            ("Lion", "lives in prides"),
            ("Monkey", "lives in a tree"),
        ]
    ]
    hotpot_index = indexing.EmbeddingBasedDocumentIndex()  # cell 57
    ot.run(hotpot_index.add_docs(documents))
    strategy = NotebookRetrieveAndSummarize(print_retrieved_docs=True, max_results=2)  # cell 59
    assert ot.run(strategy("Which is the largest land animal?", hotpot_index)) == "The elephant."
    printed = capsys.readouterr().out
    assert printed.startswith("Retrieved 2 documents:\n--- Document 0 ---\nElephant facts:")

    @ot.make_executable
    async def qa_wrapper(question: str) -> str:  # cell 61
        quiet = NotebookRetrieveAndSummarize(print_retrieved_docs=False, max_results=5)
        answer: str = await quiet(question, hotpot_index)
        return answer

    assert ot.run(ot.par_iter(qa_wrapper(q) for q in ["lion prides?", "monkey tree?"])) == [
        "The elephant.",
        "The elephant.",
    ]
    assert capsys.readouterr().out == ""
    concurrent = backend.prompts[1:]  # the two runs rank on pool threads: either first
    assert any("Document 0:\nLion facts: lives in prides" in p for p in concurrent)
    assert any("Document 0:\nMonkey facts: lives in a tree" in p for p in concurrent)
