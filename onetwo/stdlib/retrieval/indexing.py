"""Indexes: the documents a retriever searches, added once and searched many times.

An :class:`Index` is a :class:`~onetwo.stdlib.retrieval.retrieval.Retriever` that holds
its corpus: ``await index.add_docs(docs)`` fills it, ``await index.retrieve(query)``
(or ``index(query)``) searches it, best first.

* :class:`EmbeddingBasedDocumentIndex`: semantic search. Each document is embedded with
  ``llm.embed`` when added (concurrently), each query when asked; results are ranked by
  cosine similarity. ``save(folder)`` / ``load(folder)`` keep it across sessions.
* :class:`RewritingEmbeddingBasedDocumentIndex`: the same, after a corpus rewriter
  (chunk, format) has turned the documents into the passages to index.
* :class:`NaiveIndex` (the first documents, whatever the query) and :class:`EmptyIndex`:
  baselines for evaluations.

Example:
    >>> from onetwo import ot
    >>> from onetwo.builtins import llm
    >>> from onetwo.stdlib.retrieval.retrieval_data_structures import Document
    >>> words = ["lion", "elephant", "trunk", "prides"]
    >>> llm.embed.configure(lambda content: [str(content).count(w) + 0.0 for w in words])
    >>> index = EmbeddingBasedDocumentIndex(prepare_query=str, prepare_document=lambda d: d.text)
    >>> ot.run(index.add_docs([
    ...     Document(doc_id="lion", content="A lion lives in prides."),
    ...     Document(doc_id="elephant", content="An elephant has a trunk."),
    ... ]))
    >>> [d.doc_id for d in ot.run(index.retrieve("Which animal has a trunk?", max_results=1))]
    ['elephant']

Scores are exact cosines computed in pure Python, each embedding kept once as an
``array('d')`` with its length: about 0.1 s per query for 10,000 documents of 384
dimensions, on a pool thread (the event loop stays free), and 35 MB.
"""

from __future__ import annotations

import abc
import dataclasses
import os
import random
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic

from onetwo.builtins import llm
from onetwo.core import tracing
from onetwo.core.builtin import in_sync_pool
from onetwo.core.executable import make_executable
from onetwo.core.scheduling import par_iter
from onetwo.errors import ConfigurationError, InvalidArgumentError
from onetwo.stdlib.retrieval import _index_files, _vectors
from onetwo.stdlib.retrieval.corpus_rewriting import CorpusRewriter, NoRewriting
from onetwo.stdlib.retrieval.retrieval import (
    DocT,
    QueryT,
    RetrievalResultT,
    Retriever,
    check_max_results,
)
from onetwo.stdlib.retrieval.retrieval_data_structures import Document

__all__ = [
    "DocumentIndex",
    "EmbeddingBasedDocumentIndex",
    "EmbeddingBasedIndex",
    "EmptyIndex",
    "Index",
    "IndexWrapper",
    "NaiveIndex",
    "RewritingEmbeddingBasedDocumentIndex",
    "RewritingEmbeddingBasedIndex",
    "RewritingIndex",
    "default_prepare_document",
    "default_prepare_query",
]


@dataclasses.dataclass(kw_only=True, eq=False)
class Index(Retriever[QueryT, RetrievalResultT], Generic[QueryT, RetrievalResultT, DocT]):
    """A retriever that holds its documents (of type ``DocT``).

    What it returns (``RetrievalResultT``) may be the documents themselves or something
    derived from them (chunks, plain text).

    Attributes:
        corpus_name: a name for the corpus, for logs and saved indexes.
    """

    corpus_name: str = "unnamed"

    @property
    @abc.abstractmethod
    def num_docs(self) -> int:
        """How many documents (after any rewriting) the index holds."""

    @abc.abstractmethod
    def get_docs(self) -> Sequence[DocT]:
        """The documents (after any rewriting) the index holds, in the order added."""

    @abc.abstractmethod
    @make_executable(copy_self=False)
    async def add_docs(self, docs: Iterable[DocT]) -> None:
        """Add ``docs`` to the index."""

    @abc.abstractmethod
    def destroy_index(self) -> None:
        """Drop every document and what was computed for them."""

    @make_executable(copy_self=False)
    async def create_index(self, corpus_name: str, docs: Iterable[DocT]) -> None:
        """Name the corpus and add its first documents (to an index still empty)."""
        _check_fresh(self, corpus_name)
        self.corpus_name = corpus_name
        await self.add_docs(docs)


