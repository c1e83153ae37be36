"""A Python sandbox in a separate process: limits, a scratch folder, tools over a pipe.

:class:`PythonSandbox` starts a child interpreter (``sys.executable -I -S -B``) running a
small REPL (``_child.py``) and talks to it in JSON lines over its stdin/stdout. Variables
persist between :meth:`PythonSandbox.run` calls of one sandbox; each sandbox has its own
process, scratch folder and captured stdout, so concurrent sandboxes never mix output.
The event loop never blocks: the pipe is read in a thread of the sandbox's own.

What it isolates:

* **Host memory**: the code runs in another process (started with ``subprocess`` and
  driven from a thread, so it survives across event loops); host globals, objects and API
  clients are out of reach.
* **Environment**: the child's environment is scrubbed (``HOME``/``TMPDIR`` point at the
  scratch folder, a locale, nothing else): no API key is there to read.
* **Files**: the working folder is a fresh temporary folder, deleted by :meth:`stop`. An
  audit hook (``sys.addaudithook``, installed before user code and impossible to remove
  from Python) refuses ``open`` outside it (reading the standard library excepted, so
  imports work), path operations outside it (listing, deleting, renaming...), and
  ``chdir``, symlinks and hard links.
* **Processes, signals, network, native code**: ``fork``/``exec``/``spawn``/``system``/
  ``subprocess``, ``kill``, sockets, ``ctypes`` and raising resource limits are refused.
* **Runaway code**: ``resource.setrlimit`` caps CPU seconds (over the process's life),
  address space, file size and open files; a wall-clock limit per execution kills the
  process. A killed or exhausted sandbox is restarted on the next run (its variables are
  then gone, which the result says).

What it does not isolate: it is not a kernel boundary. It runs as the same OS user (not
chrooted, no namespaces, no seccomp), so a bug that lets code run native instructions
(an interpreter crash exploit, a C extension already imported) escapes the audit hook;
``os.stat`` and similar metadata calls are not audited, so the code can learn whether a
path exists. Treat it as a strong guard against model mistakes and casual misuse, and
run genuinely hostile code in a container or VM.

Example:
    >>> async def demo():
    ...     async with PythonSandbox(limits=SandboxLimits(wall_seconds=5)) as box:
    ...         await box.run("x = 40")
    ...         return (await box.run("print('hi'); x + 2")).value
    >>> # await demo()  ->  '42'  (and the result's stdout is 'hi\\n')
"""

from __future__ import annotations

import ast
import asyncio
import concurrent.futures
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import IO, Any, Literal

from onetwo.agents.errors import SandboxError
from onetwo.agents.limits import deadline
from onetwo.agents.tools import ToolResult
from onetwo.core.clock import SYSTEM_CLOCK, Clock

__all__ = ["PythonSandbox", "SandboxLimits", "SandboxResult", "SandboxStatus", "ToolRunner"]

SandboxStatus = Literal["ok", "error", "timeout", "cpu_limit", "memory_limit", "crashed"]
# Runs a tool for sandboxed code: (name, args, kwargs, call index within the execution).
ToolRunner = Callable[[str, list[Any], dict[str, Any], int], Awaitable[ToolResult]]

_CHILD = Path(__file__).with_name("_child.py")
_MB = 1024 * 1024
_MAX_LINE = 16 * _MB


@dataclasses.dataclass(frozen=True)
class SandboxLimits:
    """The resource limits of a sandbox.

    Attributes:
        wall_seconds: real time one :meth:`PythonSandbox.run` may take (time spent in
            host tools does not count); the process is killed when it is exceeded.
        cpu_seconds: CPU time over the process's whole life (``RLIMIT_CPU``).
        memory_mb: address space (``RLIMIT_AS``), in MiB.
        file_size_mb: largest file it may write (``RLIMIT_FSIZE``), in MiB.
        open_files: descriptors it may hold open (``RLIMIT_NOFILE``).
        max_output: characters of stdout kept per run (the rest is cut, and says so).
    """

    wall_seconds: float = 10.0  # the host kills the child past it
    # The child sets these on itself (setrlimit), before running any sandboxed code.
    cpu_seconds: int = 30
    memory_mb: int = 512
    file_size_mb: int = 16
    open_files: int = 64
    # The host cuts the output it reads back.
    max_output: int = 20_000

    def to_child(self) -> dict[str, int]:
        return {
            "cpu": self.cpu_seconds,
            "memory": self.memory_mb * _MB,
            "fsize": self.file_size_mb * _MB,
            "nofile": self.open_files,
        }


