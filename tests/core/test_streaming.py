"""Streaming: updates and results arrive while the run goes on, in order, and stop cleanly."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import streaming, tracing


@ot.make_executable
@tracing.trace
async def stage(name: str) -> str:
    return name.upper()


@ot.make_executable
@tracing.trace
async def three_stages() -> list[str]:
    return [await stage("a"), await stage("b"), await stage("c")]


def test_updates_come_in_stage_order_then_the_final_result() -> None:
    updates = list(ot.stream_updates(three_stages()))
    assert [(u.name, u.value, u.final) for u in updates] == [
        ("stage", "A", False),
        ("stage", "B", False),
        ("stage", "C", False),
        ("three_stages", ["A", "B", "C"], True),
    ]
    final = updates[-1]
    assert final.stage.name == "three_stages"
    assert [c.outputs for c in final.stage.children] == ["A", "B", "C"]


def test_concurrent_stages_come_in_the_order_they_finish() -> None:
    finished = asyncio.Event()

    @ot.make_executable
    @tracing.trace
    async def waits(name: str) -> str:
        await finished.wait()
        return name

    @ot.make_executable
    @tracing.trace
    async def finishes(name: str) -> str:
        finished.set()
        return name

    run = ot.parallel(waits("started first"), finishes("started second"))
    updates = list(ot.stream_updates(run))
    assert [u.value for u in updates] == [
        "started second",
        "started first",
        ["started first", "started second"],
    ]


def test_builtin_calls_are_stages_and_the_stream_keeps_result_and_trace() -> None:
    FakeBackend(regex_replies=[("first", " one")], default_reply=" two").register()

    @ot.make_executable
    async def chain() -> str:
        first = await llm.generate_text("first")
        return await llm.generate_text(f"then{first}")

    with ot.stream_updates(chain()) as updates:
        seen = [(u.name, u.value) for u in updates]
    assert seen == [
        ("llm.generate_text", " one"),
        ("llm.generate_text", " two"),
        ("chain", " two"),
    ]
    assert updates.result == " two"
    assert updates.trace is not None and len(updates.trace.calls()) == 2


def test_an_update_arrives_before_the_run_finishes() -> None:
    go_on = threading.Event()

    @ot.make_executable
    async def gated() -> str:
        await stage("early")
        await asyncio.to_thread(go_on.wait, 10)  # blocks until the consumer saw "early"
        return await stage("late")

    with ot.stream_updates(gated()) as updates:
        first = next(updates)
        assert (first.name, first.value) == ("stage", "EARLY")
        go_on.set()
        rest = [u.value for u in updates]
    assert rest == ["LATE", "LATE"]


def test_traced_generators_stream_partial_results() -> None:
    @ot.make_executable
    @tracing.trace
    async def drafts() -> AsyncIterator[str]:
        for text in ["d", "dr", "draft"]:
            yield text

    updates = list(ot.stream_updates(drafts()))
    assert [(u.value, u.partial, u.final) for u in updates] == [
        ("d", True, False),
        ("dr", True, False),
        ("draft", True, False),
        ("draft", False, True),
    ]
    assert repr(updates[0]) == "Update('drafts' partial: 'd')"


def test_a_failing_run_yields_the_updates_before_it_then_raises() -> None:
    @ot.make_executable
    async def fails() -> None:
        await stage("ok")
        raise RuntimeError("stage two broke")

    seen = []
    with pytest.raises(RuntimeError, match="stage two broke"):
        for update in ot.stream_updates(fails()):
            seen.append(update.value)
    assert seen == ["OK"]


def endless(cancelled: threading.Event) -> ot.Executable[None]:
    @ot.make_executable
    async def ticks() -> None:
        try:
            while True:
                await stage("tick")
                await asyncio.sleep(0.001)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    return ticks()


def stream_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "onetwo-stream"]


def test_leaving_the_with_block_early_cancels_the_run_and_ends_its_thread() -> None:
    cancelled = threading.Event()
    with ot.stream_updates(endless(cancelled)) as updates:
        for _ in range(3):
            next(updates)
    assert cancelled.is_set()  # close() waited for the run to unwind
    assert stream_threads() == []
    assert list(updates) == []  # a closed stream has no more updates
    assert "closed" in repr(updates)


def test_breaking_out_of_a_plain_for_loop_stops_the_run() -> None:
    cancelled = threading.Event()
    for update in ot.stream_updates(endless(cancelled)):
        if update.name == "stage":
            break
    # The dropped stream cancelled its run; nothing holds it any more.
    assert cancelled.wait(timeout=5)
    for thread in stream_threads():
        thread.join(timeout=5)
    assert stream_threads() == []


async def test_astream_updates_from_async_code() -> None:
    names = [u.value async for u in streaming.astream_updates(three_stages())]
    assert names == ["A", "B", "C", ["A", "B", "C"]]


def test_streams_need_an_executable_an_awaitable_or_an_async_iterator() -> None:
    with pytest.raises(TypeError, match="needs an Executable, an awaitable or an async iterator"):
        ot.stream_updates(lambda: None)
    with pytest.raises(TypeError, match=r"ot.safe_stream\(strategy\(question\)\)"):
        ot.safe_stream(lambda: None)


async def test_breaking_out_of_astream_updates_cancels_the_run() -> None:
    cancelled = threading.Event()
    async for _ in streaming.astream_updates(endless(cancelled)):
        break
    for _ in range(100):  # the event loop closes the abandoned generator soon after
        if cancelled.is_set():
            break
        await asyncio.sleep(0.01)
    assert cancelled.is_set()
    assert asyncio.all_tasks() == {asyncio.current_task()}


def test_safe_stream_yields_successive_results_of_the_top_level_only() -> None:
    @ot.make_executable
    async def inner() -> AsyncIterator[str]:
        yield "inner partial"  # a nested generator's values are not results of the run

    @ot.make_executable
    async def drafts() -> AsyncIterator[str]:
        yield await inner()
        for text in ["d", "dr", "draft"]:
            yield text

    @ot.make_executable
    async def delegates() -> ot.Executable[str]:
        return drafts()  # streamed in its place

    with ot.safe_stream(delegates()) as results:
        assert list(results) == ["inner partial", "d", "dr", "draft"]
    assert results.result == results.value == "draft"
    assert list(ot.safe_stream(stage("x"))) == ["X"]  # not a generator: its result once


def test_safe_stream_of_an_async_iterator_or_a_coroutine() -> None:
    async def numbers() -> AsyncIterator[int]:
        for i in range(3):
            yield await stage(str(i))

    async def one() -> str:
        return await stage("c")

    assert list(ot.safe_stream(numbers())) == ["0", "1", "2"]
    assert list(ot.safe_stream(one())) == ["C"]
    with ot.stream_updates(one()) as updates:
        assert [u.value for u in updates] == ["C", "C"]  # the stage, then the result


def test_stream_with_callback_calls_back_sync_or_async_and_returns_the_result() -> None:
    @ot.make_executable
    def counts() -> Iterator[int]:
        yield from range(3)

    seen: list[int] = []

    async def remember(value: int) -> None:
        seen.append(value)

    assert ot.stream_with_callback(counts(), seen.append) == 2
    assert ot.stream_with_callback(counts(), remember) == 2
    assert seen == [0, 1, 2, 0, 1, 2]


def test_stream_updates_carries_the_text_deltas_of_running_calls() -> None:
    def speak(prompt: str, **_: object) -> str:
        words = ["The", " sky", " is", " blue"]
        for word in words:
            streaming.emit_delta(word)
        return "".join(words)

    FakeBackend(default_reply=speak).register()
    streaming.emit_delta("nobody streams: a no-op")
    with ot.stream_updates(llm.generate_text("sky?")) as updates:
        seen = [(u.name, u.value, u.delta) for u in updates]
    assert seen == [
        ("llm.generate_text", "The", True),
        ("llm.generate_text", " sky", True),
        ("llm.generate_text", " is", True),
        ("llm.generate_text", " blue", True),
        ("llm.generate_text", "The sky is blue", False),
    ]
    assert ot.run(llm.generate_text("sky?")) == "The sky is blue"
    first = next(iter(ot.stream_updates(llm.generate_text("again"))))
    assert repr(first) == "Update('llm.generate_text' delta: 'The')"


def test_stream_text_without_native_streaming_arrives_as_one_delta() -> None:
    FakeBackend(default_reply="The sky is blue").register()
    with ot.stream_updates(llm.stream_text("sky?")) as updates:
        seen = [(u.name, u.delta, u.final) for u in updates]
    assert seen == [
        ("llm.generate_text", False, False),  # the call it falls back on
        ("llm.stream_text", True, False),  # its whole text, as one delta
        ("llm.stream_text", False, True),
    ]
    assert updates.result == "The sky is blue"
