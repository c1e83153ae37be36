"""The reference OneTwo's examples of ``make_executable`` and of running executables.

Written by us from the reference's notebooks and executing tests; each asserts the
reference's result, on ``onetwo.core.executing`` (the reference's module path).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from onetwo import ot
from onetwo.core import executing, tracing


@executing.make_executable
def my_function(text: str) -> str:
    return f"done: {text}"


@executing.make_executable("other")
async def my_function_with_input(text: str, other: executing.Executable[str]) -> str:
    other_result = await other
    return f"done: {text} with {other_result}"


class Uncopiable:
    def __init__(self, text: str) -> None:
        self.text = text

    def __deepcopy__(self, memo: dict[int, Any]) -> Uncopiable:
        raise NotImplementedError("Uncopiable is not deepcopyable.")


class ObjectForTest:
    def __init__(self, some_list: list[str]) -> None:
        self.some_list = some_list

    def not_decorated_method(self, req: str) -> str:
        return self.some_list[0] + req

    @executing.make_executable
    def method(self, req: str) -> str:
        return self.some_list[0] + req

    @executing.make_executable(copy_self=False)
    def method_without_copy(self, req: str) -> str:
        return self.some_list[0] + req

    @executing.make_executable(non_copied_args=["uncopiable"])
    def method_with_non_copied_args(self, texts: list[str], uncopiable: Uncopiable) -> str:
        return self.some_list[0] + texts[0] + uncopiable.text


def test_positional_names_are_arguments_passed_unexecuted() -> None:
    @executing.make_executable
    def pass_through(text: str) -> str:
        return text

    run = executing.run
    assert (
        run(my_function_with_input(pass_through("r"), my_function("s"))) == "done: r with done: s"
    )
    assert run(my_function_with_input("r", pass_through("s"))) == "done: r with s"
    nested = my_function_with_input("s", pass_through("t"))
    assert (
        run(my_function_with_input(my_function("r"), nested)) == "done: done: r with done: s with t"
    )


def test_decorating_twice_is_a_no_op() -> None:
    def two_args(one: Any, two: Any) -> Any:
        return one, two

    once = executing.make_executable("one")(two_args)
    twice = executing.make_executable("two")(once)
    first, second = my_function("1"), my_function("2")
    assert twice is once
    assert executing.run(once(first, second)) == (first, "done: 2")


def test_a_deepcopy_copies_self_unless_copy_self_is_false() -> None:
    inner_text = ["req1"]
    obj = ObjectForTest(inner_text)
    executable, executable3 = obj.method("_0"), obj.method_without_copy("_0")
    executable2, executable4 = copy.deepcopy(executable), copy.deepcopy(executable3)
    inline = executing.make_executable(obj.not_decorated_method)("_0")
    inline_shared = executing.make_executable(copy_self=False)(obj.not_decorated_method)("_0")
    inline2, inline_shared2 = copy.deepcopy(inline), copy.deepcopy(inline_shared)
    inner_text[0] = "req2"
    assert [executing.run(e) for e in (executable, executable2)] == ["req2_0", "req1_0"]
    assert [executing.run(e) for e in (executable3, executable4)] == ["req2_0", "req2_0"]
    assert [executing.run(e) for e in (inline, inline2)] == ["req2_0", "req1_0"]
    assert [executing.run(e) for e in (inline_shared, inline_shared2)] == ["req2_0", "req2_0"]


def test_a_deepcopy_shares_the_non_copied_args_and_copies_the_others() -> None:
    obj = ObjectForTest(["req"])
    texts, uncopiable = ["_0"], Uncopiable("_u0")
    executable = obj.method_with_non_copied_args(texts, uncopiable=uncopiable)
    executable2 = copy.deepcopy(executable)
    texts[0], uncopiable.text = "_1", "_u1"
    assert executing.run(executable) == "req_1_u1"
    assert executing.run(executable2) == "req_0_u1"


def test_methods_with_copy_self_false_and_callable_objects_with_async_call() -> None:
    # The RAG tutorial's retriever, and an object whose __call__ is async.
    @dataclasses.dataclass
    class SimpleDictRetriever:
        data: dict[str, str]

        @ot.make_executable(copy_self=False)
        async def retrieve(self, query: str, **kwargs: Any) -> list[str]:
            return [self.data.get(query, "Not found")]

    class Shout:
        async def __call__(self, text: str) -> str:
            return text.upper()

    retriever = SimpleDictRetriever(data={"France": "Paris"})
    assert ot.run(retriever.retrieve("France")) == ["Paris"]
    assert ot.run(ot.make_executable(Shout())("hi")) == "HI"


@executing.make_executable
def sync_fn(text: str) -> str:
    return f"done: {text}"


@executing.make_executable
async def async_fn(text: str) -> str:
    return await sync_fn(text)


@executing.make_executable
@tracing.trace
def iterator(text: str) -> Iterator[str]:
    for i in range(1, len(text) + 1):
        yield "done: " + text[:i]


@executing.make_executable
async def async_iterator(text: str) -> AsyncIterator[str]:
    # The reference's version does `async for s in iterator(text)`: ours are not iterable.
    for i in range(1, len(text) + 1):
        yield "done: " + text[:i]


PARTIALS = ["done: t", "done: te", "done: tes", "done: test"]


@pytest.mark.parametrize(
    ("fn", "iterative"),
    [(sync_fn, False), (async_fn, False), (iterator, True), (async_iterator, True)],
    ids=["sync", "async", "iterator", "async_iterator"],
)
def test_run_safe_stream_and_stream_with_callback(fn: Any, iterative: bool) -> None:
    assert executing.run(fn("test")) == "done: test"
    with executing.safe_stream(fn("test")) as stream:
        assert list(stream) == (PARTIALS if iterative else PARTIALS[-1:])
    seen: list[str] = []
    assert executing.stream_with_callback(fn("test"), seen.append) == "done: test"
    assert seen == (PARTIALS if iterative else PARTIALS[-1:])


def test_stream_updates_of_a_traced_iterator_and_its_final_value() -> None:
    # Ours yields Update records (the reference: the bare values); `.value` is the same.
    with executing.stream_updates(iterator("test")) as updates:
        values = [u.value for u in updates]
    assert values[:-1] == PARTIALS and updates.value == "done: test"


def test_par_iter_returns_exceptions_with_their_traceback_in_a_note() -> None:
    @executing.make_executable
    def compute(s: str) -> str:
        if s == "Some error":
            raise ValueError(s)
        return s + " done"

    executables = [compute(s) for s in ["test1", "Some error", "test2"]]
    with pytest.raises(ValueError, match="Some error"):
        executing.run(executing.par_iter(executables))
    res = executing.run(executing.par_iter(executables, return_exceptions=True))
    assert res[0] == "test1 done" and res[2] == "test2 done"
    with pytest.raises(ValueError, match="Some error"):
        raise res[1]
    assert "in compute" in res[1].__notes__[0]


def test_module_paths_name_the_same_objects() -> None:
    from onetwo.core import routing, utils

    assert executing.run is ot.run and executing.parallel is ot.parallel
    assert executing.par_iter is ot.par_iter and executing.safe_stream is ot.safe_stream
    assert executing.stream_updates is ot.stream_updates
    assert routing.function_registry is ot.function_registry is ot.function_call
    assert routing.RegistryContext is ot.RegistryContext
    assert utils.FROM_INSTANCE_CLASS_NAME is None  # trace names the node Class.method
