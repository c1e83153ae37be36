"""ReAct: think, call one tool, read its result; repeat until the final answer.

Each step prompts the model with the tools, the exemplars, the question and the steps so
far, in a text protocol any completion model can follow::

    [Question]: What is 2 + 40?
    [Thought]: I should add them.
    [Act]: calculator("2 + 40")
    [Observe]: 42
    [Finish]: 42

The model writes ``[Thought]``/``[Act]`` (a Python-style call with literal arguments,
or a JSON object ``{"name": ..., "arguments": {...}}``) or ``[Finish]``; the agent runs
the tool through its :class:`~onetwo.agents.environment.ToolEnvironment` (validated,
timed, recorded) and adds the ``[Observe]`` line. A reply it cannot parse, an unknown
tool, invalid arguments, a tool that raises or times out: each becomes the observation
the model reads next. Calling a tool named ``finish`` (any case) also finishes.

At ``max_steps`` steps (the field, or ``max_steps=`` of the call, whichever is smaller),
the agent prompts for ``[Finish]:`` and returns that text: a run always ends with an
answer, never ``None``.

Where the backend calls tools natively (``llm.chat_with_tools`` is configured: OpenAI,
Gemini), the same agent uses that instead of the text protocol: the tools go as function
declarations, each step is a chat turn whose tool call the agent runs and answers with a
TOOL message, and a turn without a tool call is the final answer (at ``max_steps``, a
turn with ``tool_choice="none"``). ``native_tools=False`` keeps the text protocol, and
so do ``exemplars``: worked examples are text-protocol turns, which a natively calling
run could not show (as in the reference OneTwo, whose ReAct is text only).

Example:
    >>> agent = ReActAgent(tools=[Tool(search)], max_steps=5)   # doctest: +SKIP
    >>> ot.run(agent("What is the capital of France?"))          # doctest: +SKIP
    'Paris'
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import json
import re
from collections.abc import Sequence
from typing import Any

from onetwo.agents.agents_base import UpdateListState
from onetwo.agents.environment import ToolEnvironment
from onetwo.agents.tool_agent import ToolUsingAgent, describe_tools
from onetwo.agents.tools import Tool
from onetwo.builtins import llm
from onetwo.core.content import Message, PredefinedRole
from onetwo.core.executing import make_executable
from onetwo.errors import InvalidArgumentError

__all__ = [
    "DEFAULT_REACT_INSTRUCTION",
    "NATIVE_TOOLS_INSTRUCTION",
    "ArgumentFormat",
    "FunctionCall",
    "ReActAgent",
    "ReActPrompt",
    "ReActPromptComposable",
    "ReActPromptJ2",
    "ReActState",
    "ReActStep",
    "default_react_exemplars",
    "react_parse",
]


@enum.unique
class ArgumentFormat(enum.Enum):
    """How a step's action is written in a prompt (OneTwo's names and values).

    The text protocol here writes and reads ``PYTHON``: ``search('lion diet')``. The other
    formats are OneTwo's, named so that its exemplars construct; a step in one of them is
    refused, since the prompt would then show the model a syntax the agent cannot read.
    """

    PYTHON = "python_args_syntax"
    YAML = "yaml_args_syntax"
    YAML_CODE = "yaml_code_args_syntax"
    JSON = "json_args_syntax"
    JSON_SINGLE = "json_single_args_syntax"
    MARKDOWN = "markdown_args_syntax"


@dataclasses.dataclass
class FunctionCall:
    """A tool call the model wrote: the tool's name and its arguments."""

    function_name: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)

    def render(self) -> str:
        """The call as the model writes it: ``name('a', k=1)``."""
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"{self.function_name}({', '.join(parts)})"


