"""The process sandbox: limits kill runaway code without blocking the loop; the host's
globals, environment and files stay out of reach; sandboxes keep their output apart."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from onetwo.agents.sandbox import PythonSandbox, SandboxLimits
from onetwo.agents.tools import Tool, ToolResult

SECRET = "host-only-value"  # a host module global the sandboxed code must not see


@pytest.fixture
async def box() -> AsyncIterator[PythonSandbox]:
    sandbox = PythonSandbox(limits=SandboxLimits(wall_seconds=20))
    yield sandbox
    await sandbox.stop()


class _Ticker:
    """A coroutine that keeps running while the sandbox works: proof the loop is free."""

    def __init__(self) -> None:
        self.ticks = 0
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.01)

    def stop(self) -> int:
        self._task.cancel()
        return self.ticks


async def test_variables_persist_and_output_is_captured(box: PythonSandbox) -> None:
    assert (await box.run("x = 40")).ok
    result = await box.run("print('hello')\nx + 2")
    assert (result.status, result.stdout, result.value) == ("ok", "hello\n", "42")
    error = await box.run("y = 1\nundefined_name")
    assert error.status == "error" and "line 2: NameError" in error.error
    assert (await box.run("y")).value == "1"


async def test_an_infinite_loop_is_killed_at_the_wall_clock_limit() -> None:
    async with PythonSandbox(limits=SandboxLimits(wall_seconds=0.5)) as box:
        await box.run("x = 1")
        ticker = _Ticker()
        result = await box.run("while True:\n    pass")
        assert ticker.stop() > 5  # other coroutines ran meanwhile
        assert result.status == "timeout" and result.restarted
        assert "longer than 0.5 s" in result.error
        after = await box.run("x")  # a fresh process: usable, without the old variables
        assert after.status == "error" and "NameError" in after.error
        assert box.starts == 2


async def test_cpu_time_is_limited() -> None:
    async with PythonSandbox(limits=SandboxLimits(cpu_seconds=1, wall_seconds=30)) as box:
        ticker = _Ticker()
        result = await box.run("while True:\n    pass")
        assert ticker.stop() > 5
        assert result.status == "cpu_limit" and result.restarted
        assert (await box.run("1 + 1")).value == "2"


async def test_a_memory_bomb_is_stopped_by_the_memory_limit() -> None:
    async with PythonSandbox(limits=SandboxLimits(memory_mb=200, wall_seconds=30)) as box:
        ticker = _Ticker()
        result = await box.run("hog = []\nwhile True:\n    hog.append(bytearray(10**7))")
        assert result.status == "memory_limit" and result.restarted
        big = await box.run("b = bytearray(10**9)")
        assert big.status == "memory_limit"
        assert ticker.stop() > 0
        assert (await box.run("len(bytearray(10**6))")).value == "1000000"


async def test_host_globals_are_out_of_reach(box: PythonSandbox) -> None:
    assert "NameError" in (await box.run("SECRET")).error
    # The escape of in-process sandboxes: a generator's frame reaches its module globals.
    escape = await box.run("(lambda: (yield))().gi_frame.f_globals.get('SECRET')")
    assert escape.status == "ok" and escape.value is None
    found = await box.run(
        "import gc\n"
        "[o for o in gc.get_objects() if isinstance(o, str) and o == 'host-only-' + 'value']"
    )
    assert found.value == "[]"
    assert "ModuleNotFoundError" in (await box.run("import tests.agents.test_sandbox")).error


async def test_the_api_key_is_not_in_the_environment(
    box: PythonSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    result = await box.run("import os\nos.environ['OPENAI_API_KEY']")
    assert result.status == "error" and "KeyError" in result.error
    assert "sk-test" not in str((await box.run("dict(os.environ)")).value)
    parent = await box.run(f"open('/proc/{os.getpid()}/environ', 'rb').read()")
    assert "PermissionError" in parent.error
    own = await box.run("open('/proc/self/environ', 'rb').read()")
    assert "PermissionError" in own.error


async def test_files_outside_the_scratch_folder_are_refused(
    box: PythonSandbox, tmp_path: Path
) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("top secret")
    for code in [
        f"open({str(outside)!r}).read()",
        f"import pathlib\npathlib.Path({str(outside)!r}).read_text()",
        f"import os\nos.open({str(outside)!r}, os.O_RDONLY)",
        f"import os\nos.listdir({str(tmp_path)!r})",
        f"open({str(tmp_path / 'new.txt')!r}, 'w')",
        "open('../escape.txt', 'w')",
        "open('/etc/passwd').read()",
        f"import os\nos.symlink({str(outside)!r}, 'link')",
        "import os\nos.chdir('/')",
    ]:
        result = await box.run(code)
        assert result.status == "error" and "PermissionError" in result.error, code
    assert not (tmp_path / "new.txt").exists()
    inside = await box.run("open('notes.txt', 'w').write('mine')\nopen('notes.txt').read()")
    assert inside.value == "'mine'"
    assert box.scratch is not None
    assert os.listdir(box.scratch) == ["notes.txt"]


async def test_processes_signals_and_network_are_refused(box: PythonSandbox) -> None:
    for code in [
        "import subprocess",
        "import os\nos.system('true')",
        "import os\nos.fork()",
        f"import os\nos.kill({os.getpid()}, 9)",
        "import socket",
        "import ctypes",
        "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (10**6, 10**6))",
    ]:
        result = await box.run(code)
        assert result.status == "error" and "PermissionError" in result.error, code


async def test_two_concurrent_sandboxes_keep_their_output_apart() -> None:
    async with PythonSandbox() as a, PythonSandbox() as b:
        loop = "for i in range(300):\n    print('{0}', i)"
        ra, rb = await asyncio.gather(a.run(loop.format("A")), b.run(loop.format("B")))
    assert ra.stdout.count("A") == 300 and "B" not in ra.stdout
    assert rb.stdout.count("B") == 300 and "A" not in rb.stdout


async def test_sandboxed_code_calls_host_tools_through_the_channel() -> None:
    seen: list[Any] = []

    def double(x: int) -> int:
        seen.append(x)
        return 2 * x

    tool = Tool(double)

    async def runner(name: str, args: list[Any], kwargs: dict[str, Any], index: int) -> ToolResult:
        assert name == "double"
        return await tool.invoke(args, kwargs)

    async with PythonSandbox(tools=["double"], tool_runner=runner) as box:
        assert (await box.run("double(3) + double(x=4)")).value == "14"
        failed = await box.run(
            "try:\n    double('many')\nexcept Exception as e:\n    print(type(e).__name__, e)"
        )
        assert "ToolCallError Error: invalid arguments for double" in failed.stdout
    assert seen == [3, 4]


async def test_exit_marks_the_end_and_stop_cleans_up() -> None:
    box = PythonSandbox()
    result = await box.run("print('answer: 4')\nexit()\nprint('not reached')")
    assert result.exited and result.stdout == "answer: 4\n"
    scratch, pid = box.scratch, box.pid
    assert scratch is not None and pid is not None
    await box.stop()
    assert not await asyncio.to_thread(os.path.exists, scratch)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_dropped_sandbox_takes_its_process_and_folder_with_it() -> None:
    box = PythonSandbox()
    await box.run("1")
    scratch, pid = box.scratch, box.pid
    assert scratch is not None and pid is not None
    del box
    gc.collect()
    assert not await asyncio.to_thread(os.path.exists, scratch)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_the_references_life_cycle_start_as_a_block_or_unsafe_and_str() -> None:
    # The reference's tutorial: `async with sandbox.start() as sandbox:` then str(result).
    sandbox = PythonSandbox(limits=SandboxLimits(wall_seconds=20))
    async with sandbox.start() as started:
        assert started is sandbox and sandbox.running
        assert str(await started.run("print('hi')\n1 + 1")) == "hi\n2"
        assert str(await started.run("1 / 0")).endswith("ZeroDivisionError: division by zero")
    assert not sandbox.running and sandbox.scratch is None
    assert await sandbox.start_unsafe() is sandbox and sandbox.running
    assert await sandbox.start_unsafe() is sandbox and sandbox.starts == 2  # no second child
    await sandbox.stop()
    assert not sandbox.running
