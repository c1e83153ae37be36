"""The runtime: one loop for every run, interrupts unwind runs, values live across runs."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import os
import signal
import threading

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import runtime
from onetwo.errors import OneTwoError

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="unset")


def test_submit_runs_in_the_given_context_on_the_runtime_loop() -> None:
    async def read() -> tuple[str, asyncio.AbstractEventLoop]:
        value = where.get()
        where.set("changed by the run")
        return value, asyncio.get_running_loop()

    where.set("the caller's")
    try:
        assert runtime.submit(read, context=contextvars.copy_context()) == (
            "the caller's",
            runtime.loop(),
        )
        assert where.get() == "the caller's"  # the run had a copy
    finally:
        where.set("unset")


def test_a_run_while_another_thread_drives_the_loop_is_handed_over() -> None:
    started = threading.Event()
    gate, after = asyncio.Event(), asyncio.Event()
    results: list[str] = []

    async def first() -> str:
        started.set()
        await gate.wait()  # set by the second run, posted to this thread's loop
        return "first"

    async def second() -> str:
        gate.set()
        await after.wait()  # set once the first run's thread stopped driving the loop
        return "second"

    def then_release() -> None:
        driver.join()
        runtime.loop().call_soon_threadsafe(after.set)

    driver = threading.Thread(
        target=lambda: results.append(runtime.submit(first, context=contextvars.copy_context()))
    )
    driver.start()
    started.wait()
    threading.Thread(target=then_release).start()
    assert runtime.submit(second, context=contextvars.copy_context()) == "second"
    assert results == ["first"]


def test_runs_from_threads_and_running_loops_share_one_loop() -> None:
    @ot.make_executable
    async def which_loop() -> asyncio.AbstractEventLoop:
        return asyncio.get_running_loop()

    async def notebook_cell() -> asyncio.AbstractEventLoop:
        return ot.run(which_loop())

    from_thread: list[asyncio.AbstractEventLoop] = []
    thread = threading.Thread(target=lambda: from_thread.append(ot.run(which_loop())))
    thread.start()
    thread.join()
    assert ot.run(which_loop()) is asyncio.run(notebook_cell()) is from_thread[0]
    assert from_thread[0] is runtime.loop()


def test_ot_run_inside_a_run_says_to_await_instead() -> None:
    FakeBackend(default_reply="x").register()

    @ot.make_executable
    def sync_step() -> str:
        return ot.run(llm.generate_text("q"))  # on the runtime thread: would deadlock

    with pytest.raises(runtime.NestedRunError, match="await") as info:
        ot.run(sync_step())
    assert isinstance(info.value, OneTwoError)


def test_a_keyboard_interrupt_while_waiting_cancels_the_run_and_waits_for_it() -> None:
    main_thread = threading.main_thread()
    assert threading.current_thread() is main_thread
    unwound: list[str] = []

    @ot.make_executable
    async def endless() -> None:
        # The notebook's stop button: SIGINT reaches the thread waiting in ot.run.
        assert main_thread.ident is not None
        signal.pthread_kill(main_thread.ident, signal.SIGINT)
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # unwinding takes a step of its own
            unwound.append("cleaned up")
            raise

    with pytest.raises(KeyboardInterrupt):
        ot.run(endless())
    assert unwound == ["cleaned up"]  # before ot.run re-raised
    assert ot.run(ot.make_executable(lambda: "still serving")()) == "still serving"


def test_a_keyboard_interrupt_before_the_run_starts_leaves_the_loop_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = signal.getsignal

    def interrupted(signum: int) -> object:  # Ctrl-C lands while the run is set up
        monkeypatch.setattr(signal, "getsignal", real)
        raise KeyboardInterrupt

    monkeypatch.setattr(signal, "getsignal", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ot.run(ot.make_executable(lambda: "never")())
    answers: list[str] = []
    later = threading.Thread(
        target=lambda: answers.append(ot.run(ot.make_executable(str)())), daemon=True
    )
    later.start()
    later.join(10)
    assert answers == [""]  # a later run, from any thread, is served


def test_on_runtime_hops_from_another_loop_and_cancellation_goes_both_ways() -> None:
    steps: list[str] = []
    started = threading.Event()

    async def on_the_runtime() -> str:
        return f"{threading.current_thread().name} {where.get()}"

    async def slow() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            steps.append("fn unwound")
            raise

    async def cancelled_on_the_runtime() -> None:
        asyncio.current_task().cancel()  # type: ignore[union-attr]
        await asyncio.sleep(0)

    async def users_loop() -> None:
        where.set("user")
        assert await runtime.on_runtime(on_the_runtime) == "onetwo-runtime user"
        caller = asyncio.ensure_future(runtime.on_runtime(slow))
        await asyncio.to_thread(started.wait)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller
        steps.append("caller cancelled")
        with pytest.raises(asyncio.CancelledError):
            await runtime.on_runtime(cancelled_on_the_runtime)

    asyncio.run(users_loop())
    assert steps == ["fn unwound", "caller cancelled"]


def test_a_runtime_value_is_made_once_and_closed_at_shutdown() -> None:
    made: list[object] = []
    closed: list[object] = []

    async def close(value: object) -> None:
        closed.append(value)

    def make() -> object:
        made.append(object())
        return made[-1]

    value = runtime.RuntimeValue(make, close=close)

    async def get() -> object:
        return value.get()

    use = ot.make_executable(get)
    first = ot.run(use())
    assert ot.run(use()) is first and made == [first] and value.peek() is first
    with pytest.raises(RuntimeError, match="on_runtime"):
        asyncio.run(get())  # on a loop of the test's own
    runtime.shutdown()
    assert closed == [first] and value.peek() is None
    assert ot.run(use()) is not first  # a fresh runtime makes its own


def test_a_dropped_runtime_value_is_closed_on_the_runtime() -> None:
    closed = threading.Event()

    async def close(value: object) -> None:
        assert asyncio.get_running_loop() is runtime.loop()
        closed.set()

    owner = [runtime.RuntimeValue(object, close=close)]  # the only reference

    @ot.make_executable
    async def use() -> None:
        owner[0].get()

    ot.run(use())
    owner.clear()
    gc.collect()
    assert closed.wait(timeout=10)


def test_shutdown_cancels_what_runs_left_behind_while_the_daemon_waits_on_it() -> None:
    go = asyncio.Event()
    on_the_daemon, cancelled = threading.Event(), threading.Event()

    async def leftover() -> None:
        try:
            await go.wait()
            on_the_daemon.set()  # the run's thread has let go: the daemon drives the loop
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    @ot.make_executable
    async def fire_and_forget() -> str:
        asyncio.ensure_future(leftover())  # noqa: RUF006 - left behind on purpose
        await asyncio.sleep(0)
        return "done"

    assert ot.run(fire_and_forget()) == "done"
    runtime.loop().call_soon_threadsafe(go.set)
    assert on_the_daemon.wait(timeout=10)
    assert not cancelled.is_set()  # the loop outlives the run
    runtime.shutdown(timeout=10)
    assert cancelled.is_set()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_a_runtime_of_its_own() -> None:
    FakeBackend(default_reply="from the child").register()
    parent_loop = runtime.loop()
    assert ot.run(llm.generate_text("q")) == "from the child"
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        ok = False
        try:
            ok = (
                ot.run(llm.generate_text("q")) == "from the child"
                and runtime.loop() is not parent_loop
                and not parent_loop.is_closed()  # left alone: it is the parent's
            )
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert runtime.loop() is parent_loop  # the parent's runtime is untouched