def _check_fresh(index: Index[Any, Any, Any], corpus_name: str) -> None:
    if index.num_docs:
        raise InvalidArgumentError(
            f"create_index({corpus_name!r}) on {type(index).__name__} {index.corpus_name!r}, "
            f"which already holds {index.num_docs} documents. Call add_docs to add more, or "
            "destroy_index() first to start again."
        )


@dataclasses.dataclass(kw_only=True, eq=False)
class IndexWrapper(Index[QueryT, RetrievalResultT, DocT]):
    """An index that hands every call to ``inner_index`` (subclasses change some).

    Attributes:
        inner_index: the index that holds the documents.
    """

    inner_index: Index[QueryT, RetrievalResultT, DocT]

    @property
    def num_docs(self) -> int:
        """The inner index's count."""
        return self.inner_index.num_docs

    def get_docs(self) -> Sequence[DocT]:
        """The inner index's documents."""
        return self.inner_index.get_docs()

    @make_executable(copy_self=False)
    async def add_docs(self, docs: Iterable[DocT]) -> None:
        """Add ``docs`` to the inner index."""
        await self.inner_index.add_docs(docs)

    @make_executable(copy_self=False)
    async def create_index(self, corpus_name: str, docs: Iterable[DocT]) -> None:
        """Name both corpora and add the first documents (through :meth:`add_docs`)."""
        _check_fresh(self, corpus_name)
        self.corpus_name = self.inner_index.corpus_name = corpus_name
        await self.add_docs(docs)

    def destroy_index(self) -> None:
        """Empty the inner index."""
        self.inner_index.destroy_index()

    @make_executable(copy_self=False)
    async def retrieve(
        self, query: QueryT, *, max_results: int | None = None, **kwargs: Any
    ) -> Sequence[RetrievalResultT]:
        """The inner index's results."""
        result: Sequence[RetrievalResultT] = await self.inner_index.retrieve(
            query, max_results=max_results, **kwargs
        )
        return result

    @make_executable(copy_self=False)
    async def retrieve_with_scores(
        self, query: QueryT, *, max_results: int | None = None, **kwargs: Any
    ) -> Sequence[tuple[RetrievalResultT, float]]:
        """The inner index's results and scores."""
        result: Sequence[
            tuple[RetrievalResultT, float]
        ] = await self.inner_index.retrieve_with_scores(query, max_results=max_results, **kwargs)
        return result


@dataclasses.dataclass(kw_only=True, eq=False)
class RewritingIndex(IndexWrapper[QueryT, RetrievalResultT, DocT]):
    """An index that rewrites documents (e.g. chunks them) before the inner index adds them.

    Retrieval returns the rewritten documents (the chunks), as the inner index holds them.

    Attributes:
        rewriter: the corpus rewriter applied to each batch given to :meth:`add_docs`.
    """

    rewriter: CorpusRewriter[Any] = dataclasses.field(default_factory=NoRewriting)

    @make_executable(copy_self=False)
    async def add_docs(self, docs: Iterable[DocT]) -> None:
        """Rewrite ``docs``, then add the result to the inner index."""
        await self.inner_index.add_docs(await self.rewriter(docs))


@dataclasses.dataclass(kw_only=True, eq=False)
class DocumentIndex(Index[str, Document, Document]):
    """An index of :class:`Document` searched with text queries."""


