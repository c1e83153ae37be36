"""OneTwo's ``run``: any awaitable runs, and a traced run returns an execution result."""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import runtime, tracing


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


class Awaitable:
    """Not a coroutine, not an Executable: only ``__await__``."""

    def __await__(self) -> Generator[Any, None, int]:
        return add(1, 2).__await__()


def test_a_bare_coroutine_runs() -> None:
    assert ot.run(add(1, 2)) == 3


def test_an_object_with_await_runs() -> None:
    assert ot.run(Awaitable()) == 3


def test_a_task_runs() -> None:
    async def start() -> asyncio.Task[int]:
        task = asyncio.ensure_future(add(2, 3))
        assert asyncio.get_running_loop() is runtime.loop()
        return task

    assert ot.run(ot.run(start())) == 5


def test_a_coroutine_making_model_calls_runs_with_batching_off() -> None:
    FakeBackend(default_reply="!").register()

    async def strategy() -> list[str]:
        return [await llm.generate_text("a"), await llm.generate_text("b")]

    assert ot.run(strategy(), enable_batching=False) == ["!", "!"]


def test_a_value_that_cannot_be_awaited_is_refused_with_a_fix() -> None:
    with pytest.raises(TypeError, match=r"needs an Executable, got int.*awaitable"):
        ot.run(42)  # type: ignore[arg-type]


@ot.make_executable
@tracing.trace
async def plan(question: str) -> str:
    draft = await llm.generate_text(f"Draft: {question}")
    return await llm.generate_text(f"Improve: {draft}")


def test_a_traced_run_returns_the_result_and_an_execution_result() -> None:
    FakeBackend(replies={"Draft: q": "d1", "Improve: d1": "final"}).register()
    result, execution_result = ot.run(plan("q"), enable_tracing=True)
    assert result == "final"
    assert execution_result.stage_name == "plan"
    assert execution_result.inputs == {"question": "q"}
    assert execution_result.outputs == "final"  # the value itself (OneTwo: {"output": ...})
    leaves = execution_result.get_leaf_results()
    assert [leaf.stage_name for leaf in leaves] == ["llm.generate_text"] * 2
    assert [leaf.inputs["prompt"] for leaf in leaves] == ["Draft: q", "Improve: d1"]
    assert [leaf.outputs for leaf in leaves] == ["d1", "final"]
    assert execution_result.stages == leaves  # no nesting in between here
    assert execution_result.info == execution_result.details
    assert execution_result.end_time >= execution_result.start_time > 0
    assert execution_result.get_elapsed_time() == execution_result.duration
    assert leaves[0].get_leaf_results() == [leaves[0]]  # a leaf is its own only leaf


def test_a_traced_run_of_a_coroutine_is_named_after_it() -> None:
    result, execution_result = ot.run(add(1, 1), enable_tracing=True)
    assert result == 2
    assert execution_result.stage_name == "add"
    assert execution_result.stages == [] and execution_result.get_leaf_results() == [
        execution_result
    ]


def test_a_traced_run_raises_the_error_of_the_run() -> None:
    FakeBackend(regex_replies=[("Draft", ValueError("no draft"))]).register()
    with pytest.raises(ValueError, match="no draft"):
        ot.run(plan("q"), enable_tracing=True)