@dataclasses.dataclass(frozen=True)
class SandboxResult:
    """What one execution did.

    Attributes:
        status: ``"ok"``, ``"error"`` (the code raised), ``"timeout"`` (wall clock),
            ``"cpu_limit"``, ``"memory_limit"`` or ``"crashed"``.
        stdout: what it printed (stdout and stderr, in order).
        value: ``repr`` of the last line's value when it is an expression, else ``None``.
        error: the error, ``"line 3: NameError: name 'y' is not defined"``-style.
        exited: whether the code called ``exit()`` (an agent's "I am done").
        restarted: whether this run ended the process (killed, out of memory...), so
            the next run starts without the variables defined so far.
    """

    status: SandboxStatus
    stdout: str = ""
    value: str | None = None
    error: str = ""
    exited: bool = False
    restarted: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def final_expression_value(self) -> Any:
        """The last line's value as the reference gives it: a Python object, not a ``repr``.

        The value crossed from the sandbox process as its ``repr``; a literal (number,
        string, list, dict...) is read back with ``ast.literal_eval`` (which runs no code),
        anything else stays the ``repr`` string. ``None`` when the last line set nothing.

        Example:
            >>> SandboxResult("ok", value="[1, 'a']").final_expression_value
            [1, 'a']
        """
        if self.value is None:
            return None
        try:
            return ast.literal_eval(self.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return self.value

    def text(self) -> str:
        """How the result reads to a model (and ``str(result)``): output, value, error."""
        parts = [self.stdout.rstrip("\n")] if self.stdout.strip() else []
        if self.value is not None:
            parts.append(self.value)
        if self.error:
            parts.append(self.error)
        if self.restarted:
            parts.append("(the sandbox was restarted: variables from earlier steps are gone)")
        return "\n".join(parts)

    __str__ = text

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SandboxResult:
        return cls(**data)


class PythonSandbox:
    """One sandboxed interpreter whose variables persist between runs; see the module.

    Args:
        tools: names of host tools the code may call as functions; each call goes to
            ``tool_runner``.
        tool_runner: runs a tool call for the code (the environment passes one that
            validates, times and caches it).
        limits: the resource limits.
        seed: seeds the child's ``random``, so runs are reproducible.
        clock: the clock of the wall-clock limit.
        preload: standard-library modules imported before the audit hook is installed.
    """

    def __init__(
        self,
        *,
        tools: Sequence[str] = (),
        tool_runner: ToolRunner | None = None,
        limits: SandboxLimits | None = None,
        seed: int = 0,
        clock: Clock = SYSTEM_CLOCK,
        preload: Sequence[str] = ("math", "json", "re", "collections", "itertools"),
    ) -> None:
        self.tools = tuple(tools)
        self.tool_runner = tool_runner
        self.limits = limits or SandboxLimits()
        self.seed = seed
        self.clock = clock
        self.preload = tuple(preload)
        self.scratch: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._reader: concurrent.futures.ThreadPoolExecutor | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._next_id = 0
        self.runs = 0
        self.starts = 0

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"PythonSandbox({state}, runs={self.runs}, starts={self.starts})"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc is not None else None

    async def __aenter__(self) -> PythonSandbox:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _lock(self) -> asyncio.Lock:
        # The process is not tied to an event loop (it is driven through worker threads),
        # so one sandbox serves successive ``ot.run`` calls; runs are serialized per loop.
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    @contextlib.asynccontextmanager
    async def start(self) -> AsyncIterator[PythonSandbox]:
        """Start the child for a block and stop it after, as the reference's sandboxes do.

        Example:
            >>> async def demo():
            ...     async with PythonSandbox().start() as box:
            ...         return str(await box.run("1 + 1"))
            >>> # await demo()  ->  '2'
        """
        try:
            yield await self.start_unsafe()
        finally:
            await self.stop()

    async def start_unsafe(self) -> PythonSandbox:
        """Start the child and return the sandbox; the caller stops it (the first
        :meth:`run` starts it too)."""
        if not self.running:
            await self._start()
        return self

    async def _start(self) -> None:
        await asyncio.to_thread(self._spawn)
        init = {
            "op": "init",
            "scratch": self.scratch,
            "limits": self.limits.to_child(),
            "tools": list(self.tools),
            "seed": self.seed,
            "preload": list(self.preload),
            "max_output": self.limits.max_output,
        }
        try:
            self._send(init)
            async with deadline(10.0, lambda: SandboxError("the sandbox did not start in 10 s")):
                ready = await self._receive()
        except BaseException:
            self._kill()
            raise
        if ready is None or ready.get("op") != "ready":
            stderr = self._kill()
            raise SandboxError(f"the sandbox process failed to start: {stderr or ready!r:.500}")

    def _spawn(self) -> None:
        if self.scratch is None:
            self.scratch = tempfile.mkdtemp(prefix="onetwo-sandbox-")
        env = {"HOME": self.scratch, "TMPDIR": self.scratch, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        # stderr goes to a host file outside the scratch folder: never a pipe that could
        # fill up and stall the child, and readable after a crash.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-B", str(_CHILD)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=self.scratch,
            env=env,
            start_new_session=True,  # a Ctrl-C in a notebook does not hit it
        )
        self.starts += 1
        # A sandbox dropped without stop(): its process and folder go with it.
        self._finalizer = weakref.finalize(self, _reap, self._proc, self._stderr, self.scratch)

    async def stop(self) -> None:
        """Kill the child and delete the scratch folder."""
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Kill the child and delete the scratch folder, from synchronous code."""
        self._kill()
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.shutdown(wait=True)
        if self.scratch is not None:
            scratch, self.scratch = self.scratch, None
            shutil.rmtree(scratch, ignore_errors=True)

    async def run(self, code: str) -> SandboxResult:
        """Execute ``code`` in the sandbox's namespace; never raises for the code's faults.

        Runs of one sandbox are serialized. When the process is killed (wall clock, CPU)
        or runs out of memory, the result says so, and the next run starts a fresh one.
        A run cancelled from outside (e.g. by a step's time limit) kills the process too.
        """
        async with self._lock():
            await self.start_unsafe()
            try:
                result = await self._exchange(code)
            except BaseException:
                self._kill()
                raise
            self.runs += 1
            if result.status in ("timeout", "cpu_limit", "memory_limit", "crashed"):
                self._kill()
                return dataclasses.replace(result, restarted=True)
            return result

    async def _exchange(self, code: str) -> SandboxResult:
        self._next_id += 1
        run_id = self._next_id
        self._send({"op": "exec", "id": run_id, "code": code})
        remaining = self.limits.wall_seconds
        while True:
            started = self.clock.now()
            try:
                async with deadline(remaining, _WallClockExpired, clock=self.clock):
                    message = await self._receive()
            except _WallClockExpired:
                self._kill()
                return SandboxResult(
                    "timeout",
                    error=f"Timeout: the code ran longer than {self.limits.wall_seconds:g} s "
                    "and was stopped.",
                )
            remaining -= self.clock.now() - started
            if message is None:
                return self._died()
            op = message.get("op")
            if op == "tool_call":
                await self._answer_tool_call(message)
            elif op == "result" and message.get("id") == run_id:
                return _result_of(message)
            else:  # the code wrote on the protocol's pipe itself: its process is not trusted
                self._kill()
                return SandboxResult(
                    "crashed",
                    error=f"The sandbox broke its protocol (sent {message!r:.120}) and was "
                    "stopped.",
                )
            if remaining <= 0:
                self._kill()
                return SandboxResult("timeout", error="Timeout: the wall-clock limit was reached.")

    async def _answer_tool_call(self, message: dict[str, Any]) -> None:
        name, args, kwargs = message.get("name"), message.get("args"), message.get("kwargs")
        if not isinstance(name, str) or not isinstance(args, list) or not isinstance(kwargs, dict):
            reply = ToolResult("error", None, "Error: malformed tool call.")
        elif name not in self.tools or self.tool_runner is None:
            reply = ToolResult("unknown_tool", None, f"Error: no tool named {name!r}.")
        else:
            index = message.get("id")
            reply = await self.tool_runner(
                name, args, kwargs, index if isinstance(index, int) else 0
            )
        self._send({"op": "tool_result", **reply.to_json()})

    def _died(self) -> SandboxResult:
        proc = self._proc
        stderr = self._kill()
        code = proc.returncode if proc is not None else None
        if code in (-signal.SIGXCPU, -signal.SIGKILL):
            return SandboxResult(
                "cpu_limit",
                error=f"CPU limit: the sandbox used its {self.limits.cpu_seconds} CPU seconds "
                "and was stopped.",
            )
        if "MemoryError" in stderr:
            return SandboxResult("memory_limit", error="MemoryError: out of sandbox memory.")
        return SandboxResult(
            "crashed", error=f"The sandbox process died (exit code {code}). {stderr[-500:]}"
        )

    def _send(self, message: dict[str, Any]) -> None:
        # The child reads whenever the host writes (it waits for the exec or tool result),
        # so this write does not block the loop.
        proc = self._proc
        if proc is None or proc.stdin is None:
            raise SandboxError("the sandbox is not running.")
        try:
            proc.stdin.write((json.dumps(message, ensure_ascii=False) + "\n").encode())
            proc.stdin.flush()
        except (BrokenPipeError, ConnectionResetError, ValueError):
            pass  # the child died; reading its answer reports how

    async def _receive(self) -> dict[str, Any] | None:
        proc = self._proc
        if proc is None or proc.stdout is None:
            return None
        if self._reader is None:
            # A thread of its own: a long run waiting on the pipe never takes a thread
            # from the shared pool that sync tools (maybe called by this very code) need.
            self._reader = concurrent.futures.ThreadPoolExecutor(1, "onetwo-sandbox-reader")
        loop = asyncio.get_running_loop()
        line = await loop.run_in_executor(self._reader, proc.stdout.readline, _MAX_LINE)
        if not line:
            return None
        if not line.endswith(b"\n"):  # over the size limit: the child is misbehaving
            return {"op": "oversized"}
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            return {"op": "garbled", "line": line[:200].decode(errors="replace")}
        return message if isinstance(message, dict) else {"op": "garbled"}

    def _kill(self) -> str:
        """Kill the child if alive; return the tail of its stderr."""
        proc, self._proc = self._proc, None
        stderr_file, self._stderr = self._stderr, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if proc is not None:
            _end(proc)
        if stderr_file is None:
            return ""
        with stderr_file:
            stderr_file.seek(0, os.SEEK_END)
            stderr_file.seek(max(0, stderr_file.tell() - 4000))
            return stderr_file.read().decode(errors="replace")


class _WallClockExpired(Exception):
    pass


def _end(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _reap(proc: subprocess.Popen[bytes], stderr: IO[bytes] | None, scratch: str | None) -> None:
    _end(proc)
    if stderr is not None:
        stderr.close()
    if scratch is not None:
        shutil.rmtree(scratch, ignore_errors=True)


def _result_of(message: dict[str, Any]) -> SandboxResult:
    status: SandboxStatus = "error"
    if message.get("status") == "ok":
        status = "ok"
    elif message.get("status") == "memory_limit":
        status = "memory_limit"
    value = message.get("value")
    return SandboxResult(
        status,
        stdout=str(message.get("stdout", "")),
        value=value if isinstance(value, str) else None,
        error=str(message.get("error", "")),
        exited=bool(message.get("exited", False)),
    )
