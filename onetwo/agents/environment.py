"""The environment an agent acts in: its tools and its sandbox, every call recorded.

A :class:`ToolEnvironment` is what an agent's ``start_environment()`` yields: it runs
tool calls (:meth:`~ToolEnvironment.run_tool`) and code (:meth:`~ToolEnvironment.run_code`)
for one agent run, and owns that run's :class:`~onetwo.agents.sandbox.PythonSandbox`.

**Exact resume.** With ``cache=`` (a ``CallCache`` or a folder, shared with the model
backend or not), each tool call and each code execution goes through the call cache
like a model call, so a run killed at any step and run again replays every finished
call and continues from the first missing one; in ``replay`` mode a finished run
contacts no tool and starts no sandbox. Keys:

* a tool call: the tool's name and ``version``, its arguments, the sampling key, and a
  *site* telling repeated identical calls apart (the agent passes how many identical
  calls came before in the run);
* an execution: the code, a digest of the codes the sandbox ran before it (its
  *sandbox state*), the sandbox's limits and tools, and the sampling key. A missed
  execution first brings the live sandbox to that state, re-running earlier codes
  whose tool calls are then cache hits, so a resumed run's sandbox has the variables
  the killed one had.

Results that depend on something outside those keys (the clock, the network) replay
as recorded: that is the point of exact resume, and the reason to bump a tool's
``version`` when its behaviour changes.

Example:
    >>> config = ToolEnvironmentConfig(tools=[Tool(search)], cache="/tmp/agent-cache")
    >>> async with ToolEnvironment(config) as env:   # doctest: +SKIP
    ...     result = await env.run_tool("search", ["capital of France"])
    ...     out = await env.run_code("x = search('capital of France')\\nx")
    ...     out.sandbox_result.value
    "'Paris'"
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from onetwo.agents.sandbox import PythonSandbox, SandboxLimits, SandboxResult
from onetwo.agents.tools import Tool, ToolResult
from onetwo.core import tracing
from onetwo.core.caching import CallCache, cache_method, open_cache
from onetwo.core.clock import SYSTEM_CLOCK, Clock
from onetwo.core.executing import Executable, make_executable
from onetwo.core.sampling import current_sampling_key
from onetwo.errors import InvalidArgumentError

__all__ = ["RunCodeResult", "ToolEnvironment", "ToolEnvironmentConfig", "sandbox_digest"]


@dataclasses.dataclass
class ToolEnvironmentConfig:
    """What environments of an agent are made of.

    Attributes:
        tools: the tools (``Tool`` objects, or plain functions, wrapped as tools).
        cache: where tool calls and executions are recorded (``None``: not recorded).
        sandbox_limits: the sandbox's resource limits.
        sandbox_factory: makes the sandbox (default: ``PythonSandbox``); receives the
            keyword arguments ``tools``, ``tool_runner``, ``limits``, ``seed``, ``clock``.
        tool_timeout: the timeout of tools that set none (seconds, or ``None``).
        clock: the clock of tool timeouts and sandbox wall-clock limits.
    """

    tools: Sequence[Tool | Callable[..., Any]] = ()
    cache: CallCache | str | os.PathLike[str] | None = None
    sandbox_limits: SandboxLimits = dataclasses.field(default_factory=SandboxLimits)
    sandbox_factory: Callable[..., PythonSandbox] | None = None
    tool_timeout: float | None = None
    clock: Clock = SYSTEM_CLOCK

    def __post_init__(self) -> None:
        tools = [t if isinstance(t, Tool) else Tool(t) for t in self.tools]
        names = [t.name for t in tools]
        if len(set(names)) != len(names):
            raise ValueError(f"two tools have the same name: {names}. Give them distinct names.")
        self.tools = tools
        if isinstance(self.cache, str | os.PathLike):
            self.cache = open_cache(self.cache)

    @property
    def tool_list(self) -> list[Tool]:
        return [t for t in self.tools if isinstance(t, Tool)]


def sandbox_digest(codes: Sequence[str]) -> str:
    """A short, stable name of a sandbox state (the codes it ran, in order)."""
    return hashlib.sha256(json.dumps(list(codes)).encode()).hexdigest()[:24]


class _ToolRecorder:
    """A tool as the call cache sees it: one cached method, the tool as identity."""

    def __init__(self, tool: Tool, cache: CallCache | None, timeout: float | None) -> None:
        self.tool = tool
        self.cache = cache
        self.timeout = timeout

    def identity(self) -> dict[str, Any]:
        return {"provider": "tool", "model": self.tool.name, "version": self.tool.version}

    @cache_method(name="agents.tool", is_sampled=True)
    async def call(self, args: list[Any], kwargs: dict[str, Any], site: str) -> dict[str, Any]:
        tool = self.tool
        if tool.timeout is None and self.timeout is not None:
            tool = _with_timeout(tool, self.timeout)
        return (await tool.invoke(args, kwargs)).to_json()


class _SandboxRecorder:
    """Code executions as the call cache sees them (see the module docstring)."""

    def __init__(self, env: ToolEnvironment, cache: CallCache | None) -> None:
        self.env = env
        self.cache = cache

    def identity(self) -> dict[str, Any]:
        config = self.env.config
        return {
            "provider": "sandbox",
            "model": "python",
            "tools": sorted(t.name for t in config.tool_list),
            "limits": dataclasses.asdict(config.sandbox_limits),
        }

    @cache_method(name="agents.sandbox.run", is_sampled=True, ignore_args=["state"])
    async def run(self, code: str, history: str, state: tuple[str, ...]) -> dict[str, Any]:
        return (await self.env._execute(code, state)).to_json()


@dataclasses.dataclass(frozen=True)
class RunCodeResult:
    """What :meth:`ToolEnvironment.run_code` returns (the reference's shape).

    Attributes:
        code: the code that ran.
        sandbox_result: what the sandbox did (``.value``, ``.stdout``, ``.status``...).
        exit_hook_called: whether the code called ``exit()`` (an agent's "I am done").
    """

    code: str
    sandbox_result: SandboxResult
    exit_hook_called: bool = False


class ToolEnvironment:
    """Tools and a sandbox for one agent run; see the module docstring.

    Use it as a context manager (``with`` or ``async with``), or ``start_unsafe()`` and
    ``stop()`` by hand. :meth:`run_tool` and :meth:`run_code` return executables
    (``ot.run(env.run_code(...))`` or ``await``). The sandbox process starts on the first
    execution that is not replayed from the cache; a sandbox left by a finished event
    loop is replaced, and brought back to the requested state by re-running its codes.
    """

    def __init__(self, config: ToolEnvironmentConfig | None = None) -> None:
        self.config = config or ToolEnvironmentConfig()
        cache = self.config.cache
        self.cache: CallCache | None = cache if isinstance(cache, CallCache) else None
        self.tools = {t.name: t for t in self.config.tool_list}
        self._recorders = {
            name: _ToolRecorder(t, self.cache, self.config.tool_timeout)
            for name, t in self.tools.items()
        }
        self._traced = {name: _traced_call(name) for name in self.tools}
        self._code = _SandboxRecorder(self, self.cache)
        self._sandbox: PythonSandbox | None = None
        self._executed: tuple[str, ...] = ()
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._site = ""
        self.executions = 0  # executions that really ran (not replayed)

    def __repr__(self) -> str:
        return f"ToolEnvironment(tools={list(self.tools)}, sandbox={self._sandbox!r})"

    # --- life cycle -----------------------------------------------------------------------

    def __enter__(self) -> ToolEnvironment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def __aenter__(self) -> ToolEnvironment:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.astop()

    def start_unsafe(self) -> Executable[ToolEnvironment]:
        """An executable returning the environment, started (pair it with ``stop()``)."""
        return _identity(self)

    def stop(self) -> None:
        """Stop the sandbox (if any) from synchronous code."""
        sandbox, self._sandbox = self._sandbox, None
        self._executed = ()
        if sandbox is not None:
            sandbox.close()

    async def astop(self) -> None:
        """Stop the sandbox (if any)."""
        sandbox, self._sandbox = self._sandbox, None
        self._executed = ()
        if sandbox is not None:
            await sandbox.stop()

    # --- tools ----------------------------------------------------------------------------

    @make_executable
    async def run_tool(
        self,
        tool_name: str,
        tool_args: Sequence[Any] = (),
        tool_kwargs: dict[str, Any] | None = None,
        *,
        site: str = "",
    ) -> ToolResult:
        """Call a tool (validated, timed, recorded); failures come back as results."""
        recorder = self._recorders.get(tool_name)
        if recorder is None:
            known = ", ".join(self.tools) or "none"
            return ToolResult(
                "unknown_tool",
                None,
                f"Error: there is no tool named {tool_name!r}; tools: {known}.",
            )
        args, kwargs = list(tool_args), dict(tool_kwargs or {})
        return ToolResult.from_json(await self._traced[tool_name](recorder, args, kwargs, site))

    # --- code -----------------------------------------------------------------------------

    @make_executable
    async def run_code(self, code: str, sandbox_state: Sequence[str] = ()) -> RunCodeResult:
        """Run ``code`` in a sandbox that has run the codes of ``sandbox_state``, in order.

        Recorded in the cache; on a miss, the live sandbox is first brought to
        ``sandbox_state`` (restarted and replayed if it holds something else).

        Raises:
            InvalidArgumentError: ``code`` is not a str or ``sandbox_state`` not a sequence
                of str (e.g. OneTwo's positional order, ``run_code(state, code)``).
        """
        if (
            not isinstance(code, str)
            or isinstance(sandbox_state, str)
            or not all(isinstance(c, str) for c in sandbox_state)
        ):
            raise InvalidArgumentError(
                f"run_code(code, sandbox_state): code must be a str and sandbox_state a "
                f"sequence of str (the codes run before), got code={code!r:.80} and "
                f"sandbox_state={sandbox_state!r:.80}. OneTwo's order is (sandbox_state, "
                "code): pass them by name, run_code(sandbox_state=..., code=...)."
            )
        state = tuple(sandbox_state)
        result = SandboxResult.from_json(
            await _traced_code(self._code, code, sandbox_digest(state), state)
        )
        return RunCodeResult(code, result, exit_hook_called=result.exited)

    async def _execute(self, code: str, state: tuple[str, ...]) -> SandboxResult:
        # One execution at a time (e.g. candidates sampled from one state): each finds the
        # sandbox in the state it asks for, rebuilt if a sibling moved it on.
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        async with lock:
            sandbox = await self._sandbox_at(state)
            result = await self._run_in(sandbox, code, state)
            self._executed = () if result.restarted else (*state, code)
            return result

    async def _sandbox_at(self, state: tuple[str, ...]) -> PythonSandbox:
        sandbox = self._sandbox
        if sandbox is None:
            sandbox = self._sandbox = self._make_sandbox()
        done = self._executed
        if not sandbox.running or state[: len(done)] != done:
            await sandbox.stop()
            done = ()
        for i in range(len(done), len(state)):  # rebuild: earlier codes, tool calls replayed
            result = await self._run_in(sandbox, state[i], state[:i])
            done = () if result.restarted else state[: i + 1]
        self._executed = done
        return sandbox

    async def _run_in(
        self, sandbox: PythonSandbox, code: str, state: tuple[str, ...]
    ) -> SandboxResult:
        self._site = sandbox_digest((*state, code))
        self.executions += 1
        return await sandbox.run(code)

    def _make_sandbox(self) -> PythonSandbox:
        factory = self.config.sandbox_factory or PythonSandbox
        seed = int(hashlib.sha256(current_sampling_key().encode()).hexdigest()[:8], 16)
        return factory(
            tools=list(self.tools),
            tool_runner=self._tool_for_sandbox,
            limits=self.config.sandbox_limits,
            seed=seed,
            clock=self.config.clock,
        )

    async def _tool_for_sandbox(
        self, name: str, args: list[Any], kwargs: dict[str, Any], index: int
    ) -> ToolResult:
        return await self.run_tool(name, args, kwargs, site=f"{self._site}#{index}")


def _with_timeout(tool: Tool, timeout: float) -> Tool:
    copy = Tool.__new__(Tool)
    copy.__dict__.update(tool.__dict__)
    copy.timeout = timeout
    return copy


def _traced_call(name: str) -> Callable[..., Any]:
    async def call(
        recorder: _ToolRecorder, args: list[Any], kwargs: dict[str, Any], site: str
    ) -> dict[str, Any]:
        return await recorder.call(args, kwargs, site)

    return tracing.trace(call, name=f"tool:{name}", skip=["recorder", "site"])


@tracing.trace(name="sandbox.run", skip=["recorder", "history", "state"])
async def _traced_code(
    recorder: _SandboxRecorder, code: str, history: str, state: tuple[str, ...]
) -> dict[str, Any]:
    return await recorder.run(code, history, state=state)


@make_executable
async def _identity(env: ToolEnvironment) -> ToolEnvironment:
    return env
