"""Iterative thought: the model writes one thought per step towards the solution.

The state is the problem plus the thoughts so far; each step prompts for the next
thought (one line). The agent never decides it is done: bound it with ``max_steps`` or
a ``stop_condition``. Its output is the list of thoughts (the trajectory). Wrapped in
a search over candidates (``sample_next_step(num_candidates=...)``), it is the
proposer of tree-of-thought style strategies.

Example:
    >>> agent = IterativeThoughtAgent(description="Make 24 from 4 numbers with + - * /.")
    >>> ot.run(agent("1 2 3 4", max_steps=3))   # doctest: +SKIP
    ['1 + 2 = 3 (left: 3 3 4)', '3 + 3 = 6 (left: 4 6)', '4 * 6 = 24']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from onetwo.agents.agents_base import SingleSampleAgent, UpdateListState
from onetwo.builtins import llm
from onetwo.core.executing import make_executable

__all__ = ["IterativeThoughtAgent", "IterativeThoughtPrompt", "IterativeThoughtState"]

IterativeThoughtState = UpdateListState[str, str]


def _render(state: IterativeThoughtState) -> str:
    lines = [f"Problem: {state.inputs}"]
    lines += [f"Step {i}: {thought}" for i, thought in enumerate(state.updates, 1)]
    return "\n".join(lines)


@dataclasses.dataclass
class IterativeThoughtPrompt:
    """The prompt of one step, and its model call (``llm.generate_text``, one line)."""

    max_tokens: int | None = 128

    @make_executable
    async def __call__(
        self,
        *,
        description: str,
        few_shots: Sequence[IterativeThoughtState],
        state: IterativeThoughtState,
    ) -> str:
        parts = [description] if description else []
        parts += [_render(shot) + "\n" for shot in few_shots]
        parts.append(_render(state) + f"\nStep {len(state.updates) + 1}:")
        reply = await llm.generate_text("\n".join(parts), stop=["\n"], max_tokens=self.max_tokens)
        return str(reply).strip()


@dataclasses.dataclass(kw_only=True)
class IterativeThoughtAgent(SingleSampleAgent[str, list[str], IterativeThoughtState, str, None]):
    """Solves a problem one thought at a time; see the module docstring.

    Attributes:
        description: the kind of problem (shown first in every prompt).
        prompt: builds the prompt and calls the model.
        few_shots: solved examples (states), shown before the problem.
    """

    description: str = ""
    prompt: IterativeThoughtPrompt = dataclasses.field(default_factory=IterativeThoughtPrompt)
    few_shots: list[IterativeThoughtState] = dataclasses.field(default_factory=list)

    async def initialize_state(
        self, inputs: str, environment: None = None
    ) -> IterativeThoughtState:
        return IterativeThoughtState(inputs=inputs)

    def extract_output(self, state: IterativeThoughtState) -> list[str]:
        return list(state.updates)

    async def _sample_single_next_step(
        self, *, state: IterativeThoughtState, environment: None = None
    ) -> str:
        thought: str = await self.prompt(
            description=self.description, few_shots=self.few_shots, state=state
        )
        return thought
