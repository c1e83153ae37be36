"""Retrieval for question answering: documents, retrievers, chunkers, rewriters, indexes.

* ``retrieval_data_structures.Document``: one unit of text (or media) to retrieve;
* ``retrieval.Retriever``: a query in, the most relevant results out, best first;
* ``chunking``, ``corpus_rewriting``, ``document_formatting``: prepare a corpus (cut
  documents into chunks, put each chunk's title before its text);
* ``indexing.EmbeddingBasedDocumentIndex``: documents found by the cosine similarity of
  their ``llm.embed`` embeddings, in pure Python; ``save``/``load`` keep it in a folder.

``onetwo.stdlib.qa.retrieval_qa`` answers questions with a retriever.

The module paths and names are OneTwo's, so a notebook written for it runs unchanged.
"""

__all__: list[str] = []
