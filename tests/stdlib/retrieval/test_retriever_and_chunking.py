"""Retriever, chunkers, document formatters and corpus rewriters, as the notebook uses them."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest

from onetwo import ot
from onetwo.builtins import llm
from onetwo.errors import FormatError, InvalidArgumentError
from onetwo.stdlib.retrieval import chunking, corpus_rewriting, document_formatting, retrieval
from onetwo.stdlib.retrieval.retrieval_data_structures import (
    METADATA_FIELD_CHUNK_NUMBER,
    METADATA_FIELD_ORIGINAL_DOC_ID,
    METADATA_FIELD_TOTAL_NUMBER_OF_CHUNKS,
    Document,
)


@dataclasses.dataclass
class DictRetriever(retrieval.Retriever[str, str]):
    """Cell 17's retriever: a dictionary lookup."""

    data: dict[str, str] = dataclasses.field(default_factory=dict)
    asked: list[tuple[str, int | None]] = dataclasses.field(default_factory=list)

    @ot.make_executable(copy_self=False)
    async def retrieve(
        self, query: str, *, max_results: int | None = None, **kwargs: Any
    ) -> list[str]:
        self.asked.append((query, max_results))
        return [self.data.get(query, "Not found"), "second", "third"][:max_results]


@dataclasses.dataclass
class WordChunker(chunking.TextChunker):
    """Cell 30's chunker: windows of words overlapping by one word."""

    max_words_per_chunk: int = 5
    overlap_words: int = 1

    @ot.make_executable(copy_self=False)
    async def _chunk_text(self, text: str) -> list[str]:
        words, chunks, i = text.split(), [], 0
        while i < len(words):
            window = words[i : i + self.max_words_per_chunk]
            chunks.append(" ".join(window))
            i += self.max_words_per_chunk - self.overlap_words
            if i >= len(words) or len(window) < self.max_words_per_chunk:
                break
        return chunks


def test_calling_a_retriever_runs_its_retrieve_method() -> None:
    retriever = DictRetriever(data={"France": "Paris", "Germany": "Berlin"})
    assert ot.run(retriever("France")) == ["Paris", "second", "third"]
    assert ot.run(retriever("Spain", max_results=1)) == ["Not found"]
    assert retriever.asked == [("France", None), ("Spain", 1)]
    assert ot.run(retriever.retrieve("Germany", max_results=2)) == ["Berlin", "second"]


def test_default_scores_follow_the_rank() -> None:
    retriever = DictRetriever(data={"France": "Paris"})
    scored = ot.run(retriever.retrieve_with_scores("France"))
    assert scored == [("Paris", 1.0), ("second", 0.5), ("third", pytest.approx(1 / 3))]


@pytest.mark.parametrize("bad", [0, -1, 2.0, "3", True])
def test_a_retriever_refuses_a_max_results_below_one(bad: Any) -> None:
    retriever = DictRetriever()
    with pytest.raises(InvalidArgumentError, match=rf"max_results must be .* got {bad!r}"):
        ot.run(retriever("France", max_results=bad))
    assert retriever.asked == []


def test_a_retriever_must_implement_retrieve() -> None:
    class Incomplete(retrieval.Retriever[str, str]):
        pass

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]


def test_text_chunker_numbers_chunks_and_keeps_the_source_fields(zoo: list[Document]) -> None:
    elephant = dataclasses.replace(zoo[1], url="https://zoo.example/e", metadata={"k": "v"})
    chunks = ot.run(WordChunker()(elephant))
    assert [c.content for c in chunks] == [
        "Elephants are the largest land",
        "land animals. They have long",
        "long trunks and tusks.",
    ]
    assert [c.doc_id for c in chunks] == ["elephant_1", "elephant_2", "elephant_3"]
    for number, chunk in enumerate(chunks, 1):
        assert (chunk.title, chunk.url) == ("Elephant Facts", "https://zoo.example/e")
        assert chunk.metadata == {
            "k": "v",
            METADATA_FIELD_ORIGINAL_DOC_ID: "elephant",
            METADATA_FIELD_CHUNK_NUMBER: number,
            METADATA_FIELD_TOTAL_NUMBER_OF_CHUNKS: 3,
        }
    assert elephant.metadata == {"k": "v"}  # the source is left as it was
    assert elephant.text.startswith("Elephants are the largest land animals.")


