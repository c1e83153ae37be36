"""The reference's batching decorators, as its backends and tests use them, on onetwo's
one batching mechanism: what each call returns and how the requests are grouped."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from onetwo import ot
from onetwo.core import batching


def _gathered(*calls: Callable[[], Any]) -> Any:
    """Run the coroutines ``calls`` make, concurrently, under ot.run."""

    @ot.make_executable
    async def plan() -> list[Any]:
        return list(await asyncio.gather(*(call() for call in calls)))

    return plan()


def test_batch_function_behind_a_one_call_signature() -> None:
    batches: list[list[dict[str, Any]]] = []

    @batching.batch_function(batch_size=3)
    def my_fn(requests: Sequence[dict[str, Any]]) -> list[str]:
        batches.append(list(requests))
        return [p["s"] + f" d{p['d']}" + f" f{p['f']}" + " done" for p in requests]

    @batching.batchable_function(implementation=my_fn)
    def my_single_fn(s: str, d: int, f: float = 0.0) -> str:
        raise AssertionError("only the signature: the batch function answers")

    async def serial_plan(i: int) -> str:
        result = ""
        for r in ["a", "b", "c"]:
            result = await my_single_fn(r + str(i), 0)
        return result

    results = ot.run(_gathered(*(functools.partial(serial_plan, i) for i in range(4))))
    assert results == [f"c{i} d0 f0.0 done" for i in range(4)]
    assert all(len(b) <= 3 for b in batches)
    sent = sorted(r["s"] for b in batches for r in b)
    assert sent == sorted(f"{r}{i}" for r in "abc" for i in range(4))
    assert batches[0][0] == {"s": "a0", "d": 0, "f": 0.0}  # by name, the default filled in


def test_batching_function_groups_compatible_requests() -> None:
    batches: list[list[str]] = []

    def can_batch(requests: Sequence[dict[str, Any]], req: dict[str, Any]) -> tuple[bool, bool]:
        # Requests whose 's' starts with the same character; a batch is never full.
        return (not requests or req["s"][0] == requests[0]["s"][0]), False

    @batching.batch_function(batching_function=can_batch)
    def my_other_fn(requests: Sequence[dict[str, Any]]) -> list[str]:
        batches.append([r["s"] for r in requests])
        return [r["s"] + " done" for r in requests]

    @batching.batchable_function(implementation=my_other_fn)
    def single(s: str, d: int) -> str:
        raise AssertionError("only the signature: the batch function answers")

    async def serial_plan(i: int) -> list[str]:
        return [await single(r + str(i), 0) for r in "abc"]

    results = ot.run(_gathered(*(functools.partial(serial_plan, i) for i in range(4))))
    assert results[2] == ["a2 done", "b2 done", "c2 done"]
    # The reference's expected batches for this example.
    assert batches == [[f"{r}{i}" for i in range(4)] for r in "abc"]


def test_batch_methods_of_an_add_batching_class() -> None:
    @batching.add_batching
    class ClassWithBatch:
        def __init__(self) -> None:
            self.batch_size = 2
            self.batches: list[list[str]] = []

        def answer(self, requests: Sequence[dict[str, Any]], suffix: str) -> list[str]:
            self.batches.append([r["s"] for r in requests])
            return [r["s"] + suffix for r in requests]

        @batching.batch_method(batch_size=lambda self: self.batch_size)
        def my_fn(self, requests: Sequence[dict[str, Any]]) -> list[str]:
            return self.answer(requests, " done")

        @batching.batchable_function(implementation=my_fn)
        def my_single_fn(self, s: str) -> str:
            raise AssertionError("only the signature: the batch function answers")

        # The reference's FromInstance('can_batch_method'): a function of the instance.
        @batching.batch_method(batching_function=lambda self: self.can_batch_method)
        def my_other_fn(self, requests: Sequence[dict[str, Any]]) -> list[str]:
            return self.answer(requests, " other")

        def can_batch_method(
            self, requests: Sequence[dict[str, Any]], req: dict[str, Any]
        ) -> tuple[bool, bool]:
            return (not requests or req["s"][0] == requests[0]["s"][0]), False

        @batching.batchable_function(implementation=my_other_fn)
        def my_other_single_fn(self, s: str) -> str:
            raise AssertionError("only the signature: the batch function answers")

    c = ClassWithBatch()
    results = ot.run(_gathered(*(functools.partial(c.my_single_fn, s) for s in "abcde")))
    assert results == [f"{s} done" for s in "abcde"]
    assert sorted(map(len, c.batches)) == [1, 2, 2]
    c.batches.clear()
    words = ["a1", "b1", "a2", "b2", "a3"]
    results = ot.run(_gathered(*(functools.partial(c.my_other_single_fn, w) for w in words)))
    assert results == [f"{w} other" for w in words]
    assert c.batches == [["a1", "a2", "a3"], ["b1", "b2"]]


def test_batch_function_with_threadpool_and_a_wrapper() -> None:
    calls: list[int] = []
    meet = threading.Barrier(2, timeout=30)  # requests 0 and 1 share the first batch
    num_batches = 0

    def wrapper(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def wrapped_function(requests: Sequence[Any]) -> Sequence[Any]:
            nonlocal num_batches
            num_batches += 1
            return function(requests)

        return wrapped_function

    @batching.batch_function_with_threadpool(batch_size=3, wrapper=wrapper)
    def process(request: int) -> int:
        calls.append(request)
        if request < 2:
            meet.wait()  # passes only if they run at the same time, in two threads
        return request

    results = ot.run(_gathered(*(functools.partial(process, i) for i in range(10))))
    assert results == list(range(10))
    assert (num_batches, sorted(calls)) == (4, list(range(10)))


def test_batch_method_with_threadpool_as_the_references_backends_use_it() -> None:
    def add_logging(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapped_method(self: Any, requests: Sequence[Any]) -> Sequence[Any]:
            self.counters["generate_text_batches"] += 1
            return method(self, requests)

        return wrapped_method

    @batching.add_batching
    class Backend:
        def __init__(self, batch_size: int) -> None:
            self.batch_size = batch_size
            self.counters = {"generate_text_batches": 0, "generate_text": 0}

        @batching.batch_method_with_threadpool(
            batch_size=lambda self: self.batch_size, wrapper=add_logging
        )
        def generate_text(
            self, prompt: str, *, temperature: float | None = None, **kwargs: Any
        ) -> str:
            self.counters["generate_text"] += 1
            return f"{prompt}@{temperature}{kwargs}"

    backend = Backend(batch_size=4)
    calls = [functools.partial(backend.generate_text, f"p{i}", temperature=0.5) for i in range(6)]
    calls.append(functools.partial(backend.generate_text, "x", seed=1))
    results = ot.run(_gathered(*calls))
    assert results[:2] == ["p0@0.5{}", "p1@0.5{}"] and results[-1] == "x@None{'seed': 1}"
    assert backend.counters == {"generate_text_batches": 2, "generate_text": 7}


@pytest.mark.parametrize("enable_batching", [True, False])
def test_exceptions_of_single_requests_reach_their_callers(enable_batching: bool) -> None:
    @ot.make_executable
    @batching.batch_function_with_threadpool(batch_size=2)
    def process(request: int | Exception) -> int:
        if isinstance(request, Exception):
            raise request
        return request

    @ot.make_executable
    async def process_with_error_handling(x: int | Exception) -> int | str:
        try:
            return await process(x)
        except Exception as e:
            return str(e)

    inputs: list[int | Exception] = [1, ValueError("error2"), 3]
    handled = ot.par_iter([process_with_error_handling(x) for x in inputs])
    assert ot.run(handled, enable_batching=enable_batching) == [1, "error2", 3]
    with pytest.raises(ValueError, match="error2"):
        ot.run(ot.par_iter([process(x) for x in inputs]), enable_batching=enable_batching)


def test_to_thread_pool_method_runs_calls_in_a_pool_of_the_instance() -> None:
    class Client:
        def __init__(self) -> None:
            self.workers = 2
            self.running = self.most = 0
            self.lock = threading.Lock()
            self.pairs = threading.Barrier(2, timeout=30)  # two calls at a time, or it breaks

        @batching.to_thread_pool_method(num_workers=lambda self: self.workers)
        def call(self, x: int) -> tuple[int, bool]:
            with self.lock:
                self.running += 1
                self.most = max(self.most, self.running)
            self.pairs.wait()
            with self.lock:
                self.running -= 1
            return x * 2, threading.current_thread() is threading.main_thread()

    client = Client()
    results = ot.run(_gathered(*(functools.partial(client.call, i) for i in range(6))))
    assert results == [(i * 2, False) for i in range(6)]
    assert client.most == 2  # num_workers at once, no more
