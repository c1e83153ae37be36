"""``llm.embed(content, task_type=...)``: Gemini's embeddings per task, as in OneTwo.

The reference's tutorial embeds its documents with ``task_type='RETRIEVAL_DOCUMENT'`` and
the query with ``'QUESTION_ANSWERING'``. Gemini sends the type with each request;
concurrent calls are still batched, one server request per type; a backend without task
types refuses the argument instead of ignoring it.
"""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

import pytest

from onetwo import ot
from onetwo.builtins import llm
from onetwo.core import caching
from onetwo.core.content import Chunk, ChunkList
from onetwo.errors import BackendError, InvalidArgumentError
from tests.rig.gemini_shim import GeminiShim

pytestmark = pytest.mark.rig
genai_api = pytest.importorskip("onetwo.backends.google_genai_api")


def gemini(shim: GeminiShim, **options: Any) -> Any:
    return genai_api.GoogleGenAIAPI(
        "gemini-2.5-flash",
        api_key="gemini-test-key-0123456789",
        base_url=shim.url,
        embedding_dimensions=16,
        **options,
    )


def embed_requests(shim: GeminiShim, since: int) -> list[list[dict[str, Any]]]:
    """The ``requests`` of each ``batchEmbedContents`` call from the ``since``-th on."""
    return [
        r.body["requests"]
        for r in shim.requests[since:]
        if r.path.split("?")[0].endswith(":batchEmbedContents")
    ]


def task_of(request: dict[str, Any]) -> Any:
    return request.get("taskType", request.get("task_type"))


def test_concurrent_calls_are_batched_one_request_per_task_type(gemini_shim: GeminiShim) -> None:
    calls = {
        "doc 1": "RETRIEVAL_DOCUMENT",
        "doc 2": "RETRIEVAL_DOCUMENT",
        "query": "QUESTION_ANSWERING",
        "plain": None,
    }
    start = len(gemini_shim.requests)
    with ot.RegistryContext():
        gemini(gemini_shim).register()
        vectors = ot.run(ot.parallel(*[llm.embed(t, task_type=k) for t, k in calls.items()]))
        sent = embed_requests(gemini_shim, start)
        singles = [ot.run(llm.embed(t, task_type=k)) for t, k in calls.items()]
    assert [len(v) for v in vectors] == [16] * 4
    for batched, single in zip(vectors, singles):  # (the server's batches differ in rounding)
        assert batched == pytest.approx(single, abs=1e-5)
    assert len(sent) == 3  # three task types (None among them), four texts
    by_task = {task_of(batch[0]): batch for batch in sent}
    assert sorted(by_task, key=str) == sorted(
        {"RETRIEVAL_DOCUMENT", "QUESTION_ANSWERING", None}, key=str
    )
    assert len(by_task["RETRIEVAL_DOCUMENT"]) == 2
    for task, batch in by_task.items():
        assert all(task_of(r) == task for r in batch)


def test_a_task_type_has_its_own_entry_and_the_plain_key_is_unchanged(
    gemini_shim: GeminiShim, tmp_path: pathlib.Path
) -> None:
    cache = caching.open_cache(tmp_path / "cache")
    with ot.RegistryContext():
        gemini(gemini_shim, cache=cache).register()
        plain = ot.run(llm.embed("a zebra"))
        typed = ot.run(llm.embed("a zebra", task_type="RETRIEVAL_QUERY"))
        start = len(gemini_shim.requests)
        assert ot.run(llm.embed("a zebra", task_type="RETRIEVAL_QUERY")) == typed
        assert ot.run(llm.embed("a zebra")) == plain
        assert len(gemini_shim.requests) == start  # both replayed
    calls = {r["call"]["method"]: r["call"]["params"] for r in cache.records()}
    assert calls == {
        "llm.embed": {"content": "a zebra"},  # as before task types existed
        "llm.embed.task_type": {"content": "a zebra", "task_type": "RETRIEVAL_QUERY"},
    }


def test_a_task_type_must_be_a_name(gemini_shim: GeminiShim) -> None:
    with ot.RegistryContext():
        gemini(gemini_shim).register()
        for bad in ("", 3):
            with pytest.raises(InvalidArgumentError, match="task_type must be a task name"):
                ot.run(llm.embed("a zebra", task_type=bad))  # type: ignore[arg-type]


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))


def test_an_image_is_embedded_as_its_parts_on_gemini(
    gemini_shim: GeminiShim, tmp_path: pathlib.Path
) -> None:
    # The reference tutorial's multimodal retrieval: embed(image_chunk_list, task_type=...).
    picture = ChunkList([Chunk("A fox in the snow."), Chunk(PNG, "image/png")])
    cache, start = caching.open_cache(tmp_path / "cache"), len(gemini_shim.requests)
    with ot.RegistryContext():
        gemini(gemini_shim, cache=cache).register()
        vector = ot.run(llm.embed(picture, task_type="RETRIEVAL_DOCUMENT"))
    assert len(vector) == 16
    ((request,),) = embed_requests(gemini_shim, start)  # one request of one content
    parts = request["content"]["parts"]
    assert parts[0] == {"text": "A fox in the snow."}
    inline = parts[1].get("inlineData") or parts[1]["inline_data"]  # (either spelling)
    assert (inline.get("mimeType") or inline["mime_type"]) == "image/png"
    assert task_of(request) == "RETRIEVAL_DOCUMENT"
    assert [r["call"]["method"] for r in cache.records()] == ["llm.embed.media"]


def test_a_text_embedder_refuses_media_instead_of_embedding_a_placeholder() -> None:
    openai_api = pytest.importorskip("onetwo.backends.openai_api")
    backend = openai_api.OpenAIAPI("smollm2", api_key="k", base_url="http://127.0.0.1:9/v1")
    picture = ChunkList([Chunk("A fox."), Chunk(PNG, "image/png")])
    with pytest.raises(InvalidArgumentError, match="embeds text; the content holds an image"):
        ot.run(backend.embed(picture))
    with pytest.raises(InvalidArgumentError, match="takes text; the prompt holds an image"):
        ot.run(backend.generate_object(picture, int))


class _RefusingBad(genai_api.GoogleGenAIAPI):  # type: ignore[name-defined]
    """Gemini whose server refuses the task type "BAD" (no other request is made)."""

    async def _embed_texts(self, texts: list[str], task_type: str | None = None) -> Any:
        await asyncio.sleep(0)
        if task_type == "BAD":
            raise BackendError("the server refused BAD")
        return [[float(len(t))] for t in texts]


def test_each_task_type_is_its_own_batch_and_fails_alone() -> None:
    backend = _RefusingBad("gemini-2.5-flash", api_key="k", base_url="http://127.0.0.1:9")
    with ot.RegistryContext():
        backend.register()
        calls = [
            llm.embed("a", task_type="RETRIEVAL_DOCUMENT"),
            llm.embed("bb"),
            llm.embed("ccc", task_type="BAD"),
            llm.embed("dddd", task_type="RETRIEVAL_DOCUMENT"),
        ]
        results = ot.run(_gathered(calls))
    assert results[0] == [1.0] and results[1] == [2.0] and results[3] == [4.0]
    assert isinstance(results[2], BackendError)  # the other types' callers got theirs
    assert backend._embed_batch.stats().batches == 3


async def _gathered(calls: list[Any]) -> list[Any]:
    return await asyncio.gather(*calls, return_exceptions=True)
