"""Bytes and images in the call cache: keyed by their digest, stored once by content."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from onetwo.core import caching
from onetwo.core.backend import Backend
from onetwo.core.cache_record import decode, encode, key_json
from onetwo.core.content import Chunk
from onetwo.errors import CacheError

FIVE_MB = bytes(range(256)) * (5 * 2**20 // 256)


class Image:
    """An image as the content ``Chunk`` exposes one: ``as_bytes() -> (bytes, mime)``."""

    def __init__(self, data: bytes, mime: str = "image/png") -> None:
        self.data, self.mime, self.role = data, mime, None

    def as_bytes(self) -> tuple[bytes, str]:
        return self.data, self.mime


class Vision(Backend):
    provider = "test"

    def __init__(self, cache: Any) -> None:
        super().__init__(model="vision", cache=cache)
        self.calls = 0

    @caching.cache_method(name="test.describe")
    async def describe(self, image: Any, question: str = "what is it?") -> str:
        self.calls += 1
        return f"answer {self.calls}"

    @caching.cache_method(name="test.render")
    async def render(self, n: int) -> Any:
        return {"png": FIVE_MB, "n": n}


def _entries(cache: caching.CallCache) -> int:
    return cache.stats()["entries"]


def test_two_images_give_two_keys_and_the_same_bytes_twice_one(tmp_path: Path) -> None:
    backend = Vision(cache=tmp_path / "cache")
    a, b = b"\x89PNG" + b"a" * 1000, b"\x89PNG" + b"b" * 1000
    assert asyncio.run(backend.describe(Image(a))) == "answer 1"
    assert asyncio.run(backend.describe(Image(b))) == "answer 2"
    assert asyncio.run(backend.describe(Image(bytes(a)))) == "answer 1"  # loaded again
    assert asyncio.run(backend.describe(Image(a, "image/jpeg"))) == "answer 3"
    assert asyncio.run(backend.describe(a)) == "answer 4"  # raw bytes: keyed by digest too
    assert backend.calls == 4


def test_a_key_holds_the_digest_of_an_image_never_its_bytes(tmp_path: Path) -> None:
    text = key_json(Image(FIVE_MB))
    assert len(text) < 300 and '"sha256"' in text and '"image/png"' in text
    backend = Vision(cache=tmp_path / "cache")
    asyncio.run(backend.describe(Image(FIVE_MB)))
    assert backend.cache is not None
    backend.cache.close()
    assert os.path.getsize(tmp_path / "cache" / "cache.db") < 2**20


def test_a_five_mb_value_is_stored_once_however_many_entries_use_it(tmp_path: Path) -> None:
    backend = Vision(cache=tmp_path / "cache")
    for n in range(10):
        assert asyncio.run(backend.render(n)) == {"png": FIVE_MB, "n": n}
    cache = backend.cache
    assert cache is not None and _entries(cache) == 10
    cache.close()
    size = sum(f.stat().st_size for f in (tmp_path / "cache").iterdir())
    assert size < 2 * len(FIVE_MB)  # base64 once, not ten times
    replay = Vision(cache=caching.CallCache(tmp_path / "cache", mode="replay"))
    assert asyncio.run(replay.render(7)) == {"png": FIVE_MB, "n": 7}


def test_values_with_blobs_export_and_import_whole(tmp_path: Path) -> None:
    backend = Vision(cache=tmp_path / "cache")
    asyncio.run(backend.render(1))
    assert backend.cache is not None
    assert backend.cache.export_jsonl(tmp_path / "out.jsonl") == 1
    other = caching.CallCache(tmp_path / "other", mode="replay")
    assert other.import_jsonl(tmp_path / "out.jsonl") == 1
    assert asyncio.run(Vision(cache=other).render(1)) == {"png": FIVE_MB, "n": 1}


def test_a_damaged_blob_is_a_cache_error(tmp_path: Path) -> None:
    backend = Vision(cache=tmp_path / "cache")
    asyncio.run(backend.render(1))
    assert backend.cache is not None
    backend.cache.close()
    with sqlite3.connect(tmp_path / "cache" / "cache.db") as con:
        con.execute("UPDATE Cache SET value = 'AAAA' WHERE key GLOB 'onetwo:blob:*'")
    con.close()
    cache = caching.CallCache(tmp_path / "cache", mode="replay")
    with pytest.raises(CacheError, match=r"missing or damaged.*Restore the folder"):
        asyncio.run(Vision(cache=cache).render(1))
    assert any("missing or damaged" in p for p in cache.check())


def test_a_bytes_chunk_value_keeps_its_content_type() -> None:
    chunk = Chunk(b"\x89PNG" + bytes(5000))
    assert decode(encode(chunk)) == chunk
