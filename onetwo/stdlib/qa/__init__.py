"""Question answering strategies: a question in, an answer out.

* ``qa``: the interfaces (``QAStrategy``, ``ContextualQAStrategy``) and ``QAExample``;
* ``retrieval_qa``: strategies that look the answer up with a retriever first
  (``SimpleRetrievalQAStrategy``).

The module paths and names are OneTwo's, so a notebook written for it runs unchanged.
"""

__all__: list[str] = []
