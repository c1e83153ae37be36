"""The retriever: a query in, the most relevant results out, best first.

A :class:`Retriever` hides where results come from (a web search, an embedding index, a
dictionary) behind one call, so a question-answering strategy written against it runs on
any of them. A subclass implements :meth:`Retriever.retrieve`, usually as an
``@ot.make_executable(copy_self=False)`` method; calling the retriever itself,
``retriever(query, max_results=3)``, gives an executable of the same results.

Example:
    >>> import dataclasses
    >>> from onetwo import ot
    >>> @dataclasses.dataclass
    ... class Capitals(Retriever[str, str]):
    ...     data: dict[str, str]
    ...
    ...     @ot.make_executable(copy_self=False)
    ...     async def retrieve(self, query: str, *, max_results=None, **kwargs) -> list[str]:
    ...         return [self.data.get(query, "Not found")]
    >>> ot.run(Capitals({"France": "Paris"})("France"))
    ['Paris']
    >>> ot.run(Capitals({"France": "Paris"}).retrieve_with_scores("France"))
    [('Paris', 1.0)]

When not to use it: to hold documents and search them by meaning, take an index from
``onetwo.stdlib.retrieval.indexing`` (it is a retriever too).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

from onetwo.core.executable import make_executable
from onetwo.errors import InvalidArgumentError

__all__ = ["DocT", "QueryT", "RetrievalResultT", "Retriever", "check_max_results"]

QueryT = TypeVar("QueryT")
"""What a retriever is asked: usually a ``str``, a ``ChunkList`` for a query with media."""

RetrievalResultT = TypeVar("RetrievalResultT")
"""What a retriever returns: a ``Document``, a text snippet..."""

DocT = TypeVar("DocT")
"""What an index holds (may differ from what it returns)."""


def check_max_results(max_results: Any, where: str) -> None:
    """Refuse a ``max_results`` that is neither ``None`` (all results) nor an int >= 1."""
    if max_results is None:
        return
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise InvalidArgumentError(
            f"{where}: max_results must be None (every result) or an int >= 1; got "
            f"{max_results!r}. Pass max_results=1 or more, or leave it out."
        )


class Retriever(abc.ABC, Generic[QueryT, RetrievalResultT]):
    """A strategy that returns the results most relevant to a query, best first.

    Subclasses implement :meth:`retrieve`; call the retriever (``retriever(query)``) or
    await ``retriever.retrieve(query)`` to use it.
    """

    @abc.abstractmethod
    @make_executable(copy_self=False)
    async def retrieve(
        self, query: QueryT, *, max_results: int | None = None, **kwargs: Any
    ) -> Sequence[RetrievalResultT]:
        """The results most relevant to ``query``, most relevant first.

        Args:
            query: a search query, a question, or a document to find neighbours of.
            max_results: at most this many results; ``None``: all of them (or a limit
                the subclass sets).
            **kwargs: options of the subclass.
        """

    @make_executable(copy_self=False)
    async def retrieve_with_scores(
        self, query: QueryT, *, max_results: int | None = None, **kwargs: Any
    ) -> Sequence[tuple[RetrievalResultT, float]]:
        """:meth:`retrieve`'s results with a score each, higher is better.

        By default the score only encodes the rank (``1 / rank``: 1.0, 0.5, 0.33...);
        retrievers that compute a real similarity return it instead.
        """
        check_max_results(max_results, f"{type(self).__name__}.retrieve_with_scores")
        results = await self.retrieve(query, max_results=max_results, **kwargs)
        return [(result, 1.0 / rank) for rank, result in enumerate(results, 1)]

    @make_executable(copy_self=False)
    async def __call__(
        self, query: QueryT, *, max_results: int | None = None, **kwargs: Any
    ) -> Sequence[RetrievalResultT]:
        """The same as :meth:`retrieve` (subclasses override that one, not this)."""
        check_max_results(max_results, type(self).__name__)
        return await self.retrieve(query, max_results=max_results, **kwargs)
