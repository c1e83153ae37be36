"""ToolEnvironment: tools and code from sync and async code, sandbox states rebuilt on
demand, every call recorded so that replay mode contacts nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from onetwo import ot
from onetwo.agents import Tool, ToolEnvironment, ToolEnvironmentConfig
from onetwo.core.caching import CallCache as Cache
from onetwo.core.clock import VirtualClock
from onetwo.errors import CacheMiss


def _counting_tool(calls: list[str]) -> Tool:
    def shout(text: str) -> str:
        """Upper-cases text."""
        calls.append(text)
        return text.upper()

    return Tool(shout)


def test_tools_and_code_run_from_sync_code_as_in_the_reference() -> None:
    calls: list[str] = []
    config = ToolEnvironmentConfig(tools=[_counting_tool(calls)])
    with ToolEnvironment(config) as env:
        assert ot.run(env.run_tool("shout", ["hi"])).value == "HI"
        first = ot.run(env.run_code("x = shout('a')\nx"))
        # A second ot.run (another event loop, today): the same live sandbox serves it.
        second = ot.run(env.run_code("x + '!'", sandbox_state=["x = shout('a')\nx"]))
    assert first.sandbox_result.value == "'A'" and second.sandbox_result.value == "'A!'"
    assert second.code == "x + '!'" and not second.exit_hook_called
    assert calls == ["hi", "a"]  # nothing was re-run to rebuild the state


async def test_unknown_tools_and_default_timeouts() -> None:
    clock = VirtualClock()

    async def hang() -> str:
        clock.advance(5)
        await asyncio.Event().wait()
        return ""

    config = ToolEnvironmentConfig(tools=[Tool(hang, clock=clock)], tool_timeout=1.0)
    async with ToolEnvironment(config) as env:
        missing = await env.run_tool("nope")
        assert missing.status == "unknown_tool" and "tools: hang" in missing.text
        assert (await env.run_tool("hang")).status == "timeout"


async def test_sandbox_states_are_rebuilt_from_recorded_calls(tmp_path: Path) -> None:
    calls: list[str] = []
    cache = Cache(tmp_path / "cache")
    config = ToolEnvironmentConfig(tools=[_counting_tool(calls)], cache=cache)
    codes = ["a = shout('x')", "b = a + shout('y')", "a + b"]
    async with ToolEnvironment(config) as env:
        results = [await env.run_code(c, codes[:i]) for i, c in enumerate(codes)]
        assert results[-1].sandbox_result.value == "'XXY'"
        assert env.executions == 3
    assert calls == ["x", "y"]
    # A new environment (as in a resumed run) asked for the last step only: the sandbox
    # is rebuilt by running the first two codes, whose tool calls come from the cache.
    async with ToolEnvironment(config) as env:
        assert (await env.run_code("a + b + '!'", codes[:2])).sandbox_result.value == "'XXY!'"
        assert env.executions == 3
    assert calls == ["x", "y"]


async def test_replay_mode_contacts_no_tool_and_starts_no_sandbox(tmp_path: Path) -> None:
    calls: list[str] = []
    folder = tmp_path / "cache"
    config = ToolEnvironmentConfig(tools=[_counting_tool(calls)], cache=folder)
    async with ToolEnvironment(config) as env:
        await env.run_tool("shout", ["a"], site="0")
        await env.run_code("shout('b')")
    replay_cache = Cache(folder, mode="replay")
    replay = ToolEnvironmentConfig(tools=[_counting_tool(calls)], cache=replay_cache)
    async with ToolEnvironment(replay) as env:
        assert (await env.run_tool("shout", ["a"], site="0")).value == "A"
        assert (await env.run_code("shout('b')")).sandbox_result.value == "'B'"
        assert env.executions == 0 and env._sandbox is None
        with pytest.raises(CacheMiss):
            await env.run_tool("shout", ["c"])
    assert calls == ["a", "b"]


async def test_identical_calls_are_told_apart_by_their_site(tmp_path: Path) -> None:
    counter: list[int] = []

    def tick() -> int:
        counter.append(1)
        return len(counter)

    config = ToolEnvironmentConfig(tools=[Tool(tick)], cache=tmp_path / "cache")
    async with ToolEnvironment(config) as env:
        got: list[Any] = [(await env.run_tool("tick", site=str(i))).value for i in range(3)]
        again = (await env.run_tool("tick", site="1")).value
    assert got == [1, 2, 3] and again == 2
