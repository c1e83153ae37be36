"""DistributionAgent (draws seeded by the sampling key, reweighting) and IterativeThoughtAgent."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from onetwo import ot
from onetwo.agents import UpdateListState
from onetwo.agents.distribution import DistributionAgent, ReweightedDistributionAgent, ScoredUpdate
from onetwo.agents.iterative_thought import IterativeThoughtAgent
from onetwo.backends.fake import FakeBackend

State = UpdateListState[str, ScoredUpdate]


@dataclasses.dataclass(kw_only=True)
class Dice(DistributionAgent[str, str, State, None]):
    weights: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4)

    async def initialize_state(self, inputs: str, environment: None = None) -> State:
        return State(inputs)

    async def get_next_step_distribution(
        self, state: State, environment: None = None
    ) -> list[ScoredUpdate]:
        return [ScoredUpdate(str(i), w) for i, w in enumerate(self.weights)]

    def is_finished(self, state: State) -> bool:
        return len(state.updates) >= 3

    def extract_output(self, state: State) -> str:
        return "".join(u.update for u in state.updates)


def test_draws_are_reproducible_and_differ_between_repeat_copies() -> None:
    agent = Dice()
    first = ot.run(agent("roll"))
    assert ot.run(agent("roll")) == first  # no global random: the same draws again
    copies: list[Any] = ot.run(ot.parallel(*ot.repeat(agent("roll"), 8)))
    assert len(set(copies)) > 1  # each copy has its own sampling key, so its own draws
    assert ot.run(ot.parallel(*ot.repeat(agent("roll"), 8))) == copies


async def test_candidates_keep_their_probability() -> None:
    agent = Dice(weights=(0.0, 1.0))
    candidates = await agent.sample_next_step(state=State("q"), num_candidates=4)
    assert candidates == [ScoredUpdate("1", 1.0)] * 4


async def test_reweighting() -> None:
    async def dist(**kwargs: Any) -> list[float]:
        agent = ReweightedDistributionAgent(inner_agent=Dice(), **kwargs)
        return [round(d.score, 4) for d in await agent.get_next_step_distribution(State("q"))]

    assert await dist(temperature=0.0) == [0.0, 0.0, 0.0, 1.0]
    assert await dist(temperature=1.0) == [0.1, 0.2, 0.3, 0.4]
    assert await dist(temperature=0.5) == [0.0333, 0.1333, 0.3, 0.5333]
    assert await dist(top_k=2) == [0.0, 0.0, 0.4286, 0.5714]
    assert await dist(top_p=0.65) == [0.0, 0.0, 0.4286, 0.5714]
    assert await dist(top_p=0.75) == [0.0, 0.2222, 0.3333, 0.4444]
    with pytest.raises(ValueError, match="temperature, top_k and top_p"):
        ReweightedDistributionAgent(inner_agent=Dice())
    agent = ReweightedDistributionAgent(inner_agent=Dice(), top_k=1)
    assert ot.run(agent("q")) == "333"


def test_iterative_thought_adds_one_thought_per_step() -> None:
    backend = FakeBackend(default_reply=lambda p, **_: f" thought {p.count('Step ')}\nextra")
    backend.register()
    agent = IterativeThoughtAgent(description="Count.")
    assert ot.run(agent("go", max_steps=3)) == ["thought 1", "thought 2", "thought 3"]
    assert backend.prompts[-1].endswith("Step 2: thought 2\nStep 3:")
