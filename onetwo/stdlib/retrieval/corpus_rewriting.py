"""Corpus rewriters: turn a collection of documents into the one to index.

Raw documents are seldom what an index should hold: they are cut into chunks (one
document becomes many) and formatted (a title put before each chunk's text). A
rewriter takes the whole corpus and returns the new one, as a list, so steps compose:
:class:`SequentialCorpusRewriter` runs several in order. Documents are processed
concurrently (``ot.par_iter``, 100 at a time): it matters when a chunker calls a model.

Example:
    >>> from onetwo import ot
    >>> from onetwo.stdlib.retrieval import chunking, document_formatting
    >>> from onetwo.stdlib.retrieval.retrieval_data_structures import Document
    >>> class Halves(chunking.TextChunker):
    ...     async def _chunk_text(self, text):
    ...         return [text[: len(text) // 2], text[len(text) // 2 :]]
    >>> rewriter = SequentialCorpusRewriter(
    ...     rewriters=[
    ...         ChunkingCorpusRewriter(chunker=Halves()),
    ...         FormattingCorpusRewriter(
    ...             formatter=document_formatting.TextDocumentFormatter(
    ...                 format_str="{title}: {text}"
    ...             )
    ...         ),
    ...     ]
    ... )
    >>> docs = [Document(doc_id="d", title="T", content="abcd")]
    >>> [(d.doc_id, d.content) for d in ot.run(rewriter(docs))]
    [('d_1', 'T: ab'), ('d_2', 'T: cd')]
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, Generic, TypeVar

from onetwo.core.executable import make_executable
from onetwo.core.scheduling import par_iter
from onetwo.stdlib.retrieval.chunking import Chunker
from onetwo.stdlib.retrieval.document_formatting import DocumentFormatter

__all__ = [
    "ChunkingCorpusRewriter",
    "CorpusRewriter",
    "FormattingCorpusRewriter",
    "NoRewriting",
    "SequentialCorpusRewriter",
]

DocT = TypeVar("DocT")


class CorpusRewriter(abc.ABC, Generic[DocT]):
    """A strategy that turns a corpus (an iterable of documents) into another one."""

    @abc.abstractmethod
    @make_executable(copy_self=False)
    async def __call__(self, corpus: Iterable[DocT]) -> Sequence[DocT]:
        """The rewritten corpus (the documents given are left as they were)."""


class NoRewriting(CorpusRewriter[DocT]):
    """The rewriter that keeps the corpus as it is (as a list)."""

    @make_executable(copy_self=False)
    async def __call__(self, corpus: Iterable[DocT]) -> Sequence[DocT]:
        """The documents of ``corpus``, unchanged."""
        return list(corpus)


@dataclasses.dataclass(frozen=True)
class ChunkingCorpusRewriter(CorpusRewriter[Any]):
    """Cuts every document into chunks with ``chunker``; the corpus of all the chunks.

    Attributes:
        chunker: a ``chunking.Chunker``, e.g. a ``TextChunker`` subclass.
    """

    chunker: Chunker

    @make_executable(copy_self=False)
    async def __call__(self, corpus: Iterable[Any]) -> Sequence[Any]:
        """The chunks of every document, document by document, in order."""
        chunked = await par_iter(self.chunker(document) for document in corpus)
        return [chunk for chunks in chunked for chunk in chunks]


@dataclasses.dataclass(frozen=True)
class FormattingCorpusRewriter(CorpusRewriter[Any]):
    """Formats every document with ``formatter`` (one document in, one out).

    Attributes:
        formatter: a ``document_formatting.DocumentFormatter``.
    """

    formatter: DocumentFormatter

    @make_executable(copy_self=False)
    async def __call__(self, corpus: Iterable[Any]) -> Sequence[Any]:
        """The formatted documents, in order."""
        formatted: list[Any] = await par_iter(self.formatter(d) for d in corpus)
        return formatted


@dataclasses.dataclass(frozen=True)
class SequentialCorpusRewriter(CorpusRewriter[DocT]):
    """Applies ``rewriters`` one after the other, e.g. chunk, then format each chunk.

    Attributes:
        rewriters: the rewriters, in the order they run.
    """

    rewriters: Sequence[CorpusRewriter[DocT]]

    @make_executable(copy_self=False)
    async def __call__(self, corpus: Iterable[DocT]) -> Sequence[DocT]:
        """The corpus after every rewriter."""
        rewritten: Sequence[DocT] = list(corpus)
        for rewriter in self.rewriters:
            rewritten = await rewriter(rewritten)
        return rewritten
