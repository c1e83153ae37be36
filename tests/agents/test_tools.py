"""Tools from typed functions: schema, validation fed back, sync off the loop, async
awaited, exceptions and timeouts as results."""

from __future__ import annotations

import asyncio
import threading

import pytest

from onetwo import ot
from onetwo.agents.errors import ToolError
from onetwo.agents.tools import Tool
from onetwo.core.clock import VirtualClock


def lookup(city: str, year: int = 2021) -> str:
    """Population of a city.

    Args:
        city: the city's name.
        year: the census year.
    """
    return f"{city}:{year}"


def test_schema_comes_from_the_signature_and_the_docstring() -> None:
    tool = Tool(lookup)
    assert tool.name == "lookup"
    assert tool.description == "Population of a city."
    params = tool.schema()["parameters"]
    assert params["required"] == ["city"]
    assert params["properties"]["city"]["type"] == "string"
    assert params["properties"]["city"]["description"] == "the city's name."
    assert params["properties"]["year"] == {
        "default": 2021,
        "description": "the census year.",
        "title": "Year",
        "type": "integer",
    }
    assert tool.signature_text() == "lookup(city: str, year: int = 2021) -> str"


async def test_arguments_are_validated_and_coerced_before_the_call() -> None:
    tool = Tool(lookup)
    assert (await tool.invoke(["Bern"], {"year": "1990"})).value == "Bern:1990"
    bad = await tool.invoke([], {"year": "soon"})
    assert bad.status == "invalid_arguments"
    assert "city: Field required" in bad.text
    assert "year: Input should be a valid integer" in bad.text and "'soon'" in bad.text
    extra = await tool.invoke(["Bern"], {"month": 3})
    assert extra.status == "invalid_arguments" and "month" in extra.text
    many = await tool.invoke(["a", 1, 2])
    assert many.status == "invalid_arguments" and "got 3 positional" in many.text


async def test_a_sync_tool_runs_off_the_event_loop() -> None:
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def where() -> int:
        seen.append(threading.get_ident())
        return 1

    assert (await Tool(where).invoke()).ok
    assert seen and seen[0] != loop_thread


async def test_an_async_tool_is_awaited() -> None:
    async def later(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    result = await Tool(later).invoke([21])
    assert (result.status, result.value, result.text) == ("ok", 42, "42")


async def test_an_exception_becomes_the_observation() -> None:
    def broken(x: str) -> str:
        raise KeyError(x)

    result = await Tool(broken).invoke(["k"])
    assert result.status == "error"
    assert result.text == "Error: broken raised KeyError: 'k'"


async def test_a_tool_timeout_on_the_virtual_clock() -> None:
    clock = VirtualClock()

    async def stuck() -> str:
        clock.advance(3.0)  # time passes inside the call, past the 2 s timeout
        await asyncio.Event().wait()
        return "never"

    result = await Tool(stuck, timeout=2.0, clock=clock).invoke()
    assert result.status == "timeout"
    assert "within its 2 s timeout" in result.text


async def test_a_tool_within_its_timeout_answers() -> None:
    clock = VirtualClock()

    async def quick() -> str:
        clock.advance(1.0)
        return "ok"

    assert (await Tool(quick, timeout=2.0, clock=clock).invoke()).value == "ok"


def test_calling_a_tool_gives_an_executable_of_its_value() -> None:
    tool = Tool(lookup)
    assert ot.run(tool("Bern", year=2000)) == "Bern:2000"
    with pytest.raises(ValueError, match="city: Field required"):
        ot.run(tool())


async def test_results_are_plain_data() -> None:
    def pair() -> tuple[int, list[int]]:
        return (1, [2])

    def odd() -> object:
        return object()

    assert (await Tool(pair).invoke()).value == [1, [2]]  # what a replay gives back too
    assert (await Tool(odd).invoke()).value.startswith("<object")  # not JSON: its repr


def test_bad_tool_definitions_are_refused() -> None:
    def star(*args: int) -> int:
        return 0

    with pytest.raises(ToolError, match=r"\*args"):
        Tool(star)
    with pytest.raises(ToolError, match="identifier"):
        Tool(lookup, name="my tool")
    with pytest.raises(ValueError, match="timeout"):
        Tool(lookup, timeout=0)
