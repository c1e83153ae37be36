"""Python planning: the model writes code that calls the tools; the sandbox runs it.

Each step prompts the model with the tools (as Python signatures), the exemplars, the
question and the steps so far (each a code block and what it printed), and asks for the
next code block. The code runs in the run's :class:`~onetwo.agents.sandbox.PythonSandbox`
(a separate, limited process), where each tool is a plain function calling back to the
host; variables persist from step to step. The code ends the run by calling ``exit()``
after printing the answer. Errors, timeouts and killed runaway code are shown to the
model in the next prompt, so it can fix its code.

At ``max_steps`` steps the agent asks the model for the final answer in words, so a run
always ends with an answer (the output is the last step's printed result).

Example (the model scripted to write one code block; the tool runs on the host):
    >>> from onetwo.backends.fake import FakeBackend
    >>> def height(mountain: str) -> int:
    ...     '''Height in metres.'''
    ...     return {"Everest": 8849, "K2": 8611}[mountain]
    >>> FakeBackend(default_reply='''
    ... print(max(["Everest", "K2"], key=height))
    ... exit()''').register()
    >>> agent = PythonPlanningAgent(tools=[Tool(height)])
    >>> answer, state = ot.run(agent("Which is taller, Everest or K2?", return_final_state=True))
    >>> answer, state.updates[0].execution_status
    ('Everest', 'ok')
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from onetwo.agents.agents_base import UpdateListState
from onetwo.agents.environment import ToolEnvironment
from onetwo.agents.tool_agent import ToolUsingAgent, describe_tools
from onetwo.agents.tools import Tool
from onetwo.builtins import llm
from onetwo.core.executing import make_executable

__all__ = [
    "DEFAULT_PYTHON_PLANNING_EXEMPLARS",
    "DEFAULT_PYTHON_PLANNING_INSTRUCTION",
    "PythonPlanningAgent",
    "PythonPlanningPrompt",
    "PythonPlanningPromptComposable",
    "PythonPlanningPromptJ2",
    "PythonPlanningState",
    "PythonPlanningStep",
    "extract_code",
    "sandbox_state_of",
]

# Statuses after which the sandbox process was restarted (its variables are gone).
_RESTARTING = frozenset({"timeout", "cpu_limit", "memory_limit", "crashed"})


@dataclasses.dataclass
class PythonPlanningStep:
    """One step: the code the model wrote and what running it gave.

    Attributes:
        is_finished: whether the run ends here (the code called ``exit()``, or this is
            the final answer asked for at ``max_steps``).
        code: the code (empty for a final answer given in words).
        result: what the model is shown: printed output, the last value, the error.
        execution_status: the sandbox's status (``"ok"``, ``"error"``, ``"timeout"``...),
            ``None`` when no code ran.
    """

    is_finished: bool = False
    code: str = ""
    result: str = ""
    execution_status: str | None = None


PythonPlanningState = UpdateListState[Any, PythonPlanningStep]

DEFAULT_PYTHON_PLANNING_INSTRUCTION = """\
Answer the question by writing Python code, one block per step. The tools below are \
Python functions you can call. After each block runs you will see what it printed; \
variables persist between blocks. When you know the answer, print it and call exit()."""

DEFAULT_PYTHON_PLANNING_EXEMPLARS = [
    PythonPlanningState(
        inputs="How much taller is Everest than Mount Fuji?",
        updates=[
            PythonPlanningStep(
                code="everest = search('height of Everest')\n"
                "fuji = search('height of Mount Fuji')\nprint(everest, fuji)",
                result="8,849 m 3,776 m",
                execution_status="ok",
            ),
            PythonPlanningStep(
                is_finished=True,
                code="print(8849 - 3776, 'm')\nexit()",
                result="5073 m",
                execution_status="ok",
            ),
        ],
    )
]


def sandbox_state_of(state: PythonPlanningState) -> tuple[str, ...]:
    """The codes the live sandbox has run at ``state``: those since its last restart."""
    codes: list[str] = []
    for step in state.updates:
        if step.execution_status in _RESTARTING:
            codes = []
        elif step.code:
            codes.append(step.code)
    return tuple(codes)


def extract_code(reply: str) -> str:
    """The code in the model's reply: the first fenced block, else the reply itself."""
    text = reply.strip()
    fenced = re.search(r"```[ \t]*(?:python|py|tool_code)?[ \t]*\n(.*?)(?:```|\Z)", text, re.S)
    if fenced:
        return fenced.group(1).strip()
    first, _, rest = text.partition("\n")
    if first.strip() in ("python", "py", "tool_code"):  # the prompt already opened a fence
        text = rest
    return text.split("```", 1)[0].strip()