def test_a_plain_async_or_sync_chunk_text_works_too() -> None:
    class Lines(chunking.TextChunker):
        def _chunk_text(self, text: str) -> list[str]:
            return text.splitlines()

    class Halves(chunking.TextChunker):
        async def _chunk_text(self, text: str) -> list[str]:
            await asyncio.sleep(0)
            return [text[:2], text[2:]]

    doc = Document(doc_id="d", content="ab\ncd")
    assert [c.content for c in ot.run(Lines()(doc))] == ["ab", "cd"]
    assert [c.content for c in ot.run(Halves()(doc))] == ["ab", "\ncd"]


def test_chunk_text_returning_a_string_is_refused() -> None:
    class Wrong(chunking.TextChunker):
        async def _chunk_text(self, text: str) -> Any:
            return text

    with pytest.raises(InvalidArgumentError, match="must return a list of strings; got str"):
        ot.run(Wrong()(Document(doc_id="d", content="abc")))


def test_no_chunking_returns_the_document_itself(zoo: list[Document]) -> None:
    assert ot.run(chunking.NoChunking()(zoo[0])) == [zoo[0]]


def _characters() -> None:
    """One token per character: what the reference's tests tokenize with."""
    llm.tokenize.configure(lambda content: [ord(ch) for ch in str(content)])
    llm.detokenize.configure(lambda tokens: "".join(map(chr, tokens)))


@pytest.mark.parametrize(
    ("overlap", "strip", "expected"),
    [
        (0, True, ["hello", "world"]),
        (0, False, ["hello ", "world"]),
        (2, True, ["hello", "o worl", "rld"]),
    ],
)
def test_chunk_by_max_tokens_cuts_token_windows(
    overlap: int, strip: bool, expected: list[str]
) -> None:
    _characters()
    chunker = chunking.ChunkByMaxTokens(
        max_tokens_per_chunk=6, overlap_window=overlap, strip_whitespace=strip
    )
    chunks = ot.run(chunker(Document(doc_id="1", content="hello world")))
    assert [c.content for c in chunks] == expected
    assert [c.doc_id for c in chunks] == [f"1_{n}" for n in range(1, len(expected) + 1)]


def test_an_overlap_never_makes_a_last_chunk_inside_the_previous_one() -> None:
    _characters()
    chunker = chunking.ChunkByMaxTokens(max_tokens_per_chunk=6, overlap_window=2)
    chunks = ot.run(chunker(Document(doc_id="1", content="abcdefghij")))
    assert [c.content for c in chunks] == ["abcdef", "efghij"]


