"""The notebook's zoo corpus, and a word-count embedding under which similar texts are.

The FakeBackend's embeddings are hashes (any two texts are unrelated), so the tests
configure ``llm.embed`` with this small real embedding instead: one dimension per word
of :data:`VOCABULARY`, counting its occurrences (plural ``s`` dropped).
"""

from __future__ import annotations

import re

import pytest

from onetwo.builtins import llm
from onetwo.core.content import ChunkList
from onetwo.stdlib.retrieval.retrieval_data_structures import Document

VOCABULARY = ("lion", "elephant", "monkey", "largest", "land", "tree", "prides", "trunk")


def word_counts(content: str | ChunkList) -> list[float]:
    """How often each word of :data:`VOCABULARY` occurs in ``content``."""
    words = [w.removesuffix("s") for w in re.findall(r"[a-z]+", str(content).lower())]
    return [float(words.count(v.removesuffix("s"))) for v in VOCABULARY]


@pytest.fixture
def words() -> None:
    """``llm.embed`` is :func:`word_counts` in this test's registry."""
    llm.embed.configure(word_counts)


@pytest.fixture
def zoo() -> list[Document]:
    """The toy corpus of the reference's rag_tutorial notebook (cell 23)."""
    return [
        Document(
            doc_id="lion",
            content="Lions are large cats that live in prides. They are apex predators.",
            title="Lion Facts",
        ),
        Document(
            doc_id="elephant",
            content="Elephants are the largest land animals. They have long trunks and tusks.",
            title="Elephant Facts",
        ),
        Document(
            doc_id="monkey",
            content=(
                "Monkeys are primates that often live in trees. They are known for their "
                "intelligence."
            ),
            title="Monkey Facts",
        ),
    ]
