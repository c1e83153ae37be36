"""Retrieval for question answering: documents, retrievers, chunkers, rewriters, indexes.

* ``retrieval_data_structures.Document``: one unit of text (or media) to retrieve;
* ``retrieval.Retriever``: a query in, the most relevant results out, best first;
* ``chunking``, ``corpus_rewriting``, ``document_formatting``: prepare a corpus;
* ``indexing.EmbeddingBasedDocumentIndex``: documents found by ``llm.embed`` similarity.

The module paths and names are OneTwo's, so a notebook written for it runs unchanged.
"""

__all__: list[str] = []