@dataclasses.dataclass
class ReActStep:
    """One step: a thought, an action and its observation, or the final answer.

    Attributes:
        is_finished: whether this is the last step; then ``observation`` is the answer.
        thought: the model's reasoning, if it wrote any.
        action: the tool call, if any.
        observation: what the tool returned (or the error the model is shown), or the
            final answer.
        fmt: how the action is written in the prompt: ``ArgumentFormat.PYTHON`` or
            ``None`` (the same).
        status: the tool result's status (``"ok"``, ``"invalid_arguments"``...), or
            ``"parse_error"`` when the reply could not be read, ``None`` otherwise.
    """

    is_finished: bool = False
    thought: str = ""
    action: FunctionCall | None = None
    observation: Any = None
    fmt: ArgumentFormat | None = None
    status: str | None = None

    def __post_init__(self) -> None:
        if self.fmt not in (None, ArgumentFormat.PYTHON):
            raise InvalidArgumentError(
                f"ReActStep(fmt={self.fmt}): the ReAct text protocol writes and reads actions "
                "as Python calls; pass fmt=ArgumentFormat.PYTHON (or leave it out)."
            )

    def render_action(self) -> str:
        return self.action.render() if self.action is not None else ""

    def render_observation(self) -> str:
        return "" if self.observation is None else str(self.observation)


ReActState = UpdateListState[Any, ReActStep]

DEFAULT_REACT_INSTRUCTION = """\
Answer the question step by step, using the tools below. In each step write one line \
"[Thought]: ..." with your reasoning, then either one line "[Act]: tool_name(arguments)" \
to call a tool (arguments as Python literals), after which you will see "[Observe]: ..." \
with its result, or, once you know the answer, one line "[Finish]: the answer"."""


NATIVE_TOOLS_INSTRUCTION = """\
Answer the user's question. Call the tools when they help, one at a time. Once you know \
the answer, reply with the answer alone, without calling a tool."""
_FINISH_NOW = "Do not call any more tools: give your final answer now."


def _native_messages(state: ReActState, instruction: str, force_finish: bool) -> list[Any]:
    """The conversation of a natively calling run: each step's tool call (an earlier
    reply of ``llm.chat_with_tools``) and its result (a TOOL message)."""
    messages: list[Any] = [
        Message(PredefinedRole.SYSTEM, instruction),
        Message(PredefinedRole.USER, str(state.inputs)),
    ]
    for i, step in enumerate(state.updates):
        if step.action is None:
            continue
        call_id = f"call_{i}"
        call = {"id": call_id, "name": step.action.function_name, "arguments": step.action.kwargs}
        messages.append({"text": step.thought, "tool_calls": [call]})
        result = step.render_observation()
        messages.append(Message(PredefinedRole.TOOL, result, tool_call_id=call_id))
    if force_finish:
        messages.append(Message(PredefinedRole.USER, _FINISH_NOW))
    return messages


def _render_steps(state: ReActState) -> str:
    lines = [f"[Question]: {state.inputs}"]
    for step in state.updates:
        if step.thought:
            lines.append(f"[Thought]: {step.thought}")
        if step.action is not None:
            lines.append(f"[Act]: {step.render_action()}")
        if step.is_finished:
            lines.append(f"[Finish]: {step.render_observation()}")
        elif step.observation is not None:
            lines.append(f"[Observe]: {step.render_observation()}")
    return "\n".join(lines)


@dataclasses.dataclass
class ReActPrompt:
    """The ReAct prompt as text, and the model call (``llm.generate_text``) it makes.

    Attributes:
        instruction: what the model is told to do, before the tools.
        max_tokens: the longest reply of one step (``None``: the backend's default).
    """

    instruction: str = DEFAULT_REACT_INSTRUCTION
    max_tokens: int | None = 256

    def render(
        self,
        *,
        force_finish: bool,
        exemplars: Sequence[ReActState],
        state: ReActState,
        tools: Sequence[Tool],
    ) -> str:
        """The prompt of the next step (ending where the model's reply begins)."""
        parts = [self.instruction, "", "Tools:", *describe_tools(tools)]
        if exemplars:
            parts += ["", "Examples:"]
            parts += [_render_steps(e) + "\n" for e in exemplars]
        parts += ["", "Now the real question.", _render_steps(state)]
        text = "\n".join(parts) + "\n"
        return text + "[Finish]:" if force_finish else text

    @make_executable
    async def __call__(
        self,
        *,
        force_finish: bool,
        exemplars: Sequence[ReActState],
        state: ReActState,
        stop_prefix: str = "",
        stop_sequences: Sequence[str],
        tools: Sequence[Tool],
    ) -> str:
        prompt = self.render(
            force_finish=force_finish, exemplars=exemplars, state=state, tools=tools
        )
        stops = ["\n[", "[Question]"] if force_finish else list(stop_sequences)
        reply = await llm.generate_text(prompt, stop=stops, max_tokens=self.max_tokens)
        return str(reply)


