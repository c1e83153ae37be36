"""The embedding index on the real local model (SmolLM2 in llama.cpp, mean-pooled).

SmolLM2 is a small chat model, not a retrieval model: its mean-pooled embeddings share
one dominant direction (every pair of zoo documents scores above 0.8), and on the
notebook's question "What is the largest land animal?" it ranks the monkey first
(0.76) and the elephant second (0.73). So the test asserts what any deterministic
embedding guarantees: a document's own text finds that document with a cosine of 1,
and an index saved and loaded answers as before, on the model's real 576-dimensional
vectors.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from onetwo import ot
from onetwo.stdlib.retrieval import indexing
from onetwo.stdlib.retrieval.retrieval_data_structures import Document
from tests.rig.availability import rig_missing

pytestmark = pytest.mark.rig


@pytest.fixture
def local_model() -> None:
    """The embedded model registered in this test's registry (skip if not installed)."""
    reason = rig_missing()
    if reason:
        pytest.skip(f"the local model rig is missing: {reason}")
    from onetwo.backends.local import local_backend

    local_backend().register()


@pytest.mark.usefixtures("local_model")
def test_zoo_documents_find_themselves_and_survive_save_and_load(
    zoo: list[Document], tmp_path: Path
) -> None:
    exact = indexing.EmbeddingBasedDocumentIndex(
        prepare_query=str, prepare_document=lambda d: d.text
    )
    ot.run(exact.add_docs(zoo))
    assert exact.embedding_size is not None and exact.embedding_size > 100
    for doc in zoo:
        [(best, score)] = ot.run(exact.retrieve_with_scores(doc.text, max_results=1))
        assert best.doc_id == doc.doc_id
        assert score == pytest.approx(1.0, abs=1e-3)

    index = indexing.EmbeddingBasedDocumentIndex(corpus_name="zoo")  # the notebook's defaults
    ot.run(index.add_docs(zoo))
    query = "What is the largest land animal?"
    scored = ot.run(index.retrieve_with_scores(query))
    assert sorted(d.doc_id for d, _ in scored) == ["elephant", "lion", "monkey"]
    assert [s for _, s in scored] == sorted((s for _, s in scored), reverse=True)
    assert all(-1.0 <= s <= 1.0 for _, s in scored)
    index.save(tmp_path)
    loaded = indexing.EmbeddingBasedDocumentIndex()
    ot.run(loaded.load(tmp_path))
    again = ot.run(loaded.retrieve_with_scores(query))
    assert [(d.doc_id, s) for d, s in again] == [
        (d.doc_id, pytest.approx(s, abs=1e-4)) for d, s in scored
    ]
