"""The document: what a corpus holds, what an index returns, what a prompt quotes.

A :class:`Document` carries its content (text, or a ``ChunkList`` with images) and where
it came from: an id to cite, a title, a URL, and free metadata. A chunker cuts one
document into several and records in each chunk's metadata which document it came from
and where (the ``METADATA_FIELD_*`` keys), so an answer built on a chunk can still cite
its source.

Example:
    >>> doc = Document(doc_id="lion", title="Lion Facts", content="Lions live in prides.")
    >>> doc.text
    'Lions live in prides.'
    >>> Document.from_dict(doc.to_dict()) == doc
    True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from onetwo.core.content import ChunkList
from onetwo.errors import InvalidArgumentError

__all__ = [
    "METADATA_FIELD_CHUNK_NUMBER",
    "METADATA_FIELD_ORIGINAL_DOC_ID",
    "METADATA_FIELD_TOTAL_NUMBER_OF_CHUNKS",
    "Document",
]

METADATA_FIELD_CHUNK_NUMBER = "chunk_number"
"""A chunk's position in its source document, from 1."""

METADATA_FIELD_TOTAL_NUMBER_OF_CHUNKS = "total_number_of_chunks"
"""How many chunks the source document was cut into."""

METADATA_FIELD_ORIGINAL_DOC_ID = "original_doc_id"
"""The ``doc_id`` of the document a chunk was cut from."""


@dataclasses.dataclass(kw_only=True)
class Document:
    """One retrievable unit: ``content`` plus the ``doc_id``, ``title``, ``url`` and
    ``metadata`` that say what it is and where it came from.

    ``doc_id`` may be left empty: an index gives such a document an id when it is added.
    """

    doc_id: str = ""
    title: str = ""
    content: str | ChunkList = ""
    url: str = ""
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def text(self) -> str:
        """The content as plain text (media as placeholders such as ``<image/png>``)."""
        return str(self.content)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (text content; ``from_dict`` reverses it)."""
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "content": self.content if isinstance(self.content, str) else self.text,
            "url": self.url,
            "metadata": dict(self.metadata),
        }

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Document:
        """A document from :meth:`to_dict`'s fields; unknown keys are refused."""
        if not isinstance(data, Mapping):
            raise InvalidArgumentError(
                f"Document.from_dict takes a mapping of field names to values; "
                f"got {type(data).__name__} {data!r:.60}."
            )
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - fields)
        if unknown:
            raise InvalidArgumentError(
                f"Document.from_dict: unknown fields {unknown}; a Document has {sorted(fields)}."
            )
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Document:
        """A document from :meth:`to_json`'s text."""
        return cls.from_dict(json.loads(text))
