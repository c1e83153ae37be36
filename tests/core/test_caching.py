"""The call cache in one process: keys, samples, values, modes, in-flight sharing, API."""

from __future__ import annotations

import asyncio
import enum
import functools
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pydantic
import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import caching, sampling
from onetwo.core.backend import Backend
from onetwo.core.cache_record import Key, Record, decode, encode, key_json, key_of
from onetwo.core.cache_store import MemoryStore
from onetwo.core.content import Chunk, ChunkList, Message, PredefinedRole
from onetwo.errors import CacheError, CacheMiss


class Color(enum.Enum):
    RED = "red"


class Answer(pydantic.BaseModel):
    text: str
    score: float
    tags: tuple[str, ...] = ()


class Opaque:
    """A type the cache has no encoding for."""


class Echo(Backend):
    """A tiny backend: returns ``result`` (or ``prompt#n``) and records each call.

    ``latency`` makes each call sleep; ``gate`` (an ``asyncio.Event``) holds each call
    until it is set, so a test decides when calls in flight finish.
    """

    provider = "test"

    def __init__(self, *, model: str = "echo", cache: Any = None, result: Any = "unset") -> None:
        super().__init__(model=model, cache=cache)
        self.result = result
        self.calls: list[str] = []
        self.latency = 0.0
        self.gate: asyncio.Event | None = None

    @caching.cache_method(name="test.generate", is_sampled=True)
    async def generate(self, prompt: Any, *, temperature: float = 0.5, stop: Any = None) -> Any:
        self.calls.append(str(prompt))
        n = len(self.calls)
        if self.latency:
            await asyncio.sleep(self.latency)
        if self.gate is not None:
            await self.gate.wait()
        if isinstance(self.result, BaseException):
            raise self.result
        return f"{prompt}#{n}" if self.result == "unset" else self.result

    @caching.cache_method(name="test.score", ignore_args=["deadline"])
    async def score(self, prompt: str, target: str, deadline: float = 1.0) -> float:
        self.calls.append(f"score {prompt} {target}")
        return float(len(self.calls))


@pytest.fixture
def folder(tmp_path: Path) -> str:
    return str(tmp_path / "cache")


# --- hits, misses and keys -----------------------------------------------------------


async def test_a_second_call_is_a_hit_and_never_reaches_the_backend(folder: str) -> None:
    backend = Echo(cache=folder)
    first = await backend.generate("hi")
    assert await backend.generate("hi") == first == "hi#1"
    assert backend.calls == ["hi"]
    assert backend.cache is not None
    assert backend.cache.stats()["hits"] == 1


async def test_defaults_are_part_of_the_key_whether_given_or_not(folder: str) -> None:
    backend = Echo(cache=folder)
    await backend.generate("hi")
    await backend.generate("hi", temperature=0.5)
    await backend.generate(prompt="hi", temperature=0.5, stop=None)
    assert backend.calls == ["hi"]


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "other"},
        {"temperature": 0.7},
        {"temperature": 1},
        {"stop": ["\n"]},
        {"stop": "\n"},
    ],
)
async def test_changing_an_argument_misses(folder: str, change: dict[str, Any]) -> None:
    backend = Echo(cache=folder)
    await backend.generate("hi", temperature=0.5)
    await backend.generate(**{"prompt": "hi", "temperature": 0.5, **change})
    assert len(backend.calls) == 2


async def test_the_model_and_provider_are_part_of_the_key(folder: str) -> None:
    cache = caching.CallCache(folder)
    await Echo(model="a", cache=cache).generate("hi")
    other_model = Echo(model="b", cache=cache)
    await other_model.generate("hi")
    assert other_model.calls == ["hi"]
    same_model = Echo(model="a", cache=cache)
    await same_model.generate("hi")
    assert same_model.calls == []


async def test_ignored_arguments_are_left_out_of_the_key(folder: str) -> None:
    backend = Echo(cache=folder)
    assert await backend.score("p", "t", deadline=1.0) == await backend.score("p", "t", 9.0)
    assert len(backend.calls) == 1
    # A non-plain argument takes the general key path: the same arguments are left out.
    chunks = ChunkList(["p"])
    assert await backend.score(chunks, "t", 1.0) == await backend.score(chunks, "t", deadline=2)  # type: ignore[arg-type]
    assert len(backend.calls) == 2


def test_ignore_args_must_name_arguments_of_the_method() -> None:
    async def method(self: Any, prompt: str, wait: float = 1.0) -> str:
        return prompt

    with pytest.raises(TypeError, match=r"takes a list of argument names, got the str 'wait'"):
        caching.cache_method(ignore_args="wait")(method)
    with pytest.raises(ValueError, match=r"names \['deadline'\], which .* its parameters are"):
        caching.cache_method(ignore_args=["deadline"])(method)


