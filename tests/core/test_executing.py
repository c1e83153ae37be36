"""Executables are lazy, re-runnable, and run executable arguments first, concurrently."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm


def test_building_an_executable_runs_nothing() -> None:
    backend = FakeBackend(default_reply="x")
    backend.register()
    calls: list[str] = []

    @ot.make_executable
    async def strategy(q: str) -> str:
        calls.append(q)
        return await llm.generate_text(q)

    executable = strategy("hello")
    nested = ot.parallel(strategy("a"), llm.generate_text("b"))
    assert calls == [] and backend.calls == []
    assert ot.run(executable) == "x"
    assert calls == ["hello"] and backend.prompts == ["hello"]
    del nested


def test_an_executable_runs_afresh_each_time() -> None:
    counter = iter(range(100))

    @ot.make_executable
    def tick() -> int:
        return next(counter)

    e = tick()
    assert [ot.run(e), ot.run(e)] == [0, 1]


def test_decorator_with_and_without_arguments_on_all_function_kinds() -> None:
    @ot.make_executable
    def sync_fn(x: int) -> int:
        return x + 1

    @ot.make_executable()
    async def async_fn(x: int) -> int:
        return x * 2

    @ot.make_executable
    async def agen(x: int) -> Any:
        yield x
        yield x + 10

    @ot.make_executable
    def gen(x: int) -> Any:
        yield x
        yield x + 20

    assert ot.run(sync_fn(1)) == 2
    assert ot.run(async_fn(2)) == 4
    assert ot.run(agen(1)) == 11  # the last update is the result
    assert ot.run(gen(1)) == 21
    assert sync_fn.__name__ == "sync_fn"


def test_methods() -> None:
    class Counter:
        def __init__(self) -> None:
            self.n = 0

        @ot.make_executable
        async def add(self, k: int) -> int:
            self.n += k
            return self.n

    c = Counter()
    assert ot.run(c.add(2)) == 2
    assert ot.run(c.add(3)) == 5


def test_executable_arguments_run_first_and_concurrently() -> None:
    # Each of a and b waits for the other to have started: run one after the other,
    # they would deadlock (the timeout turns that into a failure).
    events: dict[str, asyncio.Event] = {}

    @ot.make_executable
    async def wait_for_other(me: str, other: str) -> str:
        events.setdefault(me, asyncio.Event()).set()
        await asyncio.wait_for(events.setdefault(other, asyncio.Event()).wait(), 5)
        return me

    @ot.make_executable
    def join(x: str, *, y: str) -> str:
        return x + y

    assert ot.run(join(wait_for_other("a", "b"), y=wait_for_other("b", "a"))) == "ab"


def test_non_executed_args_are_passed_through() -> None:
    @ot.make_executable
    def one() -> int:
        return 1

    @ot.make_executable(non_executed_args=["step"])
    async def twice(step: Any, scale: int) -> list[int]:
        return [await step * scale, await step * scale]

    assert ot.run(twice(one(), scale=one())) == [1, 1]


def test_non_executed_args_must_name_parameters() -> None:
    with pytest.raises(ValueError, match="does not have"):

        @ot.make_executable(non_executed_args=["nope"])
        def f(x: int) -> int:
            return x


def test_returned_executable_is_run() -> None:
    FakeBackend(default_reply="inner").register()

    @ot.make_executable
    def delegate(q: str) -> Any:
        return llm.generate_text(q)

    assert ot.run(delegate("q")) == "inner"


async def test_await_inside_async_code() -> None:
    FakeBackend(default_reply="awaited").register()
    assert await llm.generate_text("q") == "awaited"


def test_run_rejects_non_executables_with_a_fix() -> None:
    async def coro_fn() -> int:
        return 1

    with pytest.raises(TypeError, match=r"needs an Executable, got function"):
        ot.run(coro_fn)  # type: ignore[arg-type]


def test_callable_objects_run_their_call_whether_sync_async_or_a_generator() -> None:
    class Async:
        async def __call__(self, x: int) -> int:
            return x + 1

    class Drafts:
        async def __call__(self, x: int) -> Any:
            yield x
            yield x * 10

    assert ot.run(ot.make_executable(Async())(1)) == 2  # awaited, not a bare coroutine
    assert ot.run(ot.make_executable(Drafts())(2)) == 20
    with ot.safe_stream(ot.make_executable(Drafts())(2)) as results:
        assert list(results) == [2, 20]


def test_positional_names_and_non_copied_args_must_name_parameters() -> None:
    @ot.make_executable("step")
    async def first(step: Any, other: Any) -> tuple[Any, Any]:
        return step, other

    step, other = echo_value(1), echo_value(2)
    assert ot.run(first(step, other)) == (step, 2)
    with pytest.raises(ValueError, match=r"non_copied_args names \['nope'\]"):
        ot.make_executable(non_copied_args=["nope"])(lambda x: x)


@ot.make_executable
def echo_value(x: Any) -> Any:
    return x
