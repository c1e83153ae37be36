"""ReActAgent with native function calling: the same agent code, tools as declarations.

On FakeBackend with a scripted ``llm.chat_with_tools``; on OpenAIAPI against a loopback
chat server (``tests/rig/scripted_chat.py``) and on GoogleGenAIAPI through the Gemini
shim in front of it (the tiny local model does not call tools): what goes on the wire.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import Any

import pytest

from onetwo import ot
from onetwo.agents import ReActAgent, Tool
from onetwo.agents.react import ReActState, ReActStep
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core.content import Message, PredefinedRole
from tests.rig.scripted_chat import ScriptedChatServer

POPULATION = {"Bern": 134_000}


def population(city: str) -> int:
    """Population of a city.

    Args:
        city: the city's name.
    """
    return POPULATION[city]


def _script(messages: list[Any], tools: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    """Call population('Bern') first (with a wrong argument name once), then answer."""
    results = [m for m in messages if isinstance(m, Message) and m.role == PredefinedRole.TOOL]
    if kw.get("tool_choice") == "none":
        return {"text": "forced", "tool_calls": []}
    if not results:
        return {
            "text": "",
            "tool_calls": [{"id": "a", "name": "population", "arguments": {"town": "Bern"}}],
        }
    if "Error" in str(results[-1].content):
        return {
            "text": "fix",
            "tool_calls": [{"id": "b", "name": "population", "arguments": {"city": "Bern"}}],
        }
    answer = str(results[-1].content)
    return {"text": f"About {answer} people.", "tool_calls": []}


def test_react_calls_tools_natively_when_the_backend_can() -> None:
    FakeBackend(default_reply="[Finish]: text protocol").register()
    seen: list[dict[str, Any]] = []

    def chat_with_tools(messages: list[Any], tools: list[dict[str, Any]], **kw: Any) -> Any:
        seen.append({"messages": list(messages), "tools": tools, **kw})
        return _script(messages, tools, **kw)

    llm.chat_with_tools.configure(chat_with_tools)
    agent = ReActAgent(tools=[Tool(population)])
    answer, state = ot.run(agent("How many live in Bern?", return_final_state=True))
    assert answer == "About 134000 people."
    assert [s.status for s in state.updates] == ["invalid_arguments", "ok", None]
    [declaration] = seen[0]["tools"]
    assert declaration["name"] == "population"
    assert declaration["parameters"]["properties"]["city"]["type"] == "string"
    # The second turn sees the first call and its validation error, paired by id.
    reply, result = seen[1]["messages"][-2:]
    assert reply["tool_calls"][0]["name"] == "population"
    assert (
        result.role == PredefinedRole.TOOL and result.tool_call_id == reply["tool_calls"][0]["id"]
    )
    assert "city" in result.content  # the error names the missing argument
    # The same agent on the text protocol, when told to (or when chat_with_tools is absent).
    assert ot.run(ReActAgent(tools=[Tool(population)], native_tools=False)("Q")) == "text protocol"


def test_exemplars_keep_the_text_protocol_they_are_written_in() -> None:
    # The reference tutorial's agent: worked examples in the prompt, which a natively
    # calling run could not show. Given exemplars, the agent prompts as OneTwo's does.
    backend = FakeBackend(default_reply="[Finish]: text protocol")
    backend.register()
    native: list[Any] = []

    def chat_with_tools(messages: list[Any], tools: list[dict[str, Any]], **kw: Any) -> Any:
        native.append(messages)
        return _script(messages, tools, **kw)

    llm.chat_with_tools.configure(chat_with_tools)
    exemplar = ReActState(
        inputs="How many live in Zug?",
        updates=[ReActStep(is_finished=True, thought="I know it.", observation="About 30000.")],
    )
    agent = ReActAgent(tools=[Tool(population)], exemplars=[exemplar])
    assert ot.run(agent("How many live in Bern?")) == "text protocol"
    assert native == [] and "How many live in Zug?" in backend.prompts[-1]
    forced = ReActAgent(tools=[Tool(population)], exemplars=[exemplar], native_tools=True)
    assert ot.run(forced("How many live in Bern?")) == "About 134000 people." and native


def test_at_max_steps_native_react_asks_for_an_answer_without_tools() -> None:
    FakeBackend(default_reply="unused").register()
    calls: list[Any] = []

    def chat_with_tools(messages: list[Any], tools: list[Any], **kw: Any) -> Any:
        calls.append(kw.get("tool_choice"))
        return _script(messages, tools, **kw)

    llm.chat_with_tools.configure(chat_with_tools)
    answer = ot.run(ReActAgent(tools=[Tool(population)], max_steps=1)("How many?"))
    assert answer == "forced" and calls == [None, "none"]


def _server_script(body: dict[str, Any]) -> dict[str, Any]:
    last = body["messages"][-1]
    if last["role"] == "tool":
        return {"content": f"About {last['content']} people."}
    return {"content": "", "tool_calls": [{"name": "population", "arguments": {"city": "Bern"}}]}


@pytest.fixture
def chat_server() -> Iterator[ScriptedChatServer]:
    server = ScriptedChatServer(_server_script).start()
    yield server
    server.stop()


@pytest.mark.skipif(importlib.util.find_spec("openai") is None, reason="needs openai")
def test_react_on_openai_sends_tools_and_answers_each_call_by_id(
    chat_server: ScriptedChatServer,
) -> None:
    from onetwo.backends.openai_api import OpenAIAPI

    OpenAIAPI("m", base_url=chat_server.url + "/v1", use_completions=False).register()
    assert ot.run(ReActAgent(tools=[Tool(population)])("How many live in Bern?")) == (
        "About 134000 people."
    )
    first, second = chat_server.requests
    [tool] = first["tools"]
    assert tool["type"] == "function" and tool["function"]["name"] == "population"
    assert tool["function"]["description"].startswith("Population of a city.")
    assert "tool_choice" not in first  # auto
    system, user, assistant, result = second["messages"]
    assert system["role"] == "system" and user == {
        "role": "user",
        "content": "How many live in Bern?",
    }
    [call] = assistant["tool_calls"]
    assert call["function"] == {"name": "population", "arguments": '{"city": "Bern"}'}
    assert result == {"role": "tool", "content": "134000", "tool_call_id": call["id"]}


@pytest.mark.skipif(importlib.util.find_spec("openai") is None, reason="needs openai")
def test_openai_tool_choice_on_the_wire(chat_server: ScriptedChatServer) -> None:
    from onetwo.backends.openai_api import OpenAIAPI

    OpenAIAPI("m", base_url=chat_server.url + "/v1").register()
    tools = [Tool(population).schema()]
    hi = [Message(PredefinedRole.USER, "Hi")]
    reply = ot.run(llm.chat_with_tools(hi, tools, tool_choice="population", temperature=0.0))
    assert reply == {
        "text": "",
        "tool_calls": [{"id": "call_0", "name": "population", "arguments": {"city": "Bern"}}],
    }
    assert chat_server.requests[-1]["tool_choice"] == {
        "type": "function",
        "function": {"name": "population"},
    }
    ot.run(llm.chat_with_tools(hi, tools, tool_choice="required"))
    assert chat_server.requests[-1]["tool_choice"] == "required"


@pytest.mark.skipif(importlib.util.find_spec("google.genai") is None, reason="needs google-genai")
def test_react_on_gemini_sends_function_declarations_and_responses(
    chat_server: ScriptedChatServer,
) -> None:
    from onetwo.backends.google_genai_api import GoogleGenAIAPI
    from tests.rig.gemini_tools import ToolGeminiShim

    shim = ToolGeminiShim(chat_server.url).start()
    try:
        GoogleGenAIAPI("gemini-x", api_key="k", base_url=shim.url).register()
        agent = ReActAgent(tools=[Tool(population)])
        assert ot.run(agent("How many live in Bern?")) == 'About {"result": "134000"} people.'
        first, second = (r.body for r in shim.requests)
        [declaration] = first["tools"][0]["functionDeclarations"]
        assert declaration["name"] == "population"
        schema = declaration.get("parametersJsonSchema") or declaration["parameters_json_schema"]
        assert schema["required"] == ["city"]
        assert first["toolConfig"]["functionCallingConfig"]["mode"] == "AUTO"
        assert first["systemInstruction"]["parts"][0]["text"].startswith("Answer the user's")
        call, response = second["contents"][-2:]
        assert call["role"] == "model"
        assert call["parts"][-1]["functionCall"]["name"] == "population"
        assert call["parts"][-1]["functionCall"]["args"] == {"city": "Bern"}
        part = response["parts"][0]["functionResponse"]
        assert part["name"] == "population" and part["response"] == {"result": "134000"}
        ot.run(
            llm.chat_with_tools(
                [Message(PredefinedRole.USER, "Hi")], [declaration], tool_choice="population"
            )
        )
        calling = shim.requests[-1].body["toolConfig"]["functionCallingConfig"]
        assert calling == {"mode": "ANY", "allowedFunctionNames": ["population"]}
    finally:
        shim.stop()


@pytest.mark.skipif(importlib.util.find_spec("openai") is None, reason="needs openai")
def test_the_embedded_model_keeps_the_text_protocol() -> None:
    from onetwo.backends.local import local_backend

    local_backend().register()  # starts nothing
    assert llm.chat_with_tools.implementation is None
    assert llm.select.implementation is not None