def test_the_fast_and_general_key_paths_agree() -> None:
    generate = Echo.generate.__onetwo_cache_spec__  # type: ignore[attr-defined]
    score = Echo.score.__onetwo_cache_spec__  # type: ignore[attr-defined]
    for spec, args, kwargs in [
        (generate, ("hé\n\"'",), {"temperature": 0.1}),
        (generate, ("x",), {"temperature": 3, "stop": None}),
        (generate, (), {"prompt": "x", "temperature": -0.0}),
        (generate, ("x", 1e-7), {}),  # more positionals than the method takes: no fast path
        (score, ("p", "t"), {"deadline": 3.0}),  # an ignored argument
        (score, ("p", "t", 3.0), {}),
    ]:
        fast = spec._plain_params(args, kwargs)
        eff = spec.bind(args, kwargs)
        if eff is None:
            assert fast is None
        else:
            assert fast == key_json(eff)


async def test_non_plain_arguments_make_stable_keys(folder: str) -> None:
    backend = Echo(cache=folder)
    prompt = ChunkList([Chunk("Look: "), Chunk(b"\x89PNG", role=PredefinedRole.USER)])
    await backend.generate(prompt, stop=("a", "b"))
    await backend.generate(ChunkList(list(prompt)), stop=["a", "b"])
    await backend.generate(Message(PredefinedRole.USER, "hi"))
    await backend.generate(Message("user", "hi"))
    await backend.generate(Answer(text="x", score=1.0))
    await backend.generate(Answer)
    await backend.generate(Answer)
    assert len(backend.calls) == 4


async def test_an_unsupported_argument_is_an_error_that_names_it(folder: str) -> None:
    backend = Echo(cache=folder)
    with pytest.raises(CacheError, match=r"argument `stop` is a .*Opaque.*ignore_args") as info:
        await backend.generate("hi", stop=Opaque())
    assert "0x" not in str(info.value)  # no repr with a memory address
    assert backend.calls == []


async def test_without_a_cache_calls_go_straight_through() -> None:
    backend = Echo()
    await backend.generate("hi")
    await backend.generate("hi")
    assert backend.calls == ["hi", "hi"]


async def test_arguments_that_do_not_bind_raise_the_methods_own_error(folder: str) -> None:
    with pytest.raises(TypeError):
        await Echo(cache=folder).generate("hi", colour="red")  # type: ignore[call-arg]


# --- values --------------------------------------------------------------------------


VALUES = [
    None,
    "",
    'text with "quotes" and é',
    0,
    -3,
    1.5,
    float("inf"),
    True,
    [1, "a", None],
    ("text", {"finish_reason": "stop", "tokens": 3}),
    {"nested": [("a", 1), {"b": (2,)}]},
    {1: "int keys", "s": "str"},
    {"__onetwo__": "a user dict that looks like a tag"},
    b"\x00\xffbytes",
    Color.RED,
    Answer(text="yes", score=0.5, tags=("a",)),
    [Answer(text="n", score=1.0)],
    Chunk("c", role=PredefinedRole.MODEL),
    ChunkList(["a", Chunk(b"img")]),
    Message(PredefinedRole.SYSTEM, ChunkList(["be brief"])),
]


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:30] for v in VALUES])
def test_values_round_trip_exactly(value: Any) -> None:
    back = decode(encode(value))
    assert back == value
    assert type(back) is type(value)


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:30] for v in VALUES])
async def test_every_value_replays_from_disk(folder: str, value: Any) -> None:
    await Echo(cache=folder, result=value).generate("p")
    replayed = Echo(cache=caching.CallCache(folder, mode="replay"))
    assert await replayed.generate("p") == value
    assert replayed.calls == []


async def test_none_is_a_cached_value_not_a_miss(folder: str) -> None:
    backend = Echo(cache=folder, result=None)
    assert await backend.generate("p") is None
    assert await backend.generate("p") is None
    assert backend.calls == ["p"]


async def test_an_unsupported_result_is_an_error_and_is_not_stored(folder: str) -> None:
    backend = Echo(cache=folder, result=Opaque())
    with pytest.raises(CacheError, match=r"result of test.generate\(prompt='p'\).*Opaque"):
        await backend.generate("p")
    assert backend.cache is not None and backend.cache.stats()["entries"] == 0