# The reference's prompt classes; here one text prompt serves every backend.
ReActPromptComposable = ReActPrompt
ReActPromptJ2 = ReActPrompt

_TAG = re.compile(r"\[(Thought|Act|Finish|Observe|Question)\]\s*:", re.I)


def react_parse(reply_text: str) -> ReActStep:
    """Read one step from the model's reply (without running the action).

    Returns a finished step for ``[Finish]: answer``, a step with ``action`` for
    ``[Act]: call``, and otherwise a step whose observation tells the model what is
    wrong (status ``"parse_error"``).
    """
    tags = list(_TAG.finditer(reply_text))
    sections: dict[str, str] = {}
    if tags and tags[0].start() > 0 and reply_text[: tags[0].start()].strip():
        sections["thought"] = reply_text[: tags[0].start()].strip()
    elif not tags and reply_text.strip():
        sections["thought"] = reply_text.strip()
    for i, m in enumerate(tags):
        name = m.group(1).lower()
        if name in ("observe", "question"):
            break  # the model started writing what is not its part
        end = tags[i + 1].start() if i + 1 < len(tags) else len(reply_text)
        sections.setdefault(name, reply_text[m.end() : end].strip())
        if name in ("act", "finish"):
            break
    thought = sections.get("thought", "")
    if "finish" in sections:
        return ReActStep(is_finished=True, thought=thought, observation=sections["finish"])
    if "act" in sections:
        call = parse_call(sections["act"])
        if isinstance(call, str):
            return ReActStep(thought=thought, observation=f"Error: {call}", status="parse_error")
        return ReActStep(thought=thought, action=call)
    return ReActStep(
        thought=thought,
        observation='Error: write "[Act]: tool_name(arguments)" to use a tool, or '
        '"[Finish]: answer" to answer.',
        status="parse_error",
    )


def parse_call(text: str) -> FunctionCall | str:
    """A ``name(literal, key=literal)`` or ``{"name":..., "arguments":{...}}`` call; else
    the reason it is not one."""
    text = text.strip().strip("`").strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
            name = data.get("name") or data.get("tool")
            arguments = data.get("arguments", data.get("args", {}))
            if isinstance(name, str) and isinstance(arguments, dict):
                return FunctionCall(name, (), arguments)
        except (json.JSONDecodeError, AttributeError):
            pass
        return f"cannot read the JSON call {text!r:.120}."
    lines = text.splitlines()
    for n in range(len(lines), 0, -1):  # the call may be followed by chatter
        try:
            node = ast.parse("\n".join(lines[:n]).strip(), mode="eval").body
        except SyntaxError:
            continue
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            break
        try:
            args = tuple(ast.literal_eval(a) for a in node.args)
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}
        except ValueError:
            return f"the arguments of {node.func.id} must be literals (strings, numbers, lists)."
        return FunctionCall(node.func.id, args, kwargs)
    return f"cannot read {text!r:.120} as a tool call; write tool_name(arguments)."


def default_react_exemplars(
    python_tool_name: str = "python", search_tool_name: str = "search", finish_tool_name: str = ""
) -> list[ReActState]:
    """Two worked examples with a search tool and a Python tool, named as given."""
    finish = FunctionCall(finish_tool_name, ("238 m",)) if finish_tool_name else None
    return [
        ReActState(
            inputs="How much taller is Everest than K2?",
            updates=[
                ReActStep(
                    thought="I need both heights; I will search for them.",
                    action=FunctionCall(search_tool_name, ("height of Everest",)),
                    observation="8,849 m",
                ),
                ReActStep(
                    action=FunctionCall(search_tool_name, ("height of K2",)),
                    observation="8,611 m",
                ),
                ReActStep(
                    thought="Now I subtract.",
                    action=FunctionCall(python_tool_name, ("8849 - 8611",)),
                    observation="238",
                ),
                ReActStep(
                    is_finished=True,
                    thought="Everest is 238 m taller.",
                    action=finish,
                    observation="238 m",
                ),
            ],
        )
    ]


