"""ReActAgent on scripted FakeBackend transcripts."""

from __future__ import annotations

import asyncio

import pytest

from onetwo import ot
from onetwo.agents import AgentTimeout, ReActAgent, Tool, ToolEnvironmentConfig
from onetwo.agents.react import FunctionCall, ReActState, ReActStep, parse_call, react_parse
from onetwo.backends.fake import FakeBackend
from onetwo.core.clock import VirtualClock
from tests.agents.script import react_script

POPULATION = {"Bern": 134_000, "Zurich": 402_000}


def population(city: str) -> int:
    """Population of a city."""
    return POPULATION[city]


def capital(country: str) -> str:
    """Capital of a country."""
    return {"Switzerland": "Bern"}[country]


def _fake(*replies: str, final: str = "forced answer") -> FakeBackend:
    backend = FakeBackend(default_reply=react_script(replies, final))
    backend.register()
    return backend


def test_the_model_picks_the_tool_and_its_result_is_the_next_observation() -> None:
    backend = _fake(
        '[Thought]: capital first\n[Act]: capital("Switzerland")\n[Observe]: made up',
        "[Act]: population(city='Bern')",
        "[Thought]: done\n[Finish]: 134000",
    )
    agent = ReActAgent(tools=[Tool(population), Tool(capital)])
    answer, state = ot.run(agent("How many live in the Swiss capital?", return_final_state=True))
    assert answer == "134000"
    assert [s.action.function_name if s.action else None for s in state.updates] == [
        "capital",
        "population",
        None,
    ]
    assert [s.observation for s in state.updates] == ["Bern", "134000", "134000"]
    # The model's invented observation was cut by the stop sequence; the real one is shown.
    assert "[Observe]: Bern\n" in backend.prompts[1]
    assert "made up" not in backend.prompts[1]
    assert "- population(city: str) -> int: Population of a city." in backend.prompts[0]


def test_invalid_arguments_are_fed_back_and_the_model_corrects_itself() -> None:
    backend = _fake(
        "[Act]: population(town='Bern')",
        "[Act]: population('Bern')",
        "[Finish]: 134000",
    )
    agent = ReActAgent(tools=[Tool(population)])
    answer, state = ot.run(agent("q", return_final_state=True))
    assert answer == "134000"
    assert state.updates[0].status == "invalid_arguments"
    assert "city: Field required" in state.updates[0].observation
    assert "town: Extra inputs are not permitted" in backend.prompts[1]


def test_a_tool_that_raises_is_an_observation_not_a_crash() -> None:
    _fake("[Act]: population('Atlantis')", "[Finish]: unknown")
    answer, state = ot.run(ReActAgent(tools=[Tool(population)])("q", return_final_state=True))
    assert answer == "unknown"
    assert state.updates[0].status == "error"
    assert state.updates[0].observation == "Error: population raised KeyError: 'Atlantis'"


def test_unknown_tools_and_unreadable_replies_are_fed_back() -> None:
    backend = _fake("[Act]: weather('Bern')", "I am not sure.", "[Act]: capital(", "[Finish]: x")
    _, state = ot.run(ReActAgent(tools=[Tool(capital)])("q", return_final_state=True))
    assert state.updates[0].status == "unknown_tool"
    assert "no tool named 'weather'; tools: capital" in state.updates[0].observation
    assert state.updates[1].status == "parse_error"
    assert state.updates[1].thought == "I am not sure."
    assert state.updates[2].status == "parse_error"
    assert '[Observe]: Error: write "[Act]:' in backend.prompts[2]


def test_max_steps_ends_with_a_final_answer_step() -> None:
    backend = _fake("[Act]: capital('Switzerland')", final="Bern, I think")
    agent = ReActAgent(tools=[Tool(capital)], max_steps=3)
    answer, state = ot.run(agent("q", return_final_state=True))
    assert answer == "Bern, I think"
    assert len(state.updates) == 4 and state.updates[-1].is_finished
    assert backend.prompts[-1].endswith("[Finish]:")
    # max_steps of the call, smaller than the field's, also ends with an answer.
    answer = ot.run(agent("q", max_steps=1))
    assert answer == "Bern, I think"
    assert ot.run(ReActAgent(tools=[Tool(capital)], max_steps=0)("q")) == "Bern, I think"


def test_the_answer_is_never_none() -> None:
    _fake("[Act]: capital('Switzerland')", final="")
    answer = ot.run(ReActAgent(tools=[Tool(capital)], max_steps=1)("q"))
    assert answer == "" and answer is not None


async def test_an_async_tool_is_awaited_inside_a_step() -> None:
    order: list[str] = []

    async def slow_capital(country: str) -> str:
        order.append("start")
        await asyncio.sleep(0)
        order.append("end")
        return "Bern"

    _fake("[Act]: slow_capital('CH')", "[Finish]: Bern")
    assert await ReActAgent(tools=[Tool(slow_capital)])("q") == "Bern"
    assert order == ["start", "end"]