async def test_exceptions_are_not_cached(folder: str) -> None:
    backend = Echo(cache=folder, result=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        await backend.generate("p")
    backend.result = "ok"
    assert await backend.generate("p") == "ok"
    assert len(backend.calls) == 2


async def test_a_failed_call_leaves_nothing_to_replay(folder: str) -> None:
    backend = Echo(cache=folder, result=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        await backend.generate("p")
    replayer = Echo(cache=caching.CallCache(folder, mode="replay"))
    with pytest.raises(CacheMiss):
        await replayer.generate("p")
    assert replayer.calls == []


def test_a_class_that_is_not_imported_is_never_imported() -> None:
    text = json.dumps({"__onetwo__": "pydantic", "class": "antigravity:X", "data": {}})
    with pytest.raises(CacheError, match="never imports"):
        decode(text)
    import sys

    assert "antigravity" not in sys.modules


def test_a_tagged_class_must_be_a_pydantic_model() -> None:
    text = json.dumps({"__onetwo__": "pydantic", "class": "os:system", "data": "ls"})
    with pytest.raises(CacheError, match="not a BaseModel"):
        decode(text)
    text = json.dumps({"__onetwo__": "pydantic", "class": "subprocess:Popen", "data": {}})
    with pytest.raises(CacheError):
        decode(text)


# --- samples -------------------------------------------------------------------------


def _sampled(backend: FakeBackend, n: int, prompt: str = "p") -> Any:
    return ot.parallel(*ot.repeat(llm.generate_text(prompt, temperature=1.0), n))


def _counter_backend(folder: str | caching.CallCache) -> FakeBackend:
    count = iter(range(1_000_000))
    backend = FakeBackend(regex_replies=[(".", lambda p, **kw: f"s{next(count)}")], cache=folder)
    backend.register()
    return backend


def test_each_repeat_gets_its_own_sample_and_more_repeats_only_add(folder: str) -> None:
    backend = _counter_backend(folder)
    first = ot.run(_sampled(backend, 3))
    assert sorted(first) == ["s0", "s1", "s2"] and len(backend.calls) == 3
    more = ot.run(_sampled(backend, 5))
    assert more[:3] == first and len(backend.calls) == 5
    assert ot.run(_sampled(backend, 2)) == first[:2]
    assert len(backend.calls) == 5


def test_nested_repeats_bind_their_composed_keys(folder: str) -> None:
    backend = _counter_backend(folder)
    inner = ot.parallel(*ot.repeat(llm.generate_text("p", temperature=1.0), 2))
    nested = ot.parallel(*ot.repeat(inner, 3))
    first = ot.run(nested)
    assert len({s for row in first for s in row}) == 6
    assert ot.run(nested) == first and len(backend.calls) == 6


def test_a_call_outside_repeat_reads_the_first_sample_without_using_it_up(folder: str) -> None:
    backend = _counter_backend(folder)
    single = ot.run(llm.generate_text("p", temperature=1.0))
    repeated = ot.run(_sampled(backend, 3))
    assert repeated[0] == single and len(backend.calls) == 3
    assert ot.run(llm.generate_text("p", temperature=1.0)) == single


def test_unsampled_methods_ignore_the_sampling_key(folder: str) -> None:
    backend = Echo(cache=folder)

    @ot.make_executable
    async def score() -> float:
        return await backend.score("p", "t")

    assert ot.run(ot.parallel(*ot.repeat(score(), 3))) == [1.0, 1.0, 1.0]
    assert len(backend.calls) == 1


async def test_a_new_sampling_key_never_takes_a_sample_another_key_holds(folder: str) -> None:
    backend = Echo(cache=folder)
    for key in ("0", "1", "7#1"):
        with sampling.under_sampling_key(key):
            await backend.generate("p")
    assert backend.calls == ["p", "p", "p"]


async def test_a_second_cache_on_the_folder_waits_for_the_claimed_sample(folder: str) -> None:
    # Two caches on one folder stand for two processes missing the same sample at once.
    first, second = Echo(cache=caching.CallCache(folder)), Echo(cache=caching.CallCache(folder))
    first.result, second.result = "from first", "from second"
    first.latency = 0.05

    async def late() -> Any:
        await asyncio.sleep(0.01)  # once the first has claimed the sample
        return await second.generate("p")

    assert await asyncio.gather(first.generate("p"), late()) == ["from first"] * 2
    assert first.calls == ["p"] and second.calls == []


async def test_a_claim_ends_when_its_call_fails(folder: str) -> None:
    first, second = Echo(cache=caching.CallCache(folder)), Echo(cache=caching.CallCache(folder))
    first.result, first.latency, second.result = RuntimeError("down"), 0.02, "from second"

    async def late() -> Any:
        await asyncio.sleep(0.005)
        return await second.generate("p")

    results: Any = await asyncio.gather(first.generate("p"), late(), return_exceptions=True)
    failed, value = results
    assert isinstance(failed, RuntimeError) and value == "from second"  # not after the lease


async def test_a_lost_race_keeps_the_first_sample_and_spares_its_own(folder: str) -> None:
    # Two caches on one folder, computing the same sample: the first's claim lasts no time.
    first = Echo(cache=caching.CallCache(folder, lease=0.0))
    second = Echo(cache=caching.CallCache(folder))
    first.result, second.result = "from first", "from second"
    first.latency, second.latency = 0.005, 0.03

    async def under(backend: Echo, key: str) -> Any:
        with sampling.under_sampling_key(key):
            return await backend.generate("p")

    assert await asyncio.gather(under(first, "0"), under(second, "0")) == ["from first"] * 2
    third = Echo(cache=caching.CallCache(folder, mode="replay"))
    assert await under(third, "0") == "from first"
    assert await under(third, "1") == "from second"  # the spare sample, no model call
    assert third.calls == []
    assert third.cache is not None and third.cache.check() == []


# --- modes ---------------------------------------------------------------------------


def test_replay_mode_raises_cache_miss_naming_the_call(folder: str) -> None:
    FakeBackend(default_reply="x", cache=folder).register()
    ot.run(llm.generate_text("known"))
    backend = FakeBackend(default_reply="x", cache=caching.CallCache(folder, mode="replay"))
    backend.register()
    assert ot.run(llm.generate_text("known")) == "x"
    with pytest.raises(CacheMiss, match="replay mode: no cached result") as info:
        ot.run(ot.parallel(*ot.repeat(llm.generate_text("unknown", max_tokens=5), 2)))
    assert "llm.generate_text(prompt='unknown', max_tokens=5)" in info.value.call
    assert "fake:fake" in info.value.call and "sampling key" in info.value.call
    assert backend.calls == []


async def test_record_mode_calls_again_and_overwrites(folder: str) -> None:
    backend = Echo(cache=folder)
    await backend.generate("p")
    for key in ("0", "1"):
        with sampling.under_sampling_key(key):
            await backend.generate("p")
    assert backend.cache is not None
    assert len(backend.calls) == 2  # "0" reads the first sample too
    backend.cache.mode = "record"
    assert await backend.generate("p") == "p#3"
    backend.cache.mode = "read_write"
    assert await backend.generate("p") == "p#3"
    with sampling.under_sampling_key("0"):
        assert await backend.generate("p") == "p#3"  # "" and "0" share the first sample
    with sampling.under_sampling_key("1"):
        assert await backend.generate("p") == "p#2"
    assert backend.cache.check() == []


async def test_off_mode_bypasses_the_cache(folder: str) -> None:
    backend = Echo(cache=caching.CallCache(folder, mode="off"))
    await backend.generate("p")
    await backend.generate("p")
    await backend.generate("p", stop=Opaque())  # no key is needed
    assert len(backend.calls) == 3
    assert backend.cache is not None and backend.cache.stats()["entries"] == 0
    with pytest.raises(ValueError, match="mode must be one of"):
        backend.cache.mode = "readonly"  # type: ignore[assignment]


def test_an_unknown_mode_is_refused_before_the_folder_is_made(folder: str) -> None:
    with pytest.raises(
        ValueError, match=r"mode must be one of 'read_write', .*; got 'replay_only'"
    ):
        caching.CallCache(folder, mode="replay_only")  # type: ignore[arg-type]
    assert not os.path.exists(folder)


async def test_a_cache_attribute_that_is_not_a_cache_is_a_clear_error(folder: str) -> None:
    backend = Echo()
    backend.cache = folder  # type: ignore[assignment]
    with pytest.raises(TypeError, match=r"Echo.cache is a str .* must be a CallCache or None"):
        await backend.generate("p")
    assert backend.calls == []


# --- in-flight sharing ---------------------------------------------------------------


async def test_identical_concurrent_calls_share_one_model_call(folder: str) -> None:
    backend = Echo(cache=folder)
    backend.latency = 0.01
    results = await asyncio.gather(*(backend.generate("p") for _ in range(5)))
    assert results == ["p#1"] * 5 and backend.calls == ["p"]
    assert backend.cache is not None and backend.cache.stats()["shared"] == 4


async def test_concurrent_calls_in_different_repeats_are_not_shared(folder: str) -> None:
    backend = Echo(cache=folder)
    backend.latency = 0.01

    async def under(key: str) -> Any:
        with sampling.under_sampling_key(key):
            return await backend.generate("p")

    assert sorted(await asyncio.gather(under("0"), under("1"))) == ["p#1", "p#2"]


async def test_a_shared_failure_reaches_every_caller_and_is_not_cached(folder: str) -> None:
    backend = Echo(cache=folder, result=RuntimeError("boom"))
    backend.latency = 0.01
    results = await asyncio.gather(
        *(backend.generate("p") for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, RuntimeError) for r in results) and backend.calls == ["p"]


async def test_when_the_shared_call_is_cancelled_a_waiter_makes_it_itself(folder: str) -> None:
    backend = Echo(cache=folder)
    backend.gate = asyncio.Event()
    leader = asyncio.ensure_future(backend.generate("p"))
    await asyncio.sleep(0)  # the leader is in the model call
    follower = asyncio.ensure_future(backend.generate("p"))
    await asyncio.sleep(0)  # the follower waits for the leader's call
    assert backend.calls == ["p"] and backend.cache is not None
    assert backend.cache.stats()["shared"] == 1
    leader.cancel()
    backend.gate.set()
    assert await follower == "p#2"
    assert leader.cancelled() and backend.calls == ["p", "p"]


async def test_backends_of_two_models_sharing_a_cache_never_share_a_call(folder: str) -> None:
    cache = caching.CallCache(folder)
    a, b = Echo(model="a", cache=cache), Echo(model="b", cache=cache)
    a.result, b.result = "from a", "from b"
    a.gate = b.gate = asyncio.Event()
    calls = asyncio.gather(a.generate("p"), b.generate("p"))
    await asyncio.sleep(0)  # both in flight at once, same arguments
    a.gate.set()
    assert await calls == ["from a", "from b"]
    assert a.calls == b.calls == ["p"] and cache.stats()["shared"] == 0
    assert (await a.generate("p"), await b.generate("p")) == ("from a", "from b")
    assert sorted(x["identity"]["model"] for x in cache.backends()) == ["a", "b"]


def test_a_new_loop_never_waits_on_a_call_left_in_flight_by_another_loop(folder: str) -> None:
    # E.g. a notebook run stopped mid-call whose loop is gone, then a new ot.run.
    backend = Echo(cache=folder)
    old = asyncio.new_event_loop()
    try:
        gate = backend.gate = asyncio.Event()
        stalled = old.create_task(backend.generate("p"))
        old.run_until_complete(asyncio.sleep(0))  # the call is in flight; its loop stops
        assert backend.calls == ["p"] and not stalled.done()
        backend.gate = None
        assert asyncio.run(backend.generate("p")) == "p#2"  # a call of its own, no hang
        gate.set()
        assert old.run_until_complete(stalled) == "p#2"  # the first result stored wins
    finally:
        old.close()
    assert backend.calls == ["p", "p"]


# --- inspection, sharing, maintenance ------------------------------------------------


def test_stats_backends_and_drop(folder: str) -> None:
    cache = caching.CallCache(folder)
    for model in ("a", "b"):
        FakeBackend(default_reply=model, model=model, cache=cache).register()
        ot.run(ot.parallel(llm.generate_text("1"), llm.generate_text("2")))
        assert ot.run(llm.generate_text("1")) == model  # read once: this process remembers it
    stats = cache.stats()
    assert stats["entries"] == 4 and stats["writes"] == 4 and stats["bytes"] > 0
    assert {b["identity"]["model"]: b["entries"] for b in cache.backends()} == {"a": 2, "b": 2}
    assert cache.drop(model="a") == 2
    assert [b["identity"]["model"] for b in cache.backends()] == ["b"]
    backend = FakeBackend(default_reply="again", model="a", cache=cache)
    backend.register()
    assert ot.run(llm.generate_text("1")) == "again"  # dropped, even from memory
    assert "mode='read_write'" in repr(cache) and cache.check() == []
    with pytest.raises(ValueError, match="at least one identity field"):
        cache.drop()


def test_export_and_import_share_an_experiment(folder: str, tmp_path: Path) -> None:
    backend = _counter_backend(folder)
    expected = ot.run(
        ot.parallel(_sampled(backend, 3), llm.generate_text("q", include_details=True))
    )
    assert backend.cache is not None
    export = tmp_path / "exp.jsonl"
    assert backend.cache.export_jsonl(export) == 2
    lines = export.read_text().splitlines()
    assert json.loads(lines[0]) == {"format": "onetwo-call-cache/1"}
    colleague = caching.CallCache(tmp_path / "colleague", mode="replay")
    assert colleague.import_jsonl(export) == 2
    replayer = FakeBackend(default_reply="never", cache=colleague)
    replayer.register()
    again = ot.run(ot.parallel(_sampled(replayer, 3), llm.generate_text("q", include_details=True)))
    assert again == expected and replayer.calls == [] and colleague.check() == []


def test_an_edited_export_line_is_refused(folder: str, tmp_path: Path) -> None:
    FakeBackend(default_reply="x", cache=folder).register()
    ot.run(llm.generate_text("p"))
    export = tmp_path / "exp.jsonl"
    caching.CallCache(folder).export_jsonl(export)
    export.write_text(export.read_text().replace('"prompt":"p"', '"prompt":"q"'))
    with pytest.raises(CacheError, match=r"exp.jsonl:2: the key does not match"):
        caching.CallCache(tmp_path / "other").import_jsonl(export)


def test_a_truncated_or_foreign_import_file_is_refused_naming_the_line(
    folder: str, tmp_path: Path
) -> None:
    FakeBackend(default_reply="x", cache=folder).register()
    ot.run(ot.parallel(llm.generate_text("a"), llm.generate_text("b")))
    export = tmp_path / "exp.jsonl"
    caching.CallCache(folder).export_jsonl(export)
    lines = export.read_text().splitlines()
    export.write_text("\n".join([*lines[:2], lines[2][:20]]) + "\n")  # cut mid-line
    other = caching.CallCache(tmp_path / "other")
    with pytest.raises(CacheError, match=r"exp.jsonl:3: not JSON .* truncated"):
        other.import_jsonl(export)
    assert other.stats()["entries"] == 1  # the complete line before it was imported
    export.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(CacheError, match=r"exp.jsonl:1: not JSON"):
        other.import_jsonl(export)
    export.write_text('{"some": "json"}\n')
    with pytest.raises(CacheError, match=r"is not a onetwo-call-cache/1 export"):
        other.import_jsonl(export)


def test_a_failed_export_leaves_no_file_behind(folder: str, tmp_path: Path) -> None:
    FakeBackend(default_reply="x", cache=folder).register()
    ot.run(llm.generate_text("p"))
    with sqlite3.connect(os.path.join(folder, "cache.db")) as con:
        con.execute("UPDATE Cache SET value = '{broken' WHERE key NOT GLOB 'onetwo:*'")
    (tmp_path / "exp.jsonl").mkdir()  # where the file cannot go
    with pytest.raises(OSError):
        caching.CallCache(folder).export_jsonl(tmp_path / "exp.jsonl")
    assert sorted(os.listdir(tmp_path)) == ["cache", "exp.jsonl"]


def test_simple_function_cache_saves_and_loads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.jsonl"
    cache = caching.SimpleFunctionCache(cache_filename=path)
    FakeBackend(default_reply="x", cache=cache).register()
    ot.run(ot.parallel(llm.generate_text("a"), llm.generate_text("b")))
    assert cache.save() == 2
    with pytest.raises(FileExistsError):
        cache.save(overwrite=False)
    loaded = caching.SimpleFunctionCache(cache_filename=path, mode="replay")
    assert loaded.load() == 2
    backend = FakeBackend(default_reply="y", cache=loaded)
    backend.register()
    assert ot.run(llm.generate_text("a")) == "x" and backend.calls == []
    assert str(path) in repr(loaded)


def test_open_cache_takes_an_object_or_a_folder(folder: str) -> None:
    cache = caching.CallCache(folder)
    assert caching.open_cache(cache) is cache
    assert isinstance(caching.open_cache(Path(folder)), caching.CallCache)
    with pytest.raises(TypeError, match="cache= takes a CallCache or a folder path"):
        caching.open_cache(3)  # type: ignore[arg-type]


def test_check_finds_a_corrupt_entry_and_fix_removes_it(folder: str) -> None:
    FakeBackend(default_reply="x", cache=folder).register()
    ot.run(llm.generate_text("p"))
    with sqlite3.connect(os.path.join(folder, "cache.db")) as con:
        con.execute("UPDATE Cache SET value = '{broken' WHERE key NOT GLOB 'onetwo:*'")
    cache = caching.CallCache(folder)
    assert any("damaged" in p and "Restore the folder from a copy" in p for p in cache.check())
    cache.check(fix=True)
    assert cache.check() == []


def test_check_finds_a_record_not_matching_its_key_and_an_undecodable_value(folder: str) -> None:
    # Records written with a valid checksum (as by a buggy writer, not by damage).
    store = MemoryStore()
    call = '{"backend":{},"method":"m","params":{"prompt":"%s"}}'
    p, q = key_of(call % "p"), key_of(call % "q")
    forged = {p: Record(call % "z", ['"x"'], {"": 0}).dump(p)}
    forged[q] = Record(call % "q", ["{forged"], {"": 0}).dump(q)
    for key, text in forged.items():
        store.update(key, functools.partial(lambda t, old: t, text))
    problems = caching.CallCache(store).check()
    assert sum("the key does not match the call" in p for p in problems) == 1
    assert sum("could not be decoded" in p for p in problems) == 1


def test_an_import_keeps_the_bindings_already_here(folder: str, tmp_path: Path) -> None:
    theirs = Echo(cache=tmp_path / "theirs", result="their sample")
    ours = Echo(cache=folder, result="our sample")
    assert theirs.cache is not None and ours.cache is not None
    asyncio.run(theirs.generate("p"))
    asyncio.run(ours.generate("p"))
    theirs.cache.export_jsonl(tmp_path / "theirs.jsonl")
    assert ours.cache.import_jsonl(tmp_path / "theirs.jsonl") == 1
    replay = Echo(cache=caching.CallCache(folder, mode="replay"))

    async def three() -> list[Any]:
        results = [await replay.generate("p")]
        for key in ("0", "1"):  # keys bound nowhere take the samples in order
            with sampling.under_sampling_key(key):
                results.append(await replay.generate("p"))
        return results

    assert asyncio.run(three()) == ["our sample", "our sample", "their sample"]


# --- a hostile folder ----------------------------------------------------------------


class _Exploit:
    def __reduce__(self) -> Any:
        return (open, (str(_Exploit.marker), "w"))

    marker = Path("/nonexistent")


@pytest.mark.parametrize("column", ["value", "key"])
def test_a_pickle_planted_in_the_folder_is_never_unpickled(
    folder: str, tmp_path: Path, column: str
) -> None:
    import pickle

    FakeBackend(default_reply="x", cache=folder).register()
    ot.run(llm.generate_text("p"))
    _Exploit.marker = tmp_path / "pwned"
    payload = pickle.dumps(_Exploit())
    with sqlite3.connect(os.path.join(folder, "cache.db")) as con:
        if column == "value":  # mode 4 is diskcache's MODE_PICKLE
            con.execute(
                "UPDATE Cache SET mode = 4, value = ? WHERE key NOT GLOB 'onetwo:*'", (payload,)
            )
        else:
            con.execute(
                "UPDATE Cache SET raw = 0, key = ? WHERE key NOT GLOB 'onetwo:*'", (payload,)
            )
    cache = caching.CallCache(folder, mode="replay")
    FakeBackend(default_reply="x", cache=cache).register()
    with pytest.raises(CacheError):
        if column == "value":
            ot.run(llm.generate_text("p"))
        else:
            list(cache.records())
    assert not _Exploit.marker.exists()


def test_a_folder_with_foreign_settings_is_refused(folder: str) -> None:
    caching.CallCache(folder).close()
    with sqlite3.connect(os.path.join(folder, "cache.db")) as con:
        con.execute("INSERT INTO Settings VALUES ('sqlite_temp_store_directory', '/x')")
    with pytest.raises(CacheError, match="unknown setting"):
        caching.CallCache(folder)


def test_a_plain_diskcache_folder_is_refused(folder: str) -> None:
    import diskcache

    with diskcache.Cache(folder) as other:
        other.set("k", "v")
    with pytest.raises(CacheError, match="did not write"):
        caching.CallCache(folder)


def test_local_classes_need_registering(folder: str) -> None:
    class Local(pydantic.BaseModel):
        x: int

    text = encode(Local(x=1))
    assert decode(text) == Local(x=1)  # known: this process stored it
    caching.register_types(Local)
    with pytest.raises(TypeError, match="pydantic models or enums"):
        caching.register_types(Opaque)


async def test_a_copied_backend_with_another_model_has_its_own_identity(folder: str) -> None:
    import copy

    backend = Echo(model="a", cache=folder)
    await backend.generate("p")
    other = copy.copy(backend)
    other.model, other.calls = "b", []
    await other.generate("p")
    assert other.calls == ["p"]


def test_the_fast_key_path_handles_every_shape_of_arguments() -> None:
    class Shapes(Backend):
        @caching.cache_method()
        async def none(self) -> str:
            return ""

        @caching.cache_method()
        async def some(self, a: int, b: str = "x", *, c: Any = ("t",), d: bool = True) -> str:
            return ""

    cases: list[tuple[Any, list[tuple[tuple[Any, ...], dict[str, Any]]]]] = [
        (Shapes.none, [((), {})]),
        (
            Shapes.some,
            [((1,), {}), ((), {"a": 1, "d": False}), ((1, "y"), {"c": None}), ((), {"b": "z"})],
        ),
    ]
    for method, calls in cases:
        spec = method.__onetwo_cache_spec__
        for args, kwargs in calls:
            eff = spec.bind(args, kwargs)
            fast = spec._plain_params(args, kwargs)
            assert fast == (None if eff is None else key_json(eff)), (args, kwargs)


def test_threads_running_their_own_loops_share_one_cache(folder: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    cache = caching.CallCache(folder)
    backend = FakeBackend(regex_replies=[(".", lambda p, **kw: p.upper())], cache=cache)
    prompts = [f"p{i}" for i in range(60)]

    def run(offset: int) -> list[str]:
        with ot.RegistryContext():
            backend.register()
            mine = prompts[offset : offset + 40]
            return ot.run(ot.par_iter([llm.generate_text(p) for p in mine], chunk_size=4))

    with ThreadPoolExecutor(2) as pool:
        a, b = pool.map(run, [0, 20])
    assert a == [p.upper() for p in prompts[:40]] and b == [p.upper() for p in prompts[20:]]
    assert cache.stats()["entries"] == 60 and cache.check() == []


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_uses_its_parents_connections(folder: str) -> None:
    # SQLite connections must not cross a fork (the child would share the parent's file
    # locks): a forked child (e.g. a multiprocessing pool) replays on its own connection.
    backend = FakeBackend(default_reply="x", cache=folder)
    backend.register()
    assert ot.run(llm.generate_text("p")) == "x"  # the parent reads: its reader is open
    pid = os.fork()  # runs read on onetwo's runtime thread, whose reader the child never has
    if pid == 0:  # the child: report through the exit status only
        ok = False
        try:
            ok = ot.run(llm.generate_text("p")) == "x"  # replayed: no second backend call
        finally:
            os._exit(0 if ok and len(backend.calls) == 1 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_cache_pickles_as_its_folder_and_mode(folder: str) -> None:
    import pickle

    cache = caching.CallCache(folder, mode="replay")
    again = pickle.loads(pickle.dumps(cache))
    assert (again.directory, again.mode) == (folder, "replay")
    with pytest.raises(TypeError, match="lives in memory"):
        pickle.dumps(caching.SimpleFunctionCache())


def test_cache_hits_never_enter_the_batch_queue(folder: str) -> None:
    backend = FakeBackend(default_reply=lambda p, **_: p.upper(), batch_size=8, cache=folder)
    backend.register()
    prompts = [f"p{i}" for i in range(20)]
    first = ot.run(ot.par_iter(llm.generate_text(p) for p in prompts))
    batches = len(backend.batches)
    assert backend._generate_batch.stats().requests == 20
    assert ot.run(ot.par_iter(llm.generate_text(p) for p in prompts)) == first
    assert len(backend.batches) == batches and len(backend.calls) == 20
    assert backend._generate_batch.stats().requests == 20  # still the first run's queue


async def test_ot_run_inside_a_running_loop_shares_the_cache_with_it(folder: str) -> None:
    # As in Jupyter: a loop runs already, so ot.run runs a fresh loop in a worker thread.
    backend = _counter_backend(folder)
    strategy = ot.parallel(*ot.repeat(llm.generate_text("p", temperature=1.0), 3))
    first = ot.run(strategy)
    assert ot.run(strategy) == first and len(backend.calls) == 3
    assert await strategy == first and len(backend.calls) == 3  # on the notebook's own loop


@pytest.mark.parametrize("lease", [-1, float("nan"), "60"])
def test_a_lease_that_is_not_a_duration_is_refused(folder: str, lease: Any) -> None:
    with pytest.raises(ValueError, match="lease must be a number of seconds"):
        caching.CallCache(folder, lease=lease)


def test_a_memory_store_counts_its_records_as_they_come_and_go() -> None:
    store = MemoryStore()
    a, b, internal = key_of("a"), key_of("b"), Key("onetwo:format")
    store.update(a, lambda _: "1")
    store.update(a, lambda _: "2")  # replaced, not added
    store.update(b, lambda _: "1")
    store.update(internal, lambda _: "x")  # not a record
    store.update(b, lambda _: None)  # unchanged
    assert len(store) == 2 == len(list(store.items()))
    store.update(a, lambda _: "")  # "" removes it
    store.delete([b, b, internal])
    assert len(store) == 0 == len(list(store.items()))