@dataclasses.dataclass(kw_only=True, eq=False)
class EmptyIndex(DocumentIndex):
    """The index that holds nothing and finds nothing (a no-retrieval baseline)."""

    @property
    def num_docs(self) -> int:
        """Always 0."""
        return 0

    def get_docs(self) -> Sequence[Document]:
        """Always ``[]``."""
        return []

    @make_executable(copy_self=False)
    async def add_docs(self, docs: Iterable[Document]) -> None:
        """Drop ``docs``."""

    def destroy_index(self) -> None:
        """Nothing to drop."""

    @make_executable(copy_self=False)
    async def retrieve(
        self, query: str, *, max_results: int | None = None, **kwargs: Any
    ) -> Sequence[Document]:
        """Always ``[]``."""
        check_max_results(max_results, "EmptyIndex.retrieve")
        return []


@dataclasses.dataclass(eq=False)
class NaiveIndex(DocumentIndex):
    """Returns the first documents added, whatever the query (a baseline).

    Attributes:
        docs: the documents, in the order added.
        shuffle_results: shuffle the documents returned, in an order fixed by the query
            (useful when the gold documents were added before the distractors).
    """

    docs: list[Document] = dataclasses.field(default_factory=list)
    shuffle_results: bool = False

    @property
    def num_docs(self) -> int:
        """How many documents were added."""
        return len(self.docs)

    def get_docs(self) -> Sequence[Document]:
        """The documents, in the order added."""
        return list(self.docs)

    @make_executable(copy_self=False)
    async def add_docs(self, docs: Iterable[Document]) -> None:
        """Append ``docs``."""
        self.docs.extend(docs)

    @make_executable(copy_self=False)
    async def retrieve(
        self, query: str, *, max_results: int | None = None, **kwargs: Any
    ) -> Sequence[Document]:
        """The first ``max_results`` documents (shuffled if ``shuffle_results``)."""
        check_max_results(max_results, "NaiveIndex.retrieve")
        results = self.docs[:max_results]
        if self.shuffle_results:
            random.Random(str(query)).shuffle(results)
        return results

    def destroy_index(self) -> None:
        """Drop every document."""
        self.docs.clear()


def default_prepare_query(query: Any) -> str:
    """The text embedded for a query: ``"task: search result | query: <query>"``."""
    return f"task: search result | query: {query}"


