"""The examples in the docstrings of the retrieval and QA modules run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "onetwo.stdlib.qa.qa",
    "onetwo.stdlib.qa.retrieval_qa",
    "onetwo.stdlib.retrieval._index_files",
    "onetwo.stdlib.retrieval._vectors",
    "onetwo.stdlib.retrieval.chunking",
    "onetwo.stdlib.retrieval.corpus_rewriting",
    "onetwo.stdlib.retrieval.document_formatting",
    "onetwo.stdlib.retrieval.indexing",
    "onetwo.stdlib.retrieval.retrieval",
    "onetwo.stdlib.retrieval.retrieval_data_structures",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0, f"{name} has no example"
    assert result.failed == 0
