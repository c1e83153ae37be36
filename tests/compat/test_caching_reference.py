"""The reference OneTwo's caching API for backend authors, on our call cache.

Each test is a reference-style example (written for these tests, from the reference's
documented behaviour): a dataclass backend mixing in ``caching.FileCacheEnabled``, whose
sync and async methods carry ``@caching.cache_method``, a ``SimpleFunctionCache`` created
in ``__post_init__`` and saved to a file, and the cache's own ``cache_value`` /
``get_cached_value`` / ``get_key_count`` and ``cached_value_decoder``.
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.core import caching


@dataclasses.dataclass
class CountingBackend(caching.FileCacheEnabled):
    """A backend as the reference's are written: a dataclass with a file cache."""

    calls: list[str] = dataclasses.field(default_factory=list)

    def __post_init__(self) -> None:
        self._cache_handler = caching.SimpleFunctionCache(cache_filename=self.cache_filename)

    @caching.cache_method(name="generate_text", is_sampled=True)
    def generate_text(self, prompt: str, temperature: float = 0.0) -> str:
        self.calls.append(prompt)
        return f"{prompt} #{len(self.calls)}"

    @caching.cache_method(name="embed")
    async def embed(self, text: str) -> list[float]:
        self.calls.append(f"embed {text}")
        return [float(len(text)), 0.5]


def test_a_cached_sync_method_is_awaitable_and_computed_once() -> None:
    backend = CountingBackend()
    assert asyncio.run(backend.generate_text("a")) == "a #1"
    assert asyncio.run(backend.generate_text("a")) == "a #1"
    assert asyncio.run(backend.generate_text("a", temperature=0.5)) == "a #2"
    assert asyncio.run(backend.embed("abc")) == asyncio.run(backend.embed("abc")) == [3.0, 0.5]
    assert backend.calls == ["a", "a", "embed abc"]
    assert backend._cache_handler.get_key_count() == 3


def test_repeated_samples_of_a_sampled_method_are_distinct_and_reused() -> None:
    backend = CountingBackend()
    generate = ot.make_executable(backend.generate_text)
    first = ot.run(ot.parallel(*ot.repeat(generate("q"), 3)))
    assert first == ["q #1", "q #2", "q #3"]
    assert ot.run(ot.parallel(*ot.repeat(generate("q"), 4))) == [
        *first,
        "q #4",
    ]  # only the new one is called


def test_disable_caching_calls_every_time() -> None:
    backend = CountingBackend(disable_caching=True)
    assert [asyncio.run(backend.generate_text("a")) for _ in range(2)] == ["a #1", "a #2"]
    assert backend._cache_handler.get_key_count() == 0


def test_save_cache_and_load_cache_carry_the_calls_to_a_new_backend(tmp_path: Path) -> None:
    path = str(tmp_path / "cache.jsonl")
    backend = CountingBackend(cache_filename=path)
    asyncio.run(backend.generate_text("a"))
    backend.save_cache()
    with pytest.raises(FileExistsError):
        backend.save_cache()  # as in the reference: overwrite=False by default
    backend.save_cache(overwrite=True)

    fresh = CountingBackend(cache_filename=path)
    fresh.load_cache()
    assert asyncio.run(fresh.generate_text("a")) == "a #1" and fresh.calls == []
    assert fresh._cache_handler.get_key_count() == 1


def test_a_backend_without_a_cache_handler_says_so() -> None:
    @dataclasses.dataclass
    class Bare(caching.FileCacheEnabled):
        pass

    with pytest.raises(ValueError, match="Bare has no cache"):
        Bare().save_cache()


def test_cache_value_and_get_cached_value_follow_the_sampling_keys() -> None:
    cache = caching.SimpleFunctionCache(cache_filename="unused.jsonl")

    async def steps() -> list[Any]:
        await cache.cache_value("key1", None, "value_1")
        await cache.cache_value("key2", None, "value_2")
        await cache.cache_value("key3", "sampling_key_1", "value_3")
        await cache.cache_value("key1", None, "value_4")
        await cache.cache_value("key1", "sampling_key_1", "value_5")
        got = [
            await cache.get_cached_value("key1", "sampling_key_1"),  # the first value
            await cache.get_cached_value("key1", "sampling_key_2"),  # the next unheld one
            await cache.get_cached_value("key1", None),
            await cache.get_cached_value("key3", "sampling_key_1"),
            await cache.get_cached_value("missing", None),
        ]
        await cache.cache_value("key1", "sampling_key_1", "value_2")  # a bound key: overwrite
        return [*got, await cache.get_cached_value("key1", "sampling_key_1")]

    assert asyncio.run(steps()) == [
        "value_1",
        "value_4",
        "value_1",
        "value_3",
        None,
        "value_2",
    ]
    assert cache.get_key_count() == 3


@dataclasses.dataclass
class Point:
    x: int
    y: int


def test_cached_value_decoder_restores_values_loaded_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "points.jsonl"
    cache = caching.SimpleFunctionCache(cache_filename=path)
    asyncio.run(cache.cache_value("origin", None, {"x": 0, "y": 0}))
    cache.save()
    loaded = caching.SimpleFunctionCache(
        cache_filename=path, cached_value_decoder=lambda d: Point(**d)
    )
    loaded.load()
    assert asyncio.run(loaded.get_cached_value("origin", None)) == Point(0, 0)
