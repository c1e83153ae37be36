"""The registry binds builtins at run time; contexts isolate; defaults fill Nones."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import sampling, tracing
from onetwo.core.builtin import SYNC_THREADS, builtin
from onetwo.core.executing import Executable
from onetwo.errors import ConfigurationError


def test_arguments_given_as_none_use_the_configured_defaults() -> None:
    seen: list[dict[str, Any]] = []

    def impl(prompt: str, **kwargs: Any) -> str:
        seen.append(kwargs)
        return prompt

    llm.generate_text.configure(impl, temperature=0.5, max_tokens=7)
    ot.run(llm.generate_text("p", temperature=None))
    ot.run(llm.generate_text("p", temperature=0.9, max_tokens=None))
    llm.generate_text.update(max_tokens=3)
    ot.run(llm.generate_text("p"))
    assert [s.get("temperature") for s in seen] == [0.5, 0.9, 0.5]
    assert [s.get("max_tokens") for s in seen] == [7, 7, 3]
    assert llm.generate_text.defaults == {"temperature": 0.5, "max_tokens": 3}
    llm.reset_defaults()
    assert llm.generate_text.defaults == {}
    assert llm.generate_text.implementation is impl


def test_registry_context_changes_do_not_leak() -> None:
    FakeBackend(default_reply="outer").register()
    with ot.RegistryContext():
        FakeBackend(default_reply="inner").register()
        llm.generate_text.update(temperature=1.0)
        assert ot.run(llm.generate_text("q")) == "inner"
    assert ot.run(llm.generate_text("q")) == "outer"
    assert llm.generate_text.defaults == {}


def test_same_executable_under_two_registries() -> None:
    with ot.RegistryContext():
        FakeBackend(default_reply="A").register()
        reg_a = ot.copy_registry()
    with ot.RegistryContext():
        FakeBackend(default_reply="B").register()
        reg_b = ot.copy_registry()
    e = llm.generate_text("q")
    assert ot.run(ot.with_registry(e, reg_a)) == "A"
    assert ot.run(ot.with_registry(e, reg_b)) == "B"
    # Both at once, in one run: the override is per task.
    both = ot.parallel(ot.with_registry(e, reg_a), ot.with_registry(e, reg_b))
    assert ot.run(both) == ["A", "B"]


def test_the_registry_is_read_at_run_time_not_build_time() -> None:
    FakeBackend(default_reply="first").register()
    e = llm.generate_text("q")
    FakeBackend(default_reply="second").register()
    assert ot.run(e) == "second"


def test_with_current_registry_pins_the_registry_at_build_time() -> None:
    FakeBackend(default_reply="pinned").register()
    pinned = ot.with_current_registry(llm.generate_text("q"))
    FakeBackend(default_reply="later").register()
    assert ot.run(pinned) == "pinned"


def test_copy_registry_is_a_snapshot() -> None:
    FakeBackend(default_reply="one").register()
    snapshot = ot.copy_registry()
    FakeBackend(default_reply="two").register()
    assert ot.run(ot.with_registry(llm.generate_text("q"), snapshot)) == "one"


def test_set_registry_globally_and_inside_a_context() -> None:
    with ot.RegistryContext():
        FakeBackend(default_reply="x").register()
        reg_x = ot.copy_registry()
    with ot.RegistryContext():
        ot.set_registry(reg_x)
        assert ot.run(llm.generate_text("q")) == "x"
    with pytest.raises(ConfigurationError):
        ot.run(llm.generate_text("q"))
    ot.set_registry(reg_x)
    assert ot.run(llm.generate_text("q")) == "x"
    with pytest.raises(TypeError, match="needs a Registry"):
        ot.set_registry({})  # type: ignore[arg-type]


def test_function_registry_is_the_current_registry() -> None:
    ot.function_registry["llm.generate_text"] = lambda prompt: prompt.upper()
    assert ot.run(llm.generate_text("abc")) == "ABC"
    assert "llm.generate_text" in ot.function_registry
    with ot.RegistryContext():
        del ot.function_registry["llm.generate_text"]
        assert "llm.generate_text" not in ot.function_registry
    assert ot.function_registry["llm.generate_text"]("x") == "X"


def test_unconfigured_builtin_names_itself_and_the_fix() -> None:
    with pytest.raises(ConfigurationError) as info:
        ot.run(llm.generate_text("q"))
    message = str(info.value)
    assert "llm.generate_text is not configured" in message
    assert "register" in message and "llm.generate_text.configure(fn)" in message


def test_bad_arguments_are_reported_at_call_time() -> None:
    with pytest.raises(TypeError, match=r"unexpected argument\(s\) \['temprature'\]"):
        llm.generate_text("q", temprature=0.1)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="missing the required argument 'prompt'"):
        llm.generate_text()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"no parameter\(s\) \['temprature'\]"):
        llm.generate_text.configure(lambda prompt: prompt, temprature=0.1)


def test_an_argument_the_implementation_does_not_take_is_a_clear_error() -> None:
    llm.generate_text.configure(lambda prompt: prompt)
    assert ot.run(llm.generate_text("q")) == "q"
    with pytest.raises(TypeError, match=r"called with top_k=3, but its implementation"):
        ot.run(llm.generate_text("q", top_k=3))


def test_custom_builtins_with_declared_defaults_and_executable_arguments() -> None:
    @builtin
    async def join(a: str, b: str | Executable[str], sep: str | None = "-") -> str:
        """Join two strings (``b`` may be computed by another call; ``None`` is the default)."""
        raise NotImplementedError

    join.configure(lambda a, b, sep: f"{a}{sep}{b}")
    assert join.name == "test_registry.join"
    FakeBackend(default_reply="gen").register()
    assert ot.run(join("a", llm.generate_text("q"))) == "a-gen"
    join.update(sep="+")
    assert ot.run(join("a", "b", sep=None)) == "a+b"


async def test_sync_and_async_and_executable_returning_implementations() -> None:
    async def async_impl(prompt: str) -> str:
        await asyncio.sleep(0)
        return "async"

    llm.generate_text.configure(async_impl)
    assert await llm.generate_text("q") == "async"
    llm.instruct.configure(lambda prompt: llm.generate_text(prompt))
    assert await llm.instruct("q") == "async"


@builtin
async def _shout(text: str) -> str:
    """A builtin for the tests of sync implementations."""
    raise NotImplementedError


def test_100_blocking_sync_implementations_run_at_once_on_threads() -> None:
    # Each call blocks until all 100 are inside it at the same time: run one after the
    # other (on the event loop), the first would wait forever and break the barrier.
    assert SYNC_THREADS >= 100
    barrier = threading.Barrier(100, timeout=30)

    def blocking(text: str) -> str:
        barrier.wait()
        return text.upper()

    @ot.make_executable
    async def strategy() -> list[str]:
        return await ot.parallel(*(_shout(f"c{i}") for i in range(100)))

    with ot.RegistryContext():
        _shout.configure(blocking)
        assert ot.run(strategy()) == [f"C{i}" for i in range(100)]
    assert not barrier.broken


def test_a_sync_implementation_runs_in_the_callers_context() -> None:
    seen: list[tuple[str, str]] = []

    def impl(text: str) -> str:
        seen.append((sampling.current_sampling_key(), threading.current_thread().name))
        tracing.annotate(where="thread")
        return text

    with ot.RegistryContext():
        _shout.configure(impl)
        _, trace = ot.run(ot.parallel(*ot.repeat(_shout("x"), 2)), enable_tracing=True)
    assert sorted(key for key, _ in seen) == ["0", "1"]
    assert all(name.startswith("onetwo-sync") for _, name in seen)
    assert [n.details["where"] for n in trace.calls("test_registry._shout")] == ["thread"] * 2


async def test_an_async_implementation_runs_on_the_event_loop() -> None:
    async def impl(text: str) -> str:
        return threading.current_thread().name

    with ot.RegistryContext():
        _shout.configure(impl)
        assert await _shout("x") == threading.current_thread().name