def default_prepare_document(doc: Any) -> str:
    """The text embedded for a document: ``"title: <title> | text: <text>"`` ("none" when
    empty; media as placeholders), or ``str(doc)`` for what is not a :class:`Document`."""
    if not isinstance(doc, Document):
        return str(doc)
    return f"title: {doc.title or 'none'} | text: {doc.text or 'none'}"


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class EmbeddingBasedIndex(Index[QueryT, DocT, DocT]):
    """Documents held in memory with their embeddings, found by cosine similarity.

    ``add_docs`` embeds the documents concurrently (``ot.par_iter`` of ``llm.embed``)
    and adds them all or, if one fails, none; a :class:`Document` without ``doc_id``
    gets ``"doc_<position>"``, and two documents may not share one. Each query is
    embedded once per retrieval. Every embedding must have the same size.

    Attributes:
        prepare_query: the text embedded for a query (default
            :func:`default_prepare_query`).
        prepare_document: the text embedded for a document (default
            :func:`default_prepare_document`, title and text).
        task_type: given to every ``llm.embed`` call, documents and queries alike (as
            in OneTwo), so one that suits both, e.g. ``"SEMANTIC_SIMILARITY"`` on Gemini;
            ``None``: none.
    """

    prepare_query: Callable[[QueryT], str] = default_prepare_query
    prepare_document: Callable[[DocT], str] = default_prepare_document
    task_type: str | None = None
    _docs: list[DocT] = dataclasses.field(default_factory=list, init=False)
    _embeddings: list[_vectors.Vector] = dataclasses.field(default_factory=list, init=False)
    _norms: list[float] = dataclasses.field(default_factory=list, init=False)
    _ids: set[str] = dataclasses.field(default_factory=set, init=False)

    def __repr__(self) -> str:
        size = len(self._embeddings[0]) if self._embeddings else None
        return (
            f"{type(self).__name__}(corpus_name={self.corpus_name!r}, "
            f"num_docs={self.num_docs}, embedding_size={size})"
        )

    @property
    def num_docs(self) -> int:
        """How many documents the index holds."""
        return len(self._docs)

    @property
    def embedding_size(self) -> int | None:
        """The size of the embeddings held (``None`` while the index is empty)."""
        return len(self._embeddings[0]) if self._embeddings else None

    def get_docs(self) -> Sequence[DocT]:
        """The documents, in the order added (positions are those of the scores)."""
        return list(self._docs)

    def _with_ids(self, docs: Sequence[DocT], *, assign: bool) -> list[DocT]:
        """``docs``, refusing a ``doc_id`` clash; with ``assign``, id-less ones get one."""
        held, batch, clashes, named = self._ids, set[str](), [], []  # no copy of held ids
        position = len(self._docs)
        for doc in docs:
            if assign and isinstance(doc, Document) and not doc.doc_id:
                while f"doc_{position}" in held or f"doc_{position}" in batch:
                    position += 1
                doc = dataclasses.replace(doc, doc_id=f"doc_{position}")
            if isinstance(doc, Document) and doc.doc_id:
                if doc.doc_id in held or doc.doc_id in batch:
                    clashes.append(doc.doc_id)
                batch.add(doc.doc_id)
            named.append(doc)
            position += 1
        if clashes:
            raise InvalidArgumentError(
                f"{type(self).__name__}.add_docs: doc_id {sorted(set(clashes))[:5]} "
                f"{'is' if len(set(clashes)) == 1 else 'are'} given to more than one "
                "document (in this batch, or already in the index). Give each document a "
                "unique doc_id, or leave doc_id empty to have one assigned."
            )
        return named

    def _check_size(self, vector: Sequence[float], what: str, expected: int | None) -> None:
        if expected is not None and len(vector) != expected:
            raise ConfigurationError(
                f"llm.embed returned an embedding of size {len(vector)} for {what}, but the "
                f"index {self.corpus_name!r} holds embeddings of size {expected}. Register "
                "the embedding backend the index was built with, or rebuild the index "
                "(destroy_index(), then add_docs) with the current one."
            )

    @make_executable(copy_self=False)
    @tracing.trace(name="EmbeddingBasedIndex.add_docs")
    async def add_docs(self, docs: Iterable[DocT]) -> None:
        """Embed ``docs`` concurrently and add them (all of them, or none if one fails)."""
        batch = self._with_ids(list(docs), assign=False)  # a clash fails before embedding
        if not batch:
            return
        embedded = await par_iter(
            llm.embed(self.prepare_document(d), task_type=self.task_type) for d in batch
        )
        vectors = [
            _vectors.as_vector(e, f"document {i} of the batch") for i, e in enumerate(embedded)
        ]
        expected = self.embedding_size or len(vectors[0])
        for i, vector in enumerate(vectors):
            self._check_size(vector, f"document {i} of the batch", expected)
        batch = self._with_ids(batch, assign=True)  # now: another add_docs may have run
        self._docs.extend(batch)
        self._embeddings.extend(vectors)
        self._norms.extend(map(_vectors.norm, vectors))
        self._ids.update(d.doc_id for d in batch if isinstance(d, Document))

    def _snapshot(self) -> tuple[list[DocT], list[_vectors.Vector], list[float]]:
        """The documents, embeddings and norms as they are now, consistent with each other:
        ``add_docs`` only extends the lists (positions stay), ``destroy_index`` and ``load``
        replace them, so a search over this snapshot maps its positions to its documents
        whatever happens to the index meanwhile."""
        return self._docs, list(self._embeddings), list(self._norms)

    async def _query_unit(self, query: QueryT, docs: Sequence[DocT], size: int) -> list[float]:
        if not docs:
            raise ConfigurationError(
                f"{type(self).__name__} {self.corpus_name!r} is empty: there is nothing to "
                f"retrieve for {query!r:.60}. Add documents first with "
                "ot.run(index.add_docs(docs)), or load a saved index with index.load(path)."
            )
        vector = _vectors.as_vector(
            await llm.embed(self.prepare_query(query), task_type=self.task_type), "the query"
        )
        self._check_size(vector, "the query", size)
        return _vectors.unit(vector)

    async def _search(
        self, query: QueryT, max_results: int | None, min_score: float | None
    ) -> tuple[list[DocT], list[tuple[int, float]]]:
        """The documents searched, and the positions in them of the best, with scores."""
        check_max_results(max_results, f"{type(self).__name__}.retrieve")
        docs, rows, norms = self._snapshot()
        query_unit = await self._query_unit(query, docs, len(rows[0]) if rows else 0)
        ranked = await self._rank(
            query, query_unit, rows, norms, max_results=max_results, min_score=min_score
        )
        return docs, ranked

    @tracing.trace(name="EmbeddingBasedIndex.search", skip=("query_unit", "rows", "norms"))
    async def _rank(
        self,
        query: QueryT,
        query_unit: list[float],
        rows: list[_vectors.Vector],
        norms: list[float],
        *,
        max_results: int | None,
        min_score: float | None,
    ) -> list[tuple[int, float]]:
        # On a pool thread: a pass over every number, which would hold the loop (and every
        # other run's requests) for ~0.1 s per 10,000 documents of 384 dimensions.
        ranked = await in_sync_pool(
            _vectors.best, query=query_unit, rows=rows, norms=norms, k=max_results
        )
        if min_score is not None:
            ranked = [(i, score) for i, score in ranked if score >= min_score]
        return ranked

    @make_executable(copy_self=False)
    async def retrieve_doc_indices_and_scores(
        self, query: QueryT, *, max_results: int | None = None, min_score: float | None = None
    ) -> list[tuple[int, float]]:
        """``(position in get_docs(), cosine similarity)`` of the best documents, best first.

        Args:
            query: what to look for.
            max_results: at most this many (``None``: every document).
            min_score: leave out documents scoring less.
        """
        _, ranked = await self._search(query, max_results, min_score)
        return ranked

    @make_executable(copy_self=False)
    async def retrieve_doc_score(self, query: QueryT, doc_index: int) -> float:
        """The cosine similarity of ``query`` to the document at ``doc_index``."""
        # The lists themselves (no copy: nothing runs on another thread here); add_docs
        # only extends them, destroy_index and load replace them.
        docs, rows, norms = self._docs, self._embeddings, self._norms
        if not isinstance(doc_index, int) or not 0 <= doc_index < len(docs):
            raise InvalidArgumentError(
                f"retrieve_doc_score: doc_index must be a position in get_docs(), 0 to "
                f"{len(docs) - 1}; got {doc_index!r}."
            )
        query_unit = await self._query_unit(query, docs, len(rows[0]))
        ((_, score),) = _vectors.best(
            query_unit, rows[doc_index : doc_index + 1], norms[doc_index : doc_index + 1], None
        )
        return score

    @make_executable(copy_self=False)
    async def retrieve_with_scores(
        self, query: QueryT, *, max_results: int | None = None, min_score: float | None = None
    ) -> Sequence[tuple[DocT, float]]:
        """The best documents with their cosine similarity to ``query``, best first."""
        docs, ranked = await self._search(query, max_results, min_score)
        return [(docs[i], score) for i, score in ranked]

    @make_executable(copy_self=False)
    async def retrieve(
        self, query: QueryT, *, max_results: int | None = None, min_score: float | None = None
    ) -> Sequence[DocT]:
        """The documents most similar to ``query`` (cosine of embeddings), best first.

        Args:
            query: what to look for.
            max_results: at most this many (``None``: every document).
            min_score: leave out documents with a lower cosine similarity.
        """
        docs, ranked = await self._search(query, max_results, min_score)
        return [docs[i] for i, _ in ranked]

    def destroy_index(self) -> None:
        """Drop every document and embedding."""
        self._docs, self._embeddings, self._norms, self._ids = [], [], [], set()


