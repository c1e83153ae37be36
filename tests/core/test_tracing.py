"""Tracing: the tree of calls, what each node records, cache flags, and the cost when off."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import tracing


@ot.make_executable
@tracing.trace
async def answer(question: str, style: str = "short") -> str:
    return await llm.generate_text(f"{style}: {question}")


@ot.make_executable
@tracing.trace(name="pipeline")
async def pipeline(question: str) -> list[str]:
    first = await answer(question)
    return [first, *await ot.parallel(answer(question, "long"), answer(question, "poem"))]


def test_builtin_call_records_name_effective_inputs_output_times_and_backend() -> None:
    FakeBackend(default_reply=" 4", model="scripted").register()
    llm.generate_text.update(temperature=0.5)
    result, trace = ot.run(llm.generate_text("2+2="), enable_tracing=True)
    assert result == " 4"
    assert trace.name == "llm.generate_text"
    assert trace.kind == "builtin"
    assert trace.inputs["prompt"] == "2+2="
    assert trace.inputs["temperature"] == 0.5  # the configured default, not None
    assert trace.outputs == " 4"
    assert trace.error is None
    assert trace.end is not None and trace.start <= trace.end
    assert trace.details["backend"] == "fake"
    assert trace.details["model"] == "scripted"


def test_fake_backend_reports_tokens_and_latency_without_include_details() -> None:
    FakeBackend(default_reply=" four five").register()
    result, trace = ot.run(llm.generate_text("two plus two"), enable_tracing=True)
    assert result == " four five"  # the caller still gets plain text
    assert trace.details["prompt_tokens"] == 3
    assert trace.details["completion_tokens"] == 2
    assert trace.details["latency"] == 0.0
    assert trace.stats().tokens == 5


def test_nested_and_concurrent_calls_attach_to_their_own_parent() -> None:
    FakeBackend(regex_replies=[(r"^(\w+):", lambda p, **_: p.split(":")[0])]).register()
    result, trace = ot.run(pipeline("Q"), enable_tracing=True)
    assert result == ["short", "long", "poem"]
    assert trace.name == "pipeline"
    assert [c.name for c in trace.children] == ["answer"] * 3
    assert [c.inputs["style"] for c in trace.children] == ["short", "long", "poem"]
    for child in trace.children:
        (call,) = child.children
        assert call.name == "llm.generate_text"
        assert call.inputs["prompt"].startswith(child.inputs["style"])
        assert call.outputs == child.outputs
    assert [n.name for n in trace.walk()][:3] == ["pipeline", "answer", "llm.generate_text"]
    assert len(trace.calls("llm.generate_text")) == 3
    assert trace.stats().calls == 3


def test_untraced_strategy_gets_a_run_node_named_after_it() -> None:
    FakeBackend(default_reply="x").register()

    @ot.make_executable
    async def twice(q: str) -> list[str]:
        return await ot.parallel(llm.generate_text(q), llm.generate_text(q))

    _, trace = ot.run(twice("q"), enable_tracing=True)
    assert trace.kind == "run"
    assert trace.name.endswith("twice")
    assert [c.name for c in trace.children] == ["llm.generate_text"] * 2


def test_errors_are_recorded_and_raised() -> None:
    FakeBackend(replies={"boom": ValueError("bad prompt")}, default_reply="ok").register()

    @ot.make_executable
    @tracing.trace
    async def risky() -> str:
        await llm.generate_text("fine")
        return await llm.generate_text("boom")

    with pytest.raises(ValueError, match="bad prompt"):
        ot.run(risky(), enable_tracing=True)

    node = asyncio.run(tracing.capture(risky()))
    assert isinstance(node.error, ValueError)
    (traced,) = node.children
    assert [c.error is None for c in traced.children] == [True, False]
    assert isinstance(traced.error, ValueError)
    assert traced.stats().errors == 2


def test_cache_hit_flags_are_recorded_per_call(tmp_path: Path) -> None:
    backend = FakeBackend(default_reply=lambda prompt, **_: prompt.upper(), cache=tmp_path)
    backend.register()

    @ot.make_executable
    async def three() -> list[str]:
        first = await llm.generate_text("a")
        return [first, await llm.generate_text("a"), await llm.generate_text("b")]

    result, trace = ot.run(three(), enable_tracing=True)
    assert result == ["A", "A", "B"]
    assert [c.details["cache_hit"] for c in trace.children] == [False, True, False]
    assert trace.children[0].details["backend"] == "fake"
    assert len(backend.calls) == 2  # the hit never reached the model
    stats = trace.stats()
    assert (stats.cache_hits, stats.cache_misses, stats.model_calls) == (1, 2, 3)
    assert "cache hit" in repr(trace.children[1])
    assert "cache miss" in repr(trace.children[0])


def test_default_implementations_nest_the_backend_call() -> None:
    FakeBackend(default_reply=" fine").register()
    _, trace = ot.run(llm.instruct("How are you?"), enable_tracing=True)
    assert [n.name for n in trace.walk()] == ["llm.instruct", "llm.chat", "llm.generate_text"]
    assert "backend" not in trace.details  # a default implementation, not a model call
    assert trace.stats().model_calls == 1


def test_repeat_records_the_sampling_key() -> None:
    FakeBackend(default_reply="x").register()
    _, trace = ot.run(ot.parallel(*ot.repeat(llm.generate_text("q"), 3)), enable_tracing=True)
    keys = sorted(c.details["sampling_key"] for c in trace.calls())
    assert keys == ["0", "1", "2"]


def test_tracing_off_records_nothing_and_annotate_is_a_no_op() -> None:
    FakeBackend(default_reply="x").register()
    assert not tracing.is_enabled()
    tracing.annotate(cache_hit=True)  # no node: nothing happens
    assert ot.run(answer("q")) == "x"
    assert tracing.current_node.get() is None


def test_inputs_are_stored_by_reference_not_copied() -> None:
    seen: list[Any] = []

    @ot.make_executable
    @tracing.trace
    def keep(items: list[int]) -> int:
        seen.append(items)
        return len(items)

    items = [1, 2]
    _, trace = ot.run(keep(items), enable_tracing=True)
    assert trace.inputs["items"] is items
    assert trace.outputs == 2


def test_skip_and_self_are_not_recorded() -> None:
    class Agent:
        @tracing.trace(skip=["secret"])
        async def step(self, goal: str, secret: str) -> str:
            return goal

    @ot.make_executable
    async def go() -> str:
        return await Agent().step("win", secret="hunter2")

    _, trace = ot.run(go(), enable_tracing=True)
    (step,) = trace.children
    assert step.name == "Agent.step"
    assert step.inputs == {"goal": "win"}


def test_trace_above_make_executable_and_on_an_executable() -> None:
    FakeBackend(default_reply="x").register()

    @tracing.trace(name="outer")
    @ot.make_executable
    async def strategy(q: str) -> str:
        return await llm.generate_text(q)

    _, trace = ot.run(strategy("q"), enable_tracing=True)
    assert (trace.name, trace.inputs) == ("outer", {"q": "q"})

    labelled = tracing.trace(ot.parallel(llm.generate_text("a")), name="drafts")
    _, trace = ot.run(labelled, enable_tracing=True)
    assert trace.name == "drafts"
    assert trace.children[0].name == "llm.generate_text"


def test_generators_record_each_partial_value_and_the_last_as_output() -> None:
    @tracing.trace
    async def count(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield i

    @tracing.trace
    def letters() -> Iterator[str]:
        yield from "ab"

    @ot.make_executable
    async def both() -> tuple[list[int], list[str]]:
        return [i async for i in count(3)], list(letters())

    result, trace = ot.run(both(), enable_tracing=True)
    assert result == ([0, 1, 2], ["a", "b"])
    assert [(c.name, c.outputs) for c in trace.children] == [("count", 2), ("letters", "b")]
    assert all(c.end is not None for c in trace.children)


@tracing.trace
def running_total() -> Generator[int, int, None]:
    total = 0
    while True:
        try:
            total += yield total
        except ValueError:
            total = 0


@tracing.trace
async def arunning_total() -> AsyncGenerator[int, int]:
    total = 0
    while True:
        try:
            total += yield total
        except ValueError:
            total = 0


def test_traced_generators_forward_send_and_throw() -> None:
    @ot.make_executable
    async def use() -> list[int]:
        sync, agen = running_total(), arunning_total()
        seen = [next(sync), sync.send(2), sync.send(3), sync.throw(ValueError())]
        seen += [await agen.__anext__(), await agen.asend(4), await agen.athrow(ValueError())]
        sync.close()
        await agen.aclose()
        return seen

    expected = [0, 2, 5, 0, 0, 4, 0]
    assert ot.run(use()) == expected  # untraced
    result, trace = ot.run(use(), enable_tracing=True)
    assert result == expected
    assert [(c.name, c.outputs) for c in trace.children] == [
        ("running_total", 0),
        ("arunning_total", 0),
    ]


def test_a_generator_closed_early_ends_its_node_and_runs_its_cleanup() -> None:
    cleaned: list[tuple[str, str | None]] = []

    def node_name() -> str | None:
        node = tracing.current_node.get()
        return None if node is None else node.name

    @tracing.trace
    def numbers() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            cleaned.append(("numbers", node_name()))

    @tracing.trace
    async def anumbers() -> AsyncGenerator[int]:
        try:
            for i in range(10):
                yield i
        finally:
            cleaned.append(("anumbers", node_name()))

    @ot.make_executable
    async def take_two() -> list[int]:
        taken = []
        for i in numbers():
            if i == 1:
                break
            taken.append(i)
        async with contextlib.aclosing(anumbers()) as agen:
            async for i in agen:
                if i == 1:
                    break
                taken.append(i)
        return taken

    result, trace = ot.run(take_two(), enable_tracing=True)
    assert result == [0, 0]
    # The cleanup ran at once, as part of the generator's own node.
    assert cleaned == [("numbers", "numbers"), ("anumbers", "anumbers")]
    for node in trace.children:
        assert node.end is not None and node.error is None, node
        assert node.outputs == 1


def test_an_error_inside_a_traced_generator_is_recorded_and_raised() -> None:
    @tracing.trace
    async def fails() -> AsyncIterator[int]:
        yield 1
        raise ValueError("second value")

    @ot.make_executable
    async def consume() -> list[int]:
        return [i async for i in fails()]

    node = asyncio.run(tracing.capture(consume()))
    assert isinstance(node.error, ValueError)
    (gen,) = node.children
    assert (gen.outputs, repr(gen.error)) == (1, "ValueError('second value')")
    assert gen.end is not None


def test_to_dict_is_json_serialisable() -> None:
    FakeBackend(default_reply="x").register()
    _, trace = ot.run(pipeline("q"), enable_tracing=True)
    data = json.loads(json.dumps(trace.to_dict()))
    assert data["name"] == "pipeline"
    assert data["children"][0]["children"][0]["details"]["backend"] == "fake"


def test_run_with_tracing_works_inside_a_running_loop() -> None:
    FakeBackend(default_reply="x").register()

    async def notebook_cell() -> Any:
        return ot.run(answer("q"), enable_tracing=True)  # like a Jupyter cell

    result, trace = asyncio.run(notebook_cell())
    assert result == "x"
    assert trace.children[0].name == "llm.generate_text"
