"""Ready-made strategies built on the builtins: reasoning, ensembling, retrieval QA.

* ``reasoning.chain_of_thought``: reason first, then answer (``QACoTPromptChat``...);
* ``ensembling.self_consistency``: sample a strategy many times, vote on the answers;
* ``retrieval``: documents, retrievers, chunkers, corpus rewriters, and an index that
  finds documents by ``llm.embed`` similarity (``indexing.EmbeddingBasedDocumentIndex``,
  saved and loaded as a folder);
* ``qa.retrieval_qa``: question answering over a retriever (``SimpleRetrievalQAStrategy``).
"""

__all__: list[str] = []