@dataclasses.dataclass(kw_only=True, eq=False, repr=False)
class EmbeddingBasedDocumentIndex(EmbeddingBasedIndex[str, Document], DocumentIndex):
    """An :class:`EmbeddingBasedIndex` of :class:`Document` that can be saved and loaded.

    Example:
        >>> index = EmbeddingBasedDocumentIndex()   # doctest: +SKIP
        >>> ot.run(index.add_docs(docs))            # doctest: +SKIP
        >>> index.save("/tmp/zoo_index")            # doctest: +SKIP
        >>> again = EmbeddingBasedDocumentIndex()   # doctest: +SKIP
        >>> ot.run(again.load("/tmp/zoo_index"))    # doctest: +SKIP
    """

    def save(self, base_path: str | os.PathLike[str]) -> None:
        """Write the documents and embeddings to the folder ``base_path`` (made if missing).

        Content is saved as text: media in a ``ChunkList`` become placeholders.
        """
        _index_files.write(base_path, self.corpus_name, self._docs, self._embeddings)

    @make_executable(copy_self=False)
    async def load(self, base_path: str | os.PathLike[str]) -> None:
        """Replace the index's content by what :meth:`save` wrote to ``base_path``."""
        corpus_name, docs, embeddings = _index_files.read(base_path)
        self.destroy_index()
        self.corpus_name = corpus_name
        self._docs, self._embeddings = docs, embeddings
        self._norms = [_vectors.norm(e) for e in embeddings]
        self._ids = {d.doc_id for d in docs}


