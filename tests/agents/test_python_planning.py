"""PythonPlanningAgent on scripted FakeBackend transcripts, with the real sandbox."""

from __future__ import annotations

from pathlib import Path

from onetwo import ot
from onetwo.agents import PythonPlanningAgent, SandboxLimits, Tool, ToolEnvironmentConfig
from onetwo.agents.python_planning import (
    PythonPlanningState,
    PythonPlanningStep,
    extract_code,
    sandbox_state_of,
)
from onetwo.backends.fake import FakeBackend
from tests.agents.script import planning_script

HEIGHTS = {"Everest": "8,849 m", "K2": "8,611 m"}


def search(query: str) -> str:
    """Search engine: a snippet about the query."""
    return HEIGHTS.get(query, "No results.")


def firstnumber(text: str) -> float:
    """The first number in a text."""
    return float(text.split()[0].replace(",", ""))


def _fake(*codes: str, final: str = "forced answer") -> FakeBackend:
    backend = FakeBackend(default_reply=planning_script(codes, final))
    backend.register()
    return backend


def test_code_calls_tools_keeps_variables_and_exits_with_the_answer() -> None:
    backend = _fake(
        "e = firstnumber(search('Everest'))\nk = firstnumber(search('K2'))\nprint(e, k)",
        "print(f'{e - k:.0f} m')\nexit()",
    )
    agent = PythonPlanningAgent(tools=[Tool(search), Tool(firstnumber)])
    answer, state = ot.run(agent("How much taller is Everest than K2?", return_final_state=True))
    assert answer == "238 m"
    assert [s.execution_status for s in state.updates] == ["ok", "ok"]
    assert state.updates[0].result == "8849.0 8611.0"
    assert state.updates[-1].is_finished
    assert "- search(query: str) -> str: Search engine" in backend.prompts[0]
    assert "Output:\n8849.0 8611.0" in backend.prompts[1]


def test_an_error_is_shown_to_the_model_which_fixes_its_code() -> None:
    backend = _fake("x = search('Everest')\nx + 1", "print(x)\nexit()")
    answer, state = ot.run(PythonPlanningAgent(tools=[Tool(search)])("q", return_final_state=True))
    assert answer == "8,849 m"
    assert state.updates[0].execution_status == "error"
    assert 'TypeError: can only concatenate str (not "int") to str' in backend.prompts[1]


def test_a_tool_error_inside_the_code_is_catchable_and_shown() -> None:
    _fake("firstnumber('no digits here')", "exit()")
    _, state = ot.run(PythonPlanningAgent(tools=[Tool(firstnumber)])("q", return_final_state=True))
    assert state.updates[0].execution_status == "error"
    assert "firstnumber raised ValueError" in state.updates[0].result


def test_runaway_code_is_killed_and_the_next_step_starts_afresh() -> None:
    _fake("x = 1", "while True:\n    pass", "print('x' in dir())\nexit()")
    config = ToolEnvironmentConfig(sandbox_limits=SandboxLimits(wall_seconds=0.5))
    answer, state = ot.run(
        PythonPlanningAgent(environment_config=config)("q", return_final_state=True)
    )
    assert state.updates[1].execution_status == "timeout"
    assert "restarted" in state.updates[1].result
    assert answer == "False"  # the fresh sandbox does not have x


def test_max_steps_asks_for_the_final_answer() -> None:
    backend = _fake("print(1)", final="one")
    answer, state = ot.run(PythonPlanningAgent(max_steps=2)("q", return_final_state=True))
    assert answer == "one"
    assert len(state.updates) == 3 and state.updates[-1].code == ""
    assert backend.prompts[-1].endswith("Answer:")


def test_extract_code_and_sandbox_state() -> None:
    assert extract_code("```python\nx = 1\n```\nmore") == "x = 1"
    assert extract_code("python\nx = 2") == "x = 2"
    assert extract_code("x = 3\n```") == "x = 3"
    state = PythonPlanningState(
        inputs="q",
        updates=[
            PythonPlanningStep(code="a = 1", execution_status="ok"),
            PythonPlanningStep(code="loop()", execution_status="timeout"),
            PythonPlanningStep(code="b = 2", execution_status="error"),
        ],
    )
    assert sandbox_state_of(state) == ("b = 2",)


def test_a_cached_run_replays_without_starting_a_sandbox(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    backend = FakeBackend(default_reply=planning_script(["print(2 + 2)\nexit()"]), cache=folder)
    backend.register()
    config = ToolEnvironmentConfig(cache=folder)
    assert ot.run(PythonPlanningAgent(environment_config=config)("q")) == "4"
    assert ot.run(PythonPlanningAgent(environment_config=config)("q")) == "4"
    assert len(backend.prompts) == 1


def test_candidates_sampled_from_one_state_each_see_that_state() -> None:
    _fake("x = x + 1 if 'x' in dir() else 1\nprint(x)")
    agent = PythonPlanningAgent()
    state = PythonPlanningState(
        inputs="q", updates=[PythonPlanningStep(code="x = 10", execution_status="ok")]
    )

    async def sample() -> list[PythonPlanningStep]:
        async with agent.start_environment() as env:
            return await agent.sample_next_step(state=state, num_candidates=3, environment=env)

    candidates = ot.run(ot.make_executable(sample)())
    assert [c.result for c in candidates] == ["11", "11", "11"]
