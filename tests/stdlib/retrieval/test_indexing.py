"""Indexes: embedding search by cosine similarity, ids, errors, save and load, baselines."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import random
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.builtins import llm
from onetwo.core.content import ChunkList
from onetwo.errors import BackendError, ConfigurationError, InvalidArgumentError
from onetwo.stdlib.retrieval import _vectors, chunking, corpus_rewriting, indexing
from onetwo.stdlib.retrieval.retrieval_data_structures import Document
from onetwo.stdlib.tool_use import llm_tool_use
from tests.stdlib.retrieval.conftest import word_counts

pytestmark = pytest.mark.usefixtures("words")


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def _zoo_index(zoo: list[Document]) -> indexing.EmbeddingBasedDocumentIndex:
    index = indexing.EmbeddingBasedDocumentIndex()
    ot.run(index.add_docs(zoo))
    return index


def test_the_notebook_query_finds_the_elephant(zoo: list[Document]) -> None:
    index = _zoo_index(zoo)
    assert index.num_docs == 3
    results = ot.run(index.retrieve("What is the largest land animal?", max_results=1))
    assert [d.doc_id for d in results] == ["elephant"]
    assert results[0] is zoo[1]


def test_results_are_ranked_by_cosine_similarity(zoo: list[Document]) -> None:
    index = _zoo_index(zoo)
    query = "Is the lion the largest land animal, or the elephant?"
    scored = ot.run(index.retrieve_with_scores(query))
    expected = sorted(
        (
            (d.doc_id, _cosine(word_counts(indexing.default_prepare_query(query)),
                               word_counts(indexing.default_prepare_document(d))))
            for d in zoo
        ),
        key=lambda pair: -pair[1],
    )  # fmt: skip
    assert [(d.doc_id, score) for d, score in scored] == [
        (doc_id, pytest.approx(score)) for doc_id, score in expected
    ]
    assert [d.doc_id for d, _ in scored] == ["elephant", "lion", "monkey"]
    assert ot.run(index(query, max_results=2)) == [d for d, _ in scored[:2]]
    positions = ot.run(index.retrieve_doc_indices_and_scores(query, min_score=scored[1][1]))
    assert positions == [(1, scored[0][1]), (0, scored[1][1])]
    assert ot.run(index.retrieve_doc_score(query, 2)) == pytest.approx(scored[2][1])


def test_the_score_ignores_the_length_of_the_vectors() -> None:
    llm.embed.configure(lambda content: [1.0, 0.0] if "one" in content else [10.0, 10.0])
    index = indexing.EmbeddingBasedDocumentIndex(prepare_query=str, prepare_document=str)
    ot.run(index.add_docs([Document(doc_id="a", content="one"), Document(doc_id="b")]))
    assert ot.run(index.retrieve_with_scores("one")) == [
        (index.get_docs()[0], pytest.approx(1.0)),
        (index.get_docs()[1], pytest.approx(math.sqrt(0.5))),
    ]


def test_add_docs_embeds_the_documents_concurrently() -> None:
    in_flight, most = 0, 0

    async def embed(content: str) -> list[float]:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0)
        in_flight -= 1
        return word_counts(content)

    llm.embed.configure(embed)
    index = indexing.EmbeddingBasedDocumentIndex()
    ot.run(index.add_docs(Document(doc_id=str(i), content="lion " * i) for i in range(20)))
    assert most == 20
    assert [d.doc_id for d in index.get_docs()] == [str(i) for i in range(20)]


def test_documents_without_an_id_get_one_by_position(zoo: list[Document]) -> None:
    index = indexing.EmbeddingBasedDocumentIndex()
    ot.run(index.add_docs([Document(content="lions"), Document(doc_id="doc_1", content="x")]))
    ot.run(index.add_docs([Document(content="trees")]))
    assert [d.doc_id for d in index.get_docs()] == ["doc_0", "doc_1", "doc_2"]


@pytest.mark.parametrize("second_batch", [False, True])
def test_a_doc_id_given_twice_is_refused_and_nothing_is_added(
    zoo: list[Document], second_batch: bool
) -> None:
    index = indexing.EmbeddingBasedDocumentIndex()
    batch = [*zoo, dataclasses.replace(zoo[0], content="another lion")]
    if second_batch:
        ot.run(index.add_docs(zoo[:1]))
        batch = batch[1:]
    before = index.num_docs
    with pytest.raises(InvalidArgumentError, match=r"doc_id \['lion'\] is given to more than one"):
        ot.run(index.add_docs(batch))
    assert index.num_docs == before


def test_a_failed_embedding_adds_nothing(zoo: list[Document]) -> None:
    def embed(content: str) -> list[float]:
        if "Monkey" in content:
            raise BackendError("the embedding server went away")
        return word_counts(content)

    llm.embed.configure(embed)
    index = indexing.EmbeddingBasedDocumentIndex()
    with pytest.raises(BackendError, match="went away"):
        ot.run(index.add_docs(zoo))
    assert index.num_docs == 0 and index.get_docs() == []


def test_retrieving_from_an_empty_index_says_to_add_documents() -> None:
    index = indexing.EmbeddingBasedDocumentIndex()
    with pytest.raises(ConfigurationError, match=r"is empty.*index.add_docs\(docs\)"):
        ot.run(index.retrieve("anything"))


@pytest.mark.parametrize("bad", [0, -3, 1.5])
def test_max_results_must_be_at_least_one(zoo: list[Document], bad: Any) -> None:
    index = _zoo_index(zoo)
    with pytest.raises(InvalidArgumentError, match=rf"max_results must be .*; got {bad!r}"):
        ot.run(index.retrieve("lion", max_results=bad))


def test_an_embedding_of_another_size_is_refused(zoo: list[Document]) -> None:
    index = _zoo_index(zoo)
    llm.embed.configure(lambda content: [*word_counts(content), 0.0])
    with pytest.raises(ConfigurationError, match="size 9 for the query, but the index"):
        ot.run(index.retrieve("lion"))
    with pytest.raises(ConfigurationError, match="size 9 for document 0 of the batch"):
        ot.run(index.add_docs([Document(doc_id="new", content="lion")]))
    assert index.num_docs == 3


@pytest.mark.parametrize("reply", [[], "0.5", [float("nan"), 1.0], None])
def test_an_embedding_that_is_not_a_vector_is_a_backend_error(reply: Any) -> None:
    llm.embed.configure(lambda content: reply)
    index = indexing.EmbeddingBasedDocumentIndex()
    with pytest.raises(BackendError, match="an embedding must be a non-empty list of finite"):
        ot.run(index.add_docs([Document(doc_id="a", content="lion")]))


def test_retrieve_doc_score_refuses_a_position_outside_the_index(zoo: list[Document]) -> None:
    with pytest.raises(InvalidArgumentError, match=r"0 to 2; got 3"):
        ot.run(_zoo_index(zoo).retrieve_doc_score("lion", 3))


def test_save_and_load_keep_documents_embeddings_and_results(
    zoo: list[Document], tmp_path: Path
) -> None:
    index = indexing.EmbeddingBasedDocumentIndex(corpus_name="zoo")
    docs = [*zoo, Document(doc_id="img", content=ChunkList(["lion ", b"\x89PNG"]))]
    ot.run(index.add_docs(docs))
    index.save(tmp_path / "zoo")
    loaded = indexing.EmbeddingBasedDocumentIndex()
    ot.run(loaded.load(str(tmp_path / "zoo")))
    assert (loaded.corpus_name, loaded.num_docs, loaded.embedding_size) == ("zoo", 4, 8)
    assert loaded.get_docs()[:3] == zoo
    assert loaded.get_docs()[3].content == docs[3].text  # media saved as placeholders
    for query in ["largest land animal", "prides of lions", "trees"]:
        assert ot.run(loaded.retrieve_with_scores(query)) == [
            (loaded.get_docs()[index.get_docs().index(d)], s)
            for d, s in ot.run(index.retrieve_with_scores(query))
        ]
    with pytest.raises(InvalidArgumentError, match=r"\['lion'\] is given to more than one"):
        ot.run(loaded.add_docs(zoo[:1]))


def test_embeddings_are_saved_exactly(tmp_path: Path) -> None:
    rng = random.Random(7)
    vectors = {str(i): [rng.uniform(-1, 1) for _ in range(5)] for i in range(4)}
    llm.embed.configure(lambda content: vectors[content])
    index = indexing.EmbeddingBasedDocumentIndex(prepare_document=lambda d: d.text)
    ot.run(index.add_docs([Document(doc_id=k, content=k) for k in vectors]))
    index.save(tmp_path)
    loaded = indexing.EmbeddingBasedDocumentIndex()
    ot.run(loaded.load(tmp_path))
    assert [list(e) for e in loaded._embeddings] == list(vectors.values())


def test_saving_to_a_file_or_loading_what_is_not_an_index_is_refused(
    zoo: list[Document], tmp_path: Path
) -> None:
    index = _zoo_index(zoo)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("hello")
    with pytest.raises(InvalidArgumentError, match=r"notes.txt': it is a file"):
        index.save(a_file)
    with pytest.raises(InvalidArgumentError, match=r"does not hold a saved index: index.json is"):
        ot.run(indexing.EmbeddingBasedDocumentIndex().load(tmp_path / "nowhere"))
    index.save(tmp_path / "zoo")
    manifest = tmp_path / "zoo" / "index.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "num_docs": 5}))
    empty = indexing.EmbeddingBasedDocumentIndex()
    with pytest.raises(InvalidArgumentError, match=r"announces 5 documents .* hold 3 documents"):
        ot.run(empty.load(tmp_path / "zoo"))
    assert empty.num_docs == 0


def test_destroy_and_create_index(zoo: list[Document]) -> None:
    index = indexing.EmbeddingBasedDocumentIndex()
    ot.run(index.create_index("zoo", zoo))
    assert (index.corpus_name, index.num_docs) == ("zoo", 3)
    with pytest.raises(InvalidArgumentError, match="already holds 3 documents"):
        ot.run(index.create_index("again", zoo))
    index.destroy_index()
    assert index.num_docs == 0
    ot.run(index.add_docs(zoo))  # the ids are free again
    assert repr(index) == (
        "EmbeddingBasedDocumentIndex(corpus_name='zoo', num_docs=3, embedding_size=8)"
    )


def test_a_rewriting_index_chunks_before_indexing(zoo: list[Document], tmp_path: Path) -> None:
    class Sentences(chunking.TextChunker):
        async def _chunk_text(self, text: str) -> list[str]:
            return [s.strip() + "." for s in text.split(".") if s.strip()]

    index = indexing.RewritingEmbeddingBasedDocumentIndex(
        rewriter=corpus_rewriting.ChunkingCorpusRewriter(chunker=Sentences())
    )
    ot.run(index.create_index("zoo", zoo))
    assert (index.num_docs, index.inner_index.corpus_name) == (6, "zoo")
    [best] = ot.run(index.retrieve("Where are the trees?", max_results=1))
    assert (best.doc_id, best.content) == (
        "monkey_1",
        "Monkeys are primates that often live in trees.",
    )
    scored = ot.run(index.retrieve_with_scores("long trunks", max_results=1))
    assert scored[0][0].doc_id == "elephant_2"
    position, score = ot.run(index.retrieve_doc_indices_and_scores("long trunks"))[0]
    assert index.get_docs()[position].doc_id == "elephant_2" and score == scored[0][1]
    assert ot.run(index.retrieve_doc_score("long trunks", position)) == pytest.approx(score)
    index.save(tmp_path)
    loaded = indexing.RewritingEmbeddingBasedDocumentIndex()
    ot.run(loaded.load(tmp_path))
    assert (loaded.corpus_name, loaded.get_docs()) == ("zoo", index.get_docs())


def test_naive_and_empty_indexes_ignore_the_query(zoo: list[Document]) -> None:
    naive = indexing.NaiveIndex()
    ot.run(naive.add_docs(zoo))
    assert ot.run(naive.retrieve("anything", max_results=2)) == zoo[:2]
    shuffled = indexing.NaiveIndex(docs=list(zoo), shuffle_results=True)
    state = random.getstate()
    orders = {q: [d.doc_id for d in ot.run(shuffled(q))] for q in ["a", "b", "c", "d", "e"]}
    assert random.getstate() == state  # the global generator is left alone
    assert all(sorted(o) == ["elephant", "lion", "monkey"] for o in orders.values())
    assert len({tuple(o) for o in orders.values()}) > 1
    assert [d.doc_id for d in ot.run(shuffled("a"))] == orders["a"]
    empty = indexing.EmptyIndex()
    ot.run(empty.add_docs(zoo))
    assert (empty.num_docs, ot.run(empty("lion"))) == (0, [])


def test_a_sync_tool_can_run_a_retrieval_inside_an_outer_run(zoo: list[Document]) -> None:
    index = _zoo_index(zoo)

    def retrieve_zoo_info(query: str) -> str:
        """Retrieves facts about animals in the zoo."""
        docs = ot.run(index.retrieve(query, max_results=1))  # on a worker thread, as cell 44
        return "\n".join(f"- {d.content}" for d in docs)

    tool = llm_tool_use.Tool(
        name="retrieve_zoo_info",
        function=retrieve_zoo_info,
        description="Retrieves facts about animals in the zoo based on a query.",
    )

    @ot.make_executable
    async def outer() -> list[str]:
        return await ot.parallel(tool("largest land animal"), tool("trees"))

    assert ot.run(outer()) == [f"- {zoo[1].content}", f"- {zoo[2].content}"]


def test_adding_and_retrieving_show_in_the_trace(zoo: list[Document]) -> None:
    index = indexing.EmbeddingBasedDocumentIndex()
    _, added = ot.run(index.add_docs(zoo), enable_tracing=True)
    assert [n.name for n in added.walk()] == ["EmbeddingBasedIndex.add_docs", *["llm.embed"] * 3]
    results, trace = ot.run(index.retrieve("trees", max_results=1), enable_tracing=True)
    [node] = [n for n in trace.walk() if n.name == "EmbeddingBasedIndex.search"]
    assert node.inputs["query"] == "trees" and node.inputs["max_results"] == 1
    assert results == [zoo[2]]
    # The query has "tree" once; the monkey document "monkey" twice and "tree" once.
    assert node.outputs == [(2, pytest.approx(1 / math.sqrt(5)))]


def test_chunks_of_documents_without_ids_are_numbered_by_the_index() -> None:
    class Words(chunking.TextChunker):
        def _chunk_text(self, text: str) -> list[str]:
            return text.split()

    index = indexing.RewritingEmbeddingBasedDocumentIndex(
        rewriter=corpus_rewriting.ChunkingCorpusRewriter(chunker=Words())
    )
    ot.run(index.add_docs([Document(content="lion trunk"), Document(content="tree")]))
    assert [(d.doc_id, d.content) for d in index.get_docs()] == [
        ("doc_0", "lion"),
        ("doc_1", "trunk"),
        ("doc_2", "tree"),
    ]


def test_an_index_of_plain_strings() -> None:
    index: indexing.EmbeddingBasedIndex[str, str] = indexing.EmbeddingBasedIndex()
    ot.run(index.add_docs(["a lion", "a tree", "a lion"]))  # no ids: repeats are allowed
    assert ot.run(index.retrieve("tree", max_results=1)) == ["a tree"]
    assert index.num_docs == 3


def test_concurrent_batches_of_documents_without_ids_get_distinct_ids() -> None:
    index = indexing.EmbeddingBasedDocumentIndex()
    batches = [[Document(content=f"lion {b}{i}") for i in range(3)] for b in "ab"]
    ot.run(ot.parallel(*(index.add_docs(batch) for batch in batches)))
    assert sorted(d.doc_id for d in index.get_docs()) == [f"doc_{i}" for i in range(6)]


async def test_a_search_leaves_the_event_loop_free_for_other_work(
    zoo: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ranking is one pass over every number: on a pool thread, not on the loop, so the
    # other runs' requests are not held while a large index is searched. Here the ranking
    # waits until the loop has done something else; on the loop it would wait in vain.
    index = indexing.EmbeddingBasedDocumentIndex()
    await index.add_docs(zoo)
    ranking, loop_was_free = threading.Event(), threading.Event()
    rank = _vectors.best

    def held_rank(*args: Any, **kwargs: Any) -> list[tuple[int, float]]:
        ranking.set()
        return rank(*args, **kwargs) if loop_was_free.wait(timeout=5) else []

    monkeypatch.setattr(_vectors, "best", held_rank)
    search = asyncio.ensure_future(index.retrieve("trees", max_results=1))
    assert await asyncio.to_thread(ranking.wait, 5)
    loop_was_free.set()  # the loop runs this test's code while the ranking waits
    assert await search == [zoo[2]]


async def test_a_search_answers_from_the_index_as_it_was_when_the_search_began(
    zoo: list[Document],
) -> None:
    query_seen, release = asyncio.Event(), asyncio.Event()

    async def embed(content: str) -> list[float]:
        if content == "trees":  # the query: hold the search here
            query_seen.set()
            await release.wait()
        return word_counts(content)

    llm.embed.configure(embed)
    index = indexing.EmbeddingBasedDocumentIndex(prepare_query=lambda q: q)
    await index.add_docs(zoo)
    search = asyncio.ensure_future(index.retrieve_with_scores("trees", max_results=1))
    score = asyncio.ensure_future(index.retrieve_doc_score("trees", 2))
    await query_seen.wait()
    index.destroy_index()  # while both wait for the query's embedding
    await index.add_docs([Document(doc_id="new", content="an elephant")])
    release.set()
    [(doc, best)] = await search
    assert doc is zoo[2] and best == pytest.approx(1 / math.sqrt(5))
    assert await score == pytest.approx(best)
    assert [d.doc_id for d in await index.retrieve("trees")] == ["new"]


def test_a_failed_save_leaves_the_previous_save_loadable(
    zoo: list[Document], tmp_path: Path
) -> None:
    folder = tmp_path / "zoo"
    index = _zoo_index(zoo)
    index.save(folder)
    first = sorted(p.name for p in folder.iterdir())
    ot.run(
        index.add_docs(
            [Document(doc_id="visit", content="lion", metadata={"on": date(2026, 12, 2)})]
        )
    )
    with pytest.raises(InvalidArgumentError, match=r"document 3 \('visit'\).*isoformat"):
        index.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == first  # nothing was touched
    again = indexing.EmbeddingBasedDocumentIndex()
    ot.run(again.load(folder))
    assert again.num_docs == 3


def test_a_new_save_replaces_the_old_files_and_keeps_text_as_utf8(
    zoo: list[Document], tmp_path: Path
) -> None:
    folder = tmp_path / "zoo"
    _zoo_index(zoo).save(folder)
    index = _zoo_index([*zoo, Document(doc_id="Zürich", title="Café", content="Löwe lion")])
    index.save(folder)
    assert len(list(folder.iterdir())) == 3  # the first save's data files are gone
    again = indexing.EmbeddingBasedDocumentIndex()
    ot.run(again.load(folder))
    assert [(d.doc_id, d.title) for d in again.get_docs()][-1] == ("Zürich", "Café")
    manifest = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    (folder / manifest["docs"]).write_text('{"doc_id": "a"}\n{not json\n', encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=r"line 2 of docs-\w+\.jsonl is no document"):
        ot.run(indexing.EmbeddingBasedDocumentIndex().load(folder))


def test_a_save_that_fails_at_the_end_leaves_no_files_of_its_own(
    zoo: list[Document], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from onetwo.stdlib.retrieval import _index_files

    folder = tmp_path / "zoo"
    index = _zoo_index(zoo)
    index.save(folder)
    first = sorted(p.name for p in folder.iterdir())

    def full_disk(path: object, mode: str = "wb") -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_index_files, "atomic_open", full_disk)
    with pytest.raises(OSError, match="No space left"):
        index.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == first
    again = indexing.EmbeddingBasedDocumentIndex()
    ot.run(again.load(folder))
    assert again.num_docs == 3


def test_the_task_type_goes_with_every_embedding(zoo: list[Document]) -> None:
    asked: list[str | None] = []

    def embed(content: str, task_type: str | None = None) -> list[float]:
        asked.append(task_type)
        return word_counts(content)

    llm.embed.configure(embed)
    index = indexing.EmbeddingBasedDocumentIndex(task_type="RETRIEVAL_DOCUMENT")
    ot.run(index.add_docs(zoo))
    ot.run(index.retrieve("What is the largest land animal?"))
    assert asked == ["RETRIEVAL_DOCUMENT"] * (len(zoo) + 1)
    asked.clear()
    plain = indexing.EmbeddingBasedDocumentIndex()  # none by default: any backend embeds
    ot.run(plain.add_docs(zoo[:1]))
    assert asked == [None]