async def test_a_tool_timeout_is_an_observation() -> None:
    clock = VirtualClock()

    async def hang(x: str) -> str:
        clock.advance(10)
        await asyncio.Event().wait()
        return x

    _fake("[Act]: hang('a')", "[Finish]: gave up")
    config = ToolEnvironmentConfig(tools=[Tool(hang, timeout=5, clock=clock)])
    answer, state = await ReActAgent(environment_config=config)("q", return_final_state=True)
    assert answer == "gave up"
    assert state.updates[0].status == "timeout"
    assert "within its 5 s timeout" in state.updates[0].observation


async def test_the_step_timeout_cancels_the_run_and_names_the_step() -> None:
    clock = VirtualClock()

    async def tick(x: str) -> str:
        clock.advance(float(x))
        await asyncio.sleep(0)
        return "ok"

    _fake("[Act]: tick('1')", "[Act]: tick('3')", "[Finish]: done")
    agent = ReActAgent(tools=[Tool(tick)], step_timeout=2.0, clock=clock)
    with pytest.raises(AgentTimeout) as caught:
        await agent("q")
    assert (caught.value.limit, caught.value.step, caught.value.seconds) == ("step_timeout", 2, 2.0)
    assert "step 2 took longer than its step_timeout of 2 s" in str(caught.value)


async def test_the_run_timeout_cancels_the_run_and_names_the_step() -> None:
    clock = VirtualClock()

    async def tick(x: str) -> str:
        clock.advance(4)
        await asyncio.sleep(0)
        return "ok"

    _fake("[Act]: tick('a')", "[Act]: tick('b')", "[Act]: tick('c')", "[Finish]: done")
    agent = ReActAgent(tools=[Tool(tick)], run_timeout=10.0, step_timeout=5.0, clock=clock)
    with pytest.raises(AgentTimeout) as caught:
        await agent("q")
    assert (caught.value.limit, caught.value.step) == ("run_timeout", 3)
    assert "cancelled during step 3" in str(caught.value)


async def test_limits_that_are_not_reached_change_nothing() -> None:
    clock = VirtualClock()
    _fake("[Act]: capital('Switzerland')", "[Finish]: Bern")
    agent = ReActAgent(tools=[Tool(capital)], step_timeout=1.0, run_timeout=1.0, clock=clock)
    assert await agent("q") == "Bern"
    assert clock.pending_timers == 0  # every deadline was cleared


def test_finish_tool_calls_end_the_run() -> None:
    _fake("[Act]: finish('Bern')")
    assert ot.run(ReActAgent(tools=[Tool(capital)])("q")) == "Bern"
    _fake("[Act]: finish('bern')")
    agent = ReActAgent(tools=[Tool(capital), Tool(lambda x: x.upper(), name="finish")])
    assert ot.run(agent("q")) == "BERN"


async def test_streams_initial_states_and_candidates() -> None:
    _fake("[Act]: capital('Switzerland')", "[Act]: population('Bern')", "[Finish]: 134000")
    agent = ReActAgent(tools=[Tool(population), Tool(capital)])
    state0 = await agent.initialize_state(inputs="q")
    states = [s async for s in agent.start_environment_and_stream_states(initial_state=state0)]
    assert [len(s.updates) for s in states] == [1, 2, 3]
    assert states[-1].updates[-1].observation == "134000"
    stream = agent.start_environment_and_stream_updates(initial_state=state0, max_steps=2)
    assert [u.observation for u in [u async for u in stream]] == ["Bern", "134000"]
    # Awaited whole, a stream gives its last item.
    last = await agent.start_environment_and_stream_states(initial_state=state0)
    assert last == states[-1]
    # Stop, edit, resume: the run continues from the edited state.
    edited = states[0]
    edited.updates[-1].observation = "Zurich"
    _fake("[Act]: population('Zurich')", "[Act]: population('Zurich')", "[Finish]: 402000")
    assert await agent("q", initial_state=edited) == "402000"
    candidates = await agent.sample_next_step(state=state0, num_candidates=3)
    assert len(candidates) == 3 and all(c.action is not None for c in candidates)


def test_states_and_steps_run_from_sync_code() -> None:
    _fake("[Act]: capital('Switzerland')", "[Finish]: Bern")
    agent = ReActAgent(tools=[Tool(capital)])
    state0 = ot.run(agent.initialize_state(inputs="q"))
    assert (
        ot.run(agent.start_environment_and_stream_states(initial_state=state0))
        .updates[-1]
        .observation
        == "Bern"
    )