@dataclasses.dataclass(kw_only=True)
class ReActAgent(ToolUsingAgent[Any, str, ReActState, ReActStep]):
    """The ReAct agent; see the module docstring (and ``ToolUsingAgent`` for ``tools``,
    ``environment_config`` and ``max_steps``).

    Attributes:
        prompt: builds the prompt and calls the model (``ReActPrompt``).
        exemplars: worked examples shown in the prompt (e.g. states of earlier runs).
        stop_prefix: kept for compatibility with the reference; unused.
        native_tools: call tools natively when the backend can (``None``, the default:
            when ``llm.chat_with_tools`` is configured and there are no ``exemplars``),
            always (``True``: the exemplars are not shown) or never.
        native_instruction: the system message of a natively calling run.
    """

    prompt: ReActPrompt = dataclasses.field(default_factory=ReActPrompt)
    exemplars: list[ReActState] = dataclasses.field(default_factory=list)
    stop_prefix: str = ""
    native_tools: bool | None = None
    native_instruction: str = NATIVE_TOOLS_INSTRUCTION

    def _calls_natively(self) -> bool:
        if self.native_tools is not None:
            return self.native_tools
        return not self.exemplars and llm.chat_with_tools.implementation is not None

    def _get_stop_sequences(self) -> list[str]:
        return ["[Observe]", "[Question]"]

    def extract_output(self, state: ReActState) -> str:
        """The final answer; for an unfinished state, the last observation (or "")."""
        for step in reversed(state.updates):
            if step.observation is not None:
                return str(step.observation)
        return ""

    async def finish(
        self, state: ReActState, environment: ToolEnvironment | None = None
    ) -> ReActStep | None:
        return await self._ask_final_answer(state)

    async def _ask_final_answer(self, state: ReActState) -> ReActStep:
        if self._calls_natively():
            turn = await self._native_reply(state, force_finish=True)
            return ReActStep(is_finished=True, observation=str(turn["text"]).strip())
        reply = await self._reply(state, force_finish=True)
        # A model that ignores the prompt may write another tag first: keep its text only.
        return ReActStep(is_finished=True, observation=_TAG.sub("", reply).strip())

    async def _reply(self, state: ReActState, *, force_finish: bool) -> str:
        """The model's reply to the prompt for ``state`` (for the final answer if asked)."""
        return await self.prompt(
            force_finish=force_finish,
            exemplars=self.exemplars,
            state=state,
            stop_prefix=self.stop_prefix,
            stop_sequences=self._get_stop_sequences(),
            tools=self.tool_list,
        )

    async def _native_reply(self, state: ReActState, *, force_finish: bool) -> dict[str, Any]:
        """The model's turn through ``llm.chat_with_tools`` (native function calling)."""
        messages = _native_messages(state, self.native_instruction, force_finish)
        tools = [t.schema() for t in self.tool_list]
        choice = "none" if force_finish else None
        return await llm.chat_with_tools(
            messages, tools, tool_choice=choice, max_tokens=self.prompt.max_tokens
        )

    async def _native_step(self, state: ReActState) -> ReActStep:
        reply = await self._native_reply(state, force_finish=False)
        text = str(reply["text"]).strip()
        if not reply["tool_calls"]:
            return ReActStep(is_finished=True, observation=text)
        call = reply["tool_calls"][0]  # one call per step; the model sees its result next
        return ReActStep(thought=text, action=FunctionCall(call["name"], (), call["arguments"]))

    async def _sample_single_next_step(
        self, *, state: ReActState, environment: ToolEnvironment | None = None
    ) -> ReActStep:
        if len(state.updates) >= self.max_steps:
            return await self._ask_final_answer(state)
        if self._calls_natively():
            step = await self._native_step(state)
        else:
            step = react_parse(await self._reply(state, force_finish=False))
        if step.action is None:
            return step
        return await self._in_environment(environment, lambda env: self._act(state, step, env))

    async def _act(self, state: ReActState, step: ReActStep, env: ToolEnvironment) -> ReActStep:
        assert step.action is not None
        call = step.action
        if call.function_name.lower() == "finish" and call.function_name not in env.tools:
            answer = call.args[0] if call.args else next(iter(call.kwargs.values()), "")
            return dataclasses.replace(step, is_finished=True, observation=str(answer))
        # Identical calls earlier in the run are told apart in the cache by their count.
        site = str(sum(1 for s in state.updates if s.action == call and s.status != "parse_error"))
        result = await env.run_tool(call.function_name, call.args, call.kwargs, site=site)
        finished = call.function_name.lower() == "finish" and result.ok
        return dataclasses.replace(
            step, observation=result.text, status=result.status, is_finished=finished
        )