@dataclasses.dataclass(kw_only=True, eq=False)
class RewritingEmbeddingBasedIndex(RewritingIndex[QueryT, DocT, DocT]):
    """A :class:`RewritingIndex` over an :class:`EmbeddingBasedIndex`, with its scores.

    Attributes:
        inner_index: the embedding index that holds the rewritten documents.
    """

    inner_index: EmbeddingBasedIndex[QueryT, DocT]

    @make_executable(copy_self=False)
    async def retrieve_doc_indices_and_scores(
        self, query: QueryT, *, max_results: int | None = None, min_score: float | None = None
    ) -> list[tuple[int, float]]:
        """The inner index's positions and scores."""
        result: list[tuple[int, float]] = await self.inner_index.retrieve_doc_indices_and_scores(
            query, max_results=max_results, min_score=min_score
        )
        return result

    @make_executable(copy_self=False)
    async def retrieve_doc_score(self, query: QueryT, doc_index: int) -> float:
        """The inner index's score of the document at ``doc_index``."""
        score: float = await self.inner_index.retrieve_doc_score(query, doc_index)
        return score


@dataclasses.dataclass(kw_only=True, eq=False)
class RewritingEmbeddingBasedDocumentIndex(RewritingEmbeddingBasedIndex[str, Document]):
    """Documents rewritten (chunked, formatted), then held in an embedding index.

    Example:
        >>> from onetwo.stdlib.retrieval import chunking, corpus_rewriting
        >>> index = RewritingEmbeddingBasedDocumentIndex(
        ...     rewriter=corpus_rewriting.ChunkingCorpusRewriter(
        ...         chunker=chunking.ChunkByMaxTokens(max_tokens_per_chunk=128)
        ...     )
        ... )

    Attributes:
        inner_index: where the rewritten documents go (a new one by default).
    """

    inner_index: EmbeddingBasedDocumentIndex = dataclasses.field(
        default_factory=EmbeddingBasedDocumentIndex
    )

    def save(self, base_path: str | os.PathLike[str]) -> None:
        """Save the inner index (the rewritten documents) to the folder ``base_path``."""
        self.inner_index.save(base_path)

    @make_executable(copy_self=False)
    async def load(self, base_path: str | os.PathLike[str]) -> None:
        """Load the inner index from ``base_path``."""
        await self.inner_index.load(base_path)
        self.corpus_name = self.inner_index.corpus_name
