"""ot.run works from plain code and from inside a running event loop (Jupyter)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core.syncrun import in_running_loop, run_sync


def test_run_from_plain_code_uses_this_thread() -> None:
    @ot.make_executable
    def where() -> str:
        return threading.current_thread().name

    assert not in_running_loop()
    assert ot.run(where()) == threading.current_thread().name


def test_run_inside_a_running_loop_like_jupyter() -> None:
    FakeBackend(default_reply="from a notebook").register()

    @ot.make_executable
    def where() -> str:
        return threading.current_thread().name

    async def notebook_cell() -> tuple[str, str]:
        # A notebook cell calls ot.run synchronously while the kernel's loop runs.
        assert in_running_loop()
        return ot.run(llm.generate_text("q")), ot.run(where())

    text, thread_name = asyncio.run(notebook_cell())
    assert text == "from a notebook"
    assert thread_name == "onetwo-run"


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


def test_each_run_gets_a_fresh_loop() -> None:
    loops = []

    async def record() -> None:
        loops.append(asyncio.get_running_loop())

    run_sync(record)
    run_sync(record)
    assert loops[0] is not loops[1] and loops[0].is_closed()


def test_leftover_tasks_are_cancelled_when_a_run_in_a_loop_ends() -> None:
    cancelled: list[str] = []

    async def leftover() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append("leftover")
            raise

    async def main() -> str:
        asyncio.ensure_future(leftover())  # noqa: RUF006 - left behind on purpose
        await asyncio.sleep(0)
        return "done"

    async def cell() -> str:
        return run_sync(main)

    assert asyncio.run(cell()) == "done"
    assert cancelled == ["leftover"]
