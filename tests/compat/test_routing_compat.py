"""The reference OneTwo's routing examples: call registered functions by name."""

from __future__ import annotations

import pytest

from onetwo import ot
from onetwo.core import executing, routing


def test_register_and_call() -> None:
    def f(i: int) -> str:
        return f"f:{i}"

    def f_with_varied_args(a: int, b: int, /, c: int, *, d: int) -> str:
        return f"f:{a},{b},{c},{d}"

    async def g(text: str) -> str:
        return text.upper()

    routing.function_registry["f"] = f
    routing.function_registry["f2"] = f_with_varied_args
    routing.function_registry["g"] = g
    assert executing.run(routing.function_registry("f", i=0)) == "f:0"
    assert executing.run(routing.function_registry("f2", 0, 1, 2, d=3)) == "f:0,1,2,3"
    assert executing.run(routing.function_registry("f2", 0, 1, c=2, d=3)) == "f:0,1,2,3"
    assert executing.run(ot.function_call("g", "async")) == "ASYNC"
    with pytest.raises(KeyError):
        executing.run(routing.function_registry("unregistered", i=0))
    assert routing.function_registry.get("unregistered", None) is None


def test_the_registry_is_read_when_the_call_runs() -> None:
    routing.function_registry["f"] = lambda i: f"f1:{i}"
    call = routing.function_registry("f", i=1)
    with routing.RegistryContext():
        routing.function_registry["f"] = lambda i: f"f2:{i}"
        assert executing.run(call) == "f2:1"
        inner = routing.copy_registry()
    assert executing.run(call) == "f1:1"
    with routing.RegistryContext(inner):
        assert executing.run(call) == "f2:1"
