"""ot.run works from plain code and from inside a running event loop (Jupyter)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import options, runtime
from onetwo.core.running import run_sync


def test_run_from_plain_code_drives_the_runtime_loop_in_the_callers_thread() -> None:
    @ot.make_executable
    async def where() -> tuple[asyncio.AbstractEventLoop, str]:
        return asyncio.get_running_loop(), threading.current_thread().name

    assert ot.run(where()) == (runtime.loop(), threading.current_thread().name)


def test_run_inside_a_running_loop_like_jupyter() -> None:
    FakeBackend(default_reply="from a notebook").register()

    @ot.make_executable
    def where() -> str:
        return threading.current_thread().name

    async def notebook_cell() -> tuple[str, str]:
        # A notebook cell calls ot.run synchronously while the kernel's loop runs.
        return ot.run(llm.generate_text("q")), ot.run(where())

    text, thread_name = asyncio.run(notebook_cell())
    assert text == "from a notebook"
    assert thread_name == "onetwo-runtime"


def test_context_variables_reach_the_worker_thread() -> None:
    async def cell() -> str:
        with ot.RegistryContext():
            FakeBackend(default_reply="inside the context").register()
            return ot.run(llm.generate_text("q"))

    assert asyncio.run(cell()) == "inside the context"


def test_errors_propagate_from_the_worker_thread() -> None:
    async def boom() -> None:
        raise KeyError("lost")

    async def cell() -> None:
        run_sync(boom)

    with pytest.raises(KeyError, match="lost"):
        asyncio.run(cell())


def test_every_run_uses_the_one_runtime_loop_which_stays_open() -> None:
    loops = []

    async def record() -> None:
        loops.append(asyncio.get_running_loop())

    async def cell() -> None:
        run_sync(record)

    run_sync(record)
    asyncio.run(cell())
    assert loops[0] is loops[1] and not loops[0].is_closed()


def test_run_sync_sets_the_run_options_for_the_run_only() -> None:
    async def read() -> bool:
        return options.current().enable_batching

    assert run_sync(read, enable_batching=False) is False
    assert run_sync(read) is True
    with options.use(options.RunOptions(enable_batching=False)):
        assert run_sync(read) is False  # the caller's options, unless the run changes them
