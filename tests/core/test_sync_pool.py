"""Sync implementations run on the pool and hand their outcomes back to the caller's loop.

Each call runs on a pool thread (``onetwo.core.builtin._SyncPool``) and is resolved on its
caller's loop: these tests hold the outcomes, the context, the cancellation of one caller
among many, calls from two loops at once, and a forked child.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import signal
import threading
import traceback

import pytest

from onetwo import ot
from onetwo.core.builtin import builtin

_user = contextvars.ContextVar("_user", default="nobody")


@builtin
async def _echo(text: str) -> str:
    """A builtin for the tests of the sync pool."""
    raise NotImplementedError


@pytest.fixture(autouse=True)
def _registry() -> object:
    with ot.RegistryContext() as registry:
        yield registry


def _check_prompt(text: str) -> str:
    raise ValueError(f"bad prompt {text!r}")


def test_an_exception_reaches_the_caller_with_the_implementations_traceback() -> None:
    _echo.configure(lambda text: _check_prompt(text))
    with pytest.raises(ValueError, match="bad prompt 'x'") as caught:
        ot.run(_echo("x"))
    frames = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert "_check_prompt" in frames
    _echo.configure(lambda text: text.upper())
    assert ot.run(_echo("next")) == "NEXT"  # the pool and the loop's inbox still work


def test_a_stop_iteration_is_a_runtime_error_and_its_neighbours_still_finish() -> None:
    def impl(text: str) -> str:
        if text == "stop":
            raise StopIteration("ran out")
        return text

    _echo.configure(impl)
    results = ot.run(ot.parallel(*(_echo(t) for t in ("a", "stop", "b")), return_exceptions=True))
    assert results[0] == "a" and results[2] == "b"
    assert isinstance(results[1], RuntimeError) and "StopIteration" in str(results[1])
    assert isinstance(results[1].__cause__, StopIteration)


async def test_the_implementation_sees_the_callers_context_variables_in_a_copy() -> None:
    def impl(text: str) -> str:
        seen = _user.get()
        _user.set("changed in the thread")
        return f"{text}:{seen}"

    _echo.configure(impl)
    _user.set("ada")
    assert await _echo("a") == "a:ada"
    assert _user.get() == "ada"  # the thread's change stayed in its copy

    @ot.make_executable
    async def strategy() -> str:
        _user.set("grace")
        return await _echo("b")

    assert ot.run(strategy()) == "b:grace"


async def test_cancelling_some_callers_leaves_the_others_running() -> None:
    # Ten calls finish together, so the cancelled ones' outcomes arrive among the others'.
    entered = threading.Barrier(11, timeout=30)  # the ten calls and this test
    release = threading.Event()
    finished: list[str] = []
    all_finished = threading.Event()  # the cancelled calls' threads are not awaited
    lock = threading.Lock()

    def impl(text: str) -> str:
        entered.wait()
        release.wait(timeout=30)
        with lock:
            finished.append(text)
            if len(finished) == 10:
                all_finished.set()
        return text.upper()

    errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, context: errors.append(context))
    _echo.configure(impl)
    calls = [asyncio.ensure_future(_echo(f"c{i}")) for i in range(10)]
    await asyncio.to_thread(entered.wait)  # all ten run on pool threads now
    for call in calls[::2]:
        call.cancel()
    release.set()
    kept = await asyncio.wait_for(asyncio.gather(*calls[1::2]), timeout=30)
    assert kept == [f"C{i}" for i in range(1, 10, 2)]
    assert all(call.cancelled() for call in calls[::2])
    assert await asyncio.to_thread(all_finished.wait, 30)
    _echo.configure(lambda text: text.lower())
    assert await asyncio.gather(_echo("C"), _echo("D")) == ["c", "d"]
    assert sorted(finished) == [f"c{i}" for i in range(10)]  # the cancelled ran, unheard
    assert errors == []


async def test_a_call_cancelled_before_a_thread_is_free_never_runs() -> None:
    from onetwo.core.builtin import SYNC_THREADS

    entered = threading.Barrier(SYNC_THREADS + 1, timeout=30)  # the busy calls and this test
    release = threading.Event()
    ran: list[str] = []

    def impl(text: str) -> str:
        ran.append(text)
        if text.startswith("busy"):
            entered.wait()
            release.wait(timeout=30)
        return text

    _echo.configure(impl)
    busy = [asyncio.ensure_future(_echo(f"busy{i}")) for i in range(SYNC_THREADS)]
    await asyncio.to_thread(entered.wait)  # every pool thread is taken
    queued = asyncio.ensure_future(_echo("queued"))
    await asyncio.sleep(0)  # let it reach the pool's queue
    queued.cancel()
    with pytest.raises(asyncio.CancelledError):
        await queued
    release.set()
    assert await asyncio.gather(*busy) == [f"busy{i}" for i in range(SYNC_THREADS)]
    assert await _echo("after") == "after"
    assert "queued" not in ran


def test_a_keyboard_interrupt_in_the_implementation_reaches_the_callers_loop() -> None:
    def impl(text: str) -> str:
        raise KeyboardInterrupt

    _echo.configure(impl)

    async def call() -> str:
        return await _echo("x")

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(call())  # a loop of the test's own: the runtime's must keep running
    _echo.configure(lambda text: text.upper())
    assert ot.run(_echo("y")) == "Y"


async def test_100_calls_from_two_loops_at_once_all_finish_on_their_own_loop() -> None:
    # 50 calls on this test's loop and 50 through ot.run (the runtime loop) in a thread:
    # none returns before all 100 are inside the pool at the same time.
    barrier = threading.Barrier(100, timeout=30)

    def impl(text: str) -> str:
        barrier.wait()
        return text.upper()

    _echo.configure(impl)
    from_runtime: list[list[str]] = []
    context = contextvars.copy_context()  # the registry this test configured
    other = threading.Thread(
        target=context.run,
        args=(lambda: from_runtime.append(ot.run(ot.par_iter(_echo(f"r{i}") for i in range(50)))),),
    )
    other.start()
    here = await asyncio.gather(*(_echo(f"h{i}") for i in range(50)))
    await asyncio.to_thread(other.join)
    assert here == [f"H{i}" for i in range(50)]
    assert from_runtime == [[f"R{i}" for i in range(50)]]
    assert not barrier.broken


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_runs_sync_implementations_on_threads_of_its_own() -> None:
    _echo.configure(lambda text: text.upper())
    assert ot.run(ot.par_iter(_echo(f"p{i}") for i in range(5))) == [f"P{i}" for i in range(5)]
    pid = os.fork()  # the parent's pool threads are idle, and absent from the child
    if pid == 0:  # the child: report through the exit status only
        ok = False
        try:
            signal.alarm(30)  # a call waiting for a thread that is not there: killed
            ok = ot.run(ot.par_iter(_echo(f"c{i}") for i in range(5))) == [
                f"C{i}" for i in range(5)
            ]
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert ot.run(_echo("parent")) == "PARENT"
