"""Document formatters: rewrite one document's text, e.g. to put its title in front.

How a passage reads in a prompt (and to an embedding model) matters: "Title: Lion Facts"
before "Lions live in prides." tells the model what the passage is about. A formatter
maps one document to exactly one document; to change how many there are, chunk them
(``onetwo.stdlib.retrieval.chunking``).

Example:
    >>> from onetwo import ot
    >>> from onetwo.stdlib.retrieval.retrieval_data_structures import Document
    >>> doc = Document(doc_id="lion", title="Lion Facts", content="Lions live in prides.")
    >>> formatter = TextDocumentFormatter(format_str="Title: {title}\\nFacts: {text}")
    >>> print(ot.run(formatter(doc)).content)
    Title: Lion Facts
    Facts: Lions live in prides.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any

from onetwo.builtins.composables import format_fields
from onetwo.core.executable import make_executable
from onetwo.stdlib.retrieval.retrieval_data_structures import Document

__all__ = ["DocumentFormatter", "NoFormatting", "TextDocumentFormatter"]


class DocumentFormatter(abc.ABC):
    """A strategy that turns one document into one formatted document."""

    @abc.abstractmethod
    @make_executable(copy_self=False)
    async def __call__(self, document: Document) -> Document:
        """The formatted document (``document`` itself is left as it was)."""


class NoFormatting(DocumentFormatter):
    """The formatter that returns the document as it is."""

    @make_executable(copy_self=False)
    async def __call__(self, document: Document) -> Document:
        """``document``, unchanged."""
        return document


@dataclasses.dataclass(kw_only=True)
class TextDocumentFormatter(DocumentFormatter):
    """Replaces a document's content by ``format_str`` filled in from the document.

    The other fields (id, title, URL, metadata) are kept. Override :meth:`_format_text`
    for text transformations a format string cannot express.

    Attributes:
        format_str: a ``str.format`` template that may name ``{text}`` (the content as
            text), ``{title}``, ``{doc_id}``, ``{url}`` and any key of the document's
            ``metadata``, e.g. ``"{text} (Title: {title})"``.
    """

    format_str: str = "{text}"

    def _format_text(self, document: Document, format_str: str) -> str:
        """``format_str`` filled in with ``document``'s fields and metadata (names and
        ``[index]`` lookups only: ``{title.__class__}`` is refused, a ``FormatError``)."""
        fields = _Fields(
            {
                **document.metadata,
                "text": document.text,
                "title": document.title,
                "doc_id": document.doc_id,
                "url": document.url,
            }
        )
        fields.doc_id = document.doc_id
        return format_fields(fields, format_str, where="TextDocumentFormatter")

    @make_executable(copy_self=False)
    async def __call__(self, document: Document) -> Document:
        """A copy of ``document`` whose content is the formatted text."""
        return dataclasses.replace(
            document,
            content=self._format_text(document, self.format_str),
            metadata=dict(document.metadata),
        )


class _Fields(dict[str, Any]):
    """A document's fields; a missing one says which the document has."""

    doc_id = ""

    def __missing__(self, key: str) -> Any:
        raise KeyError(
            f"{{{key}}} is not a field of document {self.doc_id!r}, which has "
            f"{sorted(self)}; name one of those, or add the key to its metadata"
        )