def _render_state(state: PythonPlanningState) -> str:
    parts = [f"Question: {state.inputs}"]
    for step in state.updates:
        if step.code:
            parts.append(f"```python\n{step.code}\n```\nOutput:\n{step.result.strip()}")
        else:
            parts.append(f"Answer: {step.result.strip()}")
    return "\n".join(parts)


@dataclasses.dataclass
class PythonPlanningPrompt:
    """The Python-planning prompt as text, and its model call (``llm.generate_text``)."""

    instruction: str = DEFAULT_PYTHON_PLANNING_INSTRUCTION
    max_tokens: int | None = 512

    def render(
        self,
        *,
        exemplars: Sequence[PythonPlanningState],
        state: PythonPlanningState,
        tools: Sequence[Tool],
        final_answer: bool = False,
    ) -> str:
        parts = [self.instruction, "", "Tools:", *describe_tools(tools)]
        for exemplar in exemplars:
            parts += ["", _render_state(exemplar)]
        parts += ["", _render_state(state)]
        if final_answer:
            return "\n".join(parts) + "\nNo more code. Answer:"
        return "\n".join(parts) + "\n```python\n"

    @make_executable
    async def __call__(self, *, final_answer: bool = False, **context: Any) -> str:
        """The model's next code block (or final answer) for :meth:`render`'s ``context``."""
        prompt = self.render(final_answer=final_answer, **context)
        stop = ["\nQuestion:"] if final_answer else ["```"]
        return str(await llm.generate_text(prompt, stop=stop, max_tokens=self.max_tokens))


# The reference's prompt classes; here one text prompt serves every backend.
PythonPlanningPromptComposable = PythonPlanningPrompt
PythonPlanningPromptJ2 = PythonPlanningPrompt


@dataclasses.dataclass(kw_only=True)
class PythonPlanningAgent(ToolUsingAgent[Any, str, PythonPlanningState, PythonPlanningStep]):
    """The Python-planning agent; see the module docstring (and ``ToolUsingAgent`` for
    ``tools``, ``environment_config`` — which also sets the sandbox's limits and the
    cache — and ``max_steps``).

    Attributes:
        prompt: builds the prompt and calls the model.
        exemplars: worked examples shown in the prompt.
    """

    prompt: PythonPlanningPrompt = dataclasses.field(default_factory=PythonPlanningPrompt)
    exemplars: list[PythonPlanningState] = dataclasses.field(default_factory=list)

    def extract_output(self, state: PythonPlanningState) -> str:
        return state.updates[-1].result.strip() if state.updates else ""

    async def finish(
        self, state: PythonPlanningState, environment: ToolEnvironment | None = None
    ) -> PythonPlanningStep | None:
        answer = await self.prompt(
            exemplars=self.exemplars, state=state, tools=self.tool_list, final_answer=True
        )
        return PythonPlanningStep(is_finished=True, result=answer.strip())

    async def _sample_single_next_step(
        self, *, state: PythonPlanningState, environment: ToolEnvironment | None = None
    ) -> PythonPlanningStep:
        if len(state.updates) >= self.max_steps:
            step = await self.finish(state, environment)
            assert step is not None
            return step
        reply = await self.prompt(exemplars=self.exemplars, state=state, tools=self.tool_list)
        code = extract_code(reply)
        history = sandbox_state_of(state)
        ran = await self._in_environment(environment, lambda env: env.run_code(code, history))
        result = ran.sandbox_result
        return PythonPlanningStep(
            is_finished=result.exited,
            code=code,
            result=result.text(),
            execution_status=result.status,
        )
