"""Chunkers: cut a document into smaller documents (chunks) before indexing.

A question is answered by a paragraph, not by a whole book: indexing passages lets the
index find the one that matters and the prompt quote only it. Each chunk keeps the
source document's title, URL and metadata, gets the id ``"<doc_id>_<n>"`` (n from 1;
none if the document has none, for the index to number), and records where it came
from under the ``METADATA_FIELD_*`` keys of ``retrieval_data_structures`` (source id,
chunk number, number of chunks).

* :class:`TextChunker`: subclass it and implement ``_chunk_text(text) -> list[str]``;
* :class:`ChunkByMaxTokens`: pieces of at most N tokens of the current backend;
* :class:`NoChunking`: the document as it is.

Example:
    >>> import dataclasses
    >>> from onetwo import ot
    >>> from onetwo.stdlib.retrieval.retrieval_data_structures import Document
    >>> @dataclasses.dataclass
    ... class BySentence(TextChunker):
    ...     async def _chunk_text(self, text: str) -> list[str]:
    ...         return [s.strip() + "." for s in text.split(".") if s.strip()]
    >>> doc = Document(doc_id="lion", content="Lions live in prides. They hunt.")
    >>> [(c.doc_id, c.content) for c in ot.run(BySentence()(doc))]
    [('lion_1', 'Lions live in prides.'), ('lion_2', 'They hunt.')]
    >>> ot.run(BySentence()(doc))[1].metadata
    {'original_doc_id': 'lion', 'chunk_number': 2, 'total_number_of_chunks': 2}
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import inspect
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from typing import Any

from onetwo.builtins import llm
from onetwo.core.backend import Backend
from onetwo.core.executable import make_executable
from onetwo.core.registry import RegistryContext
from onetwo.core.scheduling import parallel
from onetwo.errors import InvalidArgumentError
from onetwo.stdlib.retrieval.retrieval_data_structures import (
    METADATA_FIELD_CHUNK_NUMBER,
    METADATA_FIELD_ORIGINAL_DOC_ID,
    METADATA_FIELD_TOTAL_NUMBER_OF_CHUNKS,
    Document,
)

__all__ = [
    "ChunkByMaxTokens",
    "Chunker",
    "NoChunking",
    "TextChunker",
    "filter_by_max_tokens",
    "truncate_string_to_max_tokens",
]


class Chunker(abc.ABC):
    """A strategy that turns one document into one or more chunks to index."""

    @abc.abstractmethod
    @make_executable(copy_self=False)
    async def __call__(self, document: Document) -> Sequence[Document]:
        """The chunks of ``document``, in order.

        A chunk that differs from the document carries the ``METADATA_FIELD_*`` keys
        saying which document it came from and where.
        """


class NoChunking(Chunker):
    """The chunker that returns the document as its only chunk, unchanged."""

    @make_executable(copy_self=False)
    async def __call__(self, document: Document) -> Sequence[Document]:
        """``[document]``."""
        return [document]


class TextChunker(Chunker):
    """Chunks a document by its text; a subclass says how in :meth:`_chunk_text`.

    Every chunk is a copy of the document whose content is one piece of its text (media
    become placeholders such as ``<image/png>``) and whose id and metadata say where the
    piece came from. To format the chunks afterwards, chain a ``ChunkingCorpusRewriter``
    and a ``FormattingCorpusRewriter`` in a ``SequentialCorpusRewriter``.
    """

    @abc.abstractmethod
    def _chunk_text(self, text: str) -> Awaitable[Iterable[str]] | Iterable[str]:
        """The pieces of ``text``, in order: an ``async def``, an executable or plain method."""

    @make_executable(copy_self=False)
    async def __call__(self, document: Document) -> Sequence[Document]:
        """The chunks of ``document``: ids ``"<doc_id>_1"``, ``"<doc_id>_2"``..."""
        pieces: Any = self._chunk_text(document.text)
        if inspect.isawaitable(pieces):
            pieces = await pieces
        if isinstance(pieces, str) or not isinstance(pieces, Iterable):
            raise InvalidArgumentError(
                f"{type(self).__name__}._chunk_text must return a list of strings; got "
                f"{type(pieces).__name__} {pieces!r:.60}. Return [text] for a single chunk."
            )
        texts = list(pieces)
        return [
            dataclasses.replace(
                document,
                doc_id=f"{document.doc_id}_{number}" if document.doc_id else "",
                content=text,
                metadata={
                    **document.metadata,
                    METADATA_FIELD_ORIGINAL_DOC_ID: document.doc_id,
                    METADATA_FIELD_CHUNK_NUMBER: number,
                    METADATA_FIELD_TOTAL_NUMBER_OF_CHUNKS: len(texts),
                },
            )
            for number, text in enumerate(texts, 1)
        ]


def _check_count(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(f"{name} must be an int >= {minimum}; got {value!r}.")


@make_executable
async def truncate_string_to_max_tokens(
    text: str, max_tokens: int, tokenizer_backend: Backend | None = None
) -> str:
    """The longest prefix of ``text`` within ``max_tokens`` tokens.

    Tokens are those of ``llm.tokenize``/``llm.detokenize``: of ``tokenizer_backend`` if
    given, else of the backend registered now.
    """
    _check_count("truncate_string_to_max_tokens: max_tokens", max_tokens, 0)
    with _tokenizer_of(tokenizer_backend):
        return await llm.detokenize((await llm.tokenize(text))[:max_tokens])


@make_executable
async def filter_by_max_tokens(
    texts: Iterable[str],
    max_tokens: int,
    *,
    include_partial: bool = True,
    tokenizer_backend: Backend | None = None,
) -> list[str]:
    """The first ``texts`` that fit together in ``max_tokens`` tokens.

    Args:
        texts: the texts, in order of priority.
        max_tokens: the budget for all of them.
        include_partial: also return the start of the first text that does not fit,
            cut to the tokens left, so the budget is used exactly.
        tokenizer_backend: the backend whose tokenizer counts; default: the current one.
    """
    _check_count("filter_by_max_tokens: max_tokens", max_tokens, 0)
    with _tokenizer_of(tokenizer_backend):
        kept: list[str] = []
        left = max_tokens
        for text in texts:
            if left <= 0:
                break
            tokens = await llm.tokenize(text)
            if len(tokens) <= left:
                kept.append(text)
                left -= len(tokens)
                continue
            if include_partial:
                kept.append(await llm.detokenize(tokens[:left]))
            break
        return kept


@dataclasses.dataclass(kw_only=True)
class ChunkByMaxTokens(TextChunker):
    """Cuts the text into pieces of at most ``max_tokens_per_chunk`` tokens.

    The text is tokenized once, cut into token windows, and each window detokenized (so
    a piece may not retokenize to exactly the same tokens: tokenization does not
    commute with concatenation). Needs a backend with ``tokenize`` and ``detokenize``.

    Attributes:
        max_tokens_per_chunk: the size of a piece in tokens (150, about 100 words, the
            passage size of early retrieval-augmented generation work).
        tokenizer_backend: the backend whose tokenizer cuts; default: the current one.
        strip_whitespace: strip spaces from both ends of each piece.
        overlap_window: tokens each piece repeats from the end of the one before it.
    """

    max_tokens_per_chunk: int = 150
    tokenizer_backend: Backend | None = None
    strip_whitespace: bool = True
    overlap_window: int = 0

    def __post_init__(self) -> None:
        _check_count("ChunkByMaxTokens: max_tokens_per_chunk", self.max_tokens_per_chunk, 1)
        _check_count("ChunkByMaxTokens: overlap_window", self.overlap_window, 0)
        if self.overlap_window >= self.max_tokens_per_chunk:
            raise InvalidArgumentError(
                f"ChunkByMaxTokens: overlap_window ({self.overlap_window}) must be smaller "
                f"than max_tokens_per_chunk ({self.max_tokens_per_chunk}), or no piece "
                "would advance. Lower overlap_window."
            )

    async def _chunk_text(self, text: str) -> list[str]:
        with _tokenizer_of(self.tokenizer_backend):
            tokens = await llm.tokenize(text)
            size, step = self.max_tokens_per_chunk, self.max_tokens_per_chunk - self.overlap_window
            windows = [tokens[start : start + size] for start in range(0, len(tokens), step)]
            # A last window inside the one before it (when overlapping) adds nothing.
            while len(windows) > 1 and len(windows[-1]) <= self.overlap_window:
                windows.pop()
            pieces: list[str] = await parallel(*(llm.detokenize(w) for w in windows))
        return [p.strip() for p in pieces] if self.strip_whitespace else pieces


@contextlib.contextmanager
def _tokenizer_of(backend: Backend | None) -> Iterator[None]:
    """``llm.tokenize``/``detokenize`` of ``backend`` inside (of the current one if None)."""
    if backend is None:
        yield
        return
    with RegistryContext():
        backend.register()
        yield
