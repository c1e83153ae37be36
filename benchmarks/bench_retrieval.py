"""The embedding index: a query over 10,000 documents, and what the index holds in memory.

``EmbeddingBasedDocumentIndex`` over 10,000 documents of 384 dimensions, with an
``llm.embed`` that returns precomputed vectors (so the index is timed, not a model).
Figures, each next to its floor measured in the same run:

* ``retrieve(q, max_results=5)`` and ``max_results=None``, median ms per query, against
  the 10,000 dot products alone over plain lists, with the index's own ``dot`` (the
  least a pure-Python cosine costs);
* the index's memory (RSS growth while adding, embeddings precomputed beforehand), against
  the embeddings' numbers at 8 bytes each;
* ``add_docs``, ``save`` and ``load`` once, in seconds.

    .venv/bin/python benchmarks/bench_retrieval.py [--docs 10000] [--dims 384] [--queries 15]
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import rss_bytes, table

from onetwo import ot
from onetwo.builtins import llm
from onetwo.stdlib.retrieval import indexing
from onetwo.stdlib.retrieval._vectors import dot
from onetwo.stdlib.retrieval.retrieval_data_structures import Document


def _vector(text: str, dims: int) -> list[float]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    return [rng.gauss(0, 1) for _ in range(dims)]


def _median_ms(fn: Callable[[str], object], queries: list[str]) -> float:
    times = []
    for q in queries:
        start = time.perf_counter()
        fn(q)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--dims", type=int, default=384)
    parser.add_argument("--queries", type=int, default=15)
    args = parser.parse_args()

    docs = [Document(doc_id=str(i), content=f"document {i}") for i in range(args.docs)]
    queries = [f"query {i}" for i in range(args.queries)]
    texts = [indexing.default_prepare_document(d) for d in docs]
    texts += [indexing.default_prepare_query(q) for q in queries]
    vectors = {t: _vector(t, args.dims) for t in texts}
    llm.embed.configure(lambda content: vectors[str(content)])

    index = indexing.EmbeddingBasedDocumentIndex()
    gc.collect()
    before = rss_bytes()
    start = time.perf_counter()
    ot.run(index.add_docs(docs))
    add_s = time.perf_counter() - start
    gc.collect()
    held = rss_bytes() - before
    numbers = args.docs * args.dims * 8

    top5 = _median_ms(lambda q: ot.run(index.retrieve(q, max_results=5)), queries)
    every = _median_ms(lambda q: ot.run(index.retrieve(q)), queries)
    rows = [vectors[t] for t in texts[: args.docs]]

    def products(q: str) -> list[float]:
        query = vectors[indexing.default_prepare_query(q)]
        return [dot(query, row) for row in rows]

    floor = _median_ms(products, queries)

    folder = tempfile.mkdtemp()
    start = time.perf_counter()
    index.save(folder)
    save_s = time.perf_counter() - start
    again = indexing.EmbeddingBasedDocumentIndex()
    start = time.perf_counter()
    ot.run(again.load(folder))
    load_s = time.perf_counter() - start

    def row(name: str, ours: float, least: float) -> tuple[str, str, str, str]:
        return (name, f"{ours:.1f}", f"{least:.1f}", f"{ours / least:.2f}x")

    print(f"{args.docs} documents x {args.dims} dimensions, {args.queries} queries")
    once = f"{add_s:.2f} / {save_s:.2f} / {load_s:.2f}"
    print(
        table(
            [
                ("measure", "onetwo", "floor", "ratio"),
                row("retrieve, max_results=5, ms", top5, floor),
                row("retrieve, max_results=None, ms", every, floor),
                row("index memory, MB", held / 1e6, numbers / 1e6),
                ("add_docs / save / load, s", once, "", ""),
            ]
        )
    )


if __name__ == "__main__":
    main()