def test_each_step_is_a_traced_call_with_its_tool_calls() -> None:
    _fake("[Act]: capital('Switzerland')", "[Finish]: Bern")
    answer, trace = ot.run(ReActAgent(tools=[Tool(capital)])("q"), enable_tracing=True)
    assert answer == "Bern"
    assert trace.name == "ReActAgent"
    steps = [c for c in trace.children if c.name == "step"]
    assert len(steps) == 2
    assert [c.name for c in steps[0].children] == ["llm.generate_text", "tool:capital"]
    tool_node = steps[0].children[1]
    assert tool_node.inputs["args"] == ["Switzerland"]
    assert tool_node.outputs["text"] == "Bern"
    assert steps[0].outputs.observation == "Bern"


def test_parse_reads_python_and_json_calls() -> None:
    assert parse_call("search('a', k=2)") == FunctionCall("search", ("a",), {"k": 2})
    assert parse_call('{"name": "search", "arguments": {"q": "a"}}') == FunctionCall(
        "search", (), {"q": "a"}
    )
    assert (
        parse_call("search(x)")
        == "the arguments of search must be literals (strings, numbers, lists)."
    )
    step = react_parse("Let me think.\n[Act]: search('a')\nmore chatter")
    assert step.thought == "Let me think." and step.action == FunctionCall("search", ("a",))
    assert react_parse("[Thought]: ok\n[Finish]: 42").observation == "42"


def test_states_can_be_exemplars() -> None:
    backend = _fake("[Finish]: x")
    exemplar = ReActState(
        inputs="Example question",
        updates=[ReActStep(is_finished=True, thought="easy", observation="yes")],
    )
    ot.run(ReActAgent(exemplars=[exemplar])("q"))
    assert "[Question]: Example question\n[Thought]: easy\n[Finish]: yes" in backend.prompts[0]


def test_the_html_renderer_shows_the_run_as_steps() -> None:
    _fake("[Act]: capital('Switzerland')", "[Finish]: Bern")
    _, trace = ot.run(ReActAgent(tools=[Tool(capital)])("q"), enable_tracing=True)
    steps = [c for c in trace.children if c.name == "step"]
    assert [s.details["step"] for s in steps] == [1, 2]
    html = ot.HTMLRenderer().render(trace)
    assert html.count("step") >= 2 and "tool:capital" in html and "Bern" in html


def test_a_streamed_run_reports_each_step_as_it_finishes() -> None:
    _fake("[Act]: capital('Switzerland')", "[Finish]: Bern")
    with ot.stream_updates(ReActAgent(tools=[Tool(capital)])("q")) as updates:
        seen = [(u.name, u.final) for u in updates]
    assert seen == [
        ("llm.generate_text", False),
        ("tool:capital", False),
        ("step", False),
        ("llm.generate_text", False),
        ("step", False),
        ("ReActAgent", True),
    ]


def test_a_onetwo_exemplar_with_python_format_steps_is_shown_to_the_model() -> None:
    from onetwo.stdlib.tool_use import llm_tool_use, python_tool_use

    backend = _fake("[Act]: capital('Switzerland')", "[Finish]: Bern")
    exemplar = ReActState(
        inputs="What does the lion eat?",
        updates=[
            ReActStep(
                thought="I should look it up.",
                action=llm_tool_use.FunctionCall(
                    function_name="zoo", args=("lion diet",), kwargs={}
                ),
                observation="Lions eat meat.",
                fmt=llm_tool_use.ArgumentFormat.PYTHON,
            ),
            ReActStep(is_finished=True, thought="Meat.", observation="Meat", fmt=None),
        ],
    )
    config = python_tool_use.PythonToolUseEnvironmentConfig(tools=[Tool(capital)])
    agent = ReActAgent(environment_config=config, max_steps=5, exemplars=[exemplar])
    output, state = ot.run(agent(inputs="Capital?", return_final_state=True))
    assert output == "Bern" and state.updates[0].observation == "Bern"
    shown = "[Thought]: I should look it up.\n[Act]: zoo('lion diet')\n[Observe]: Lions eat meat."
    assert shown in backend.prompts[0]


def test_a_step_in_a_format_the_agent_cannot_read_is_refused() -> None:
    from onetwo.errors import InvalidArgumentError
    from onetwo.stdlib.tool_use.llm_tool_use import ArgumentFormat

    with pytest.raises(InvalidArgumentError, match=r"fmt=ArgumentFormat.YAML.*Python calls"):
        ReActStep(action=FunctionCall("zoo", ("lion",)), fmt=ArgumentFormat.YAML)


def test_a_sync_tool_may_run_a_strategy_of_its_own_with_ot_run() -> None:
    # The reference's RAG notebook: a tool that calls ot.run(index.retrieve(...)) itself.
    @ot.make_executable
    async def lookup(country: str) -> str:
        return capital(country)

    def capital_tool(country: str) -> str:
        """Capital of a country, looked up by a strategy."""
        return ot.run(lookup(country))

    _fake("[Act]: capital_tool('Switzerland')", "[Finish]: Bern")
    output, state = ot.run(
        ReActAgent(tools=[Tool(capital_tool)])(inputs="q", return_final_state=True)
    )
    assert output == "Bern" and state.updates[0].observation == "Bern"