@pytest.mark.parametrize(
    ("size", "overlap", "message"),
    [
        (0, 0, r"max_tokens_per_chunk must be an int >= 1; got 0"),
        (5, -1, r"overlap_window must be an int >= 0; got -1"),
        (5, 5, r"overlap_window \(5\) must be smaller than max_tokens_per_chunk \(5\)"),
    ],
)
def test_chunk_by_max_tokens_refuses_windows_that_cannot_advance(
    size: int, overlap: int, message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        chunking.ChunkByMaxTokens(max_tokens_per_chunk=size, overlap_window=overlap)


def test_token_budgets_truncate_and_filter() -> None:
    _characters()
    assert ot.run(chunking.truncate_string_to_max_tokens("hello world", 6)) == "hello "
    assert ot.run(chunking.truncate_string_to_max_tokens("hello world", 60)) == "hello world"
    texts = ["one", "two", "three", "four"]
    assert ot.run(chunking.filter_by_max_tokens(texts, 10)) == ["one", "two", "thre"]
    assert ot.run(chunking.filter_by_max_tokens(texts, 10, include_partial=False)) == [
        "one",
        "two",
    ]
    assert ot.run(chunking.filter_by_max_tokens(texts, 6)) == ["one", "two"]


@pytest.mark.parametrize(
    ("format_str", "expected"),
    [
        ("{text}", "hello world"),
        ("Title: {title}\nFacts: {text}", "Title: Zoo\nFacts: hello world"),
        ("[{doc_id}] {text} <{url}>", "[1] hello world <https://zoo.example>"),
        ("{text} (Author: {author})", "hello world (Author: Alice)"),
    ],
)
def test_text_formatter_fills_in_the_documents_fields(format_str: str, expected: str) -> None:
    doc = Document(
        doc_id="1",
        title="Zoo",
        content="hello world",
        url="https://zoo.example",
        metadata={"author": "Alice"},
    )
    formatted = ot.run(document_formatting.TextDocumentFormatter(format_str=format_str)(doc))
    assert formatted.content == expected
    assert (formatted.doc_id, formatted.title, formatted.metadata) == ("1", "Zoo", doc.metadata)
    assert doc.content == "hello world"


def test_text_formatter_names_a_missing_field() -> None:
    formatter = document_formatting.TextDocumentFormatter(format_str="{text} by {author}")
    with pytest.raises(FormatError, match=r"\{author\} is not a field of document 'd'"):
        ot.run(formatter(Document(doc_id="d", content="x")))
    broken = document_formatting.TextDocumentFormatter(format_str="{text")
    with pytest.raises(FormatError, match=r"TextDocumentFormatter.*cannot be filled in"):
        ot.run(broken(Document(doc_id="d", content="x")))


@pytest.mark.parametrize("field", ["title.__class__", "text.__class__.__mro__", "x!r:{y}"])
def test_text_formatter_reads_no_attributes(field: str) -> None:
    # A format string from a user (or a model) must not reach Python internals.
    formatter = document_formatting.TextDocumentFormatter(format_str="{" + field + "}")
    with pytest.raises(FormatError, match="TextDocumentFormatter"):
        ot.run(formatter(Document(doc_id="d", title="t", content="x", metadata={"x": 1})))


def test_no_formatting_returns_the_document_itself(zoo: list[Document]) -> None:
    assert ot.run(document_formatting.NoFormatting()(zoo[2])) is zoo[2]


def test_chunking_then_formatting_rewrites_the_whole_corpus(zoo: list[Document]) -> None:
    chunk = corpus_rewriting.ChunkingCorpusRewriter(chunker=WordChunker())
    formatter = document_formatting.TextDocumentFormatter(
        format_str="Title: {title}\nFacts: {text}"
    )
    formatting = corpus_rewriting.FormattingCorpusRewriter(formatter=formatter)
    chunks = ot.run(chunk(zoo))
    assert [c.doc_id for c in chunks] == [
        *("lion_1", "lion_2", "lion_3"),
        *("elephant_1", "elephant_2", "elephant_3"),
        *("monkey_1", "monkey_2", "monkey_3", "monkey_4"),
    ]
    formatted = ot.run(formatting(zoo))
    assert [d.doc_id for d in formatted] == ["lion", "elephant", "monkey"]
    assert formatted[0].content == f"Title: Lion Facts\nFacts: {zoo[0].content}"
    both = ot.run(corpus_rewriting.SequentialCorpusRewriter(rewriters=[chunk, formatting])(zoo))
    assert [d.doc_id for d in both] == [c.doc_id for c in chunks]
    assert both[-1].content == "Title: Monkey Facts\nFacts: their intelligence."
    assert ot.run(corpus_rewriting.NoRewriting[Document]()(iter(zoo))) == zoo


def test_a_rewriter_chunks_documents_concurrently() -> None:
    in_flight, most = 0, 0

    class Slow(chunking.TextChunker):
        async def _chunk_text(self, text: str) -> Sequence[str]:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0)
            in_flight -= 1
            return [text]

    docs = [Document(doc_id=str(i), content=str(i)) for i in range(5)]
    chunks = ot.run(corpus_rewriting.ChunkingCorpusRewriter(chunker=Slow())(docs))
    assert [c.content for c in chunks] == ["0", "1", "2", "3", "4"]
    assert most == 5
