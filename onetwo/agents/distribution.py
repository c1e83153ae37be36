"""Agents that state a distribution over their next step, and sample from it.

A :class:`DistributionAgent` implements :meth:`~DistributionAgent.get_next_step_distribution`
(scored candidate updates, the scores summing to 1); ``sample_next_step`` draws from it.
The draw is seeded from the sampling key and the state, never from global ``random``:
the same run, replayed, draws the same steps, and each ``ot.repeat`` copy draws its own.
:class:`ReweightedDistributionAgent` reshapes another one's distribution with
``temperature``, ``top_k`` and ``top_p``.

Example:
    >>> @dataclasses.dataclass
    ... class Coin(DistributionAgent[str, str, UpdateListState[str, str], ScoredUpdate, None]):
    ...     async def initialize_state(self, inputs, environment=None):
    ...         return UpdateListState(inputs)
    ...     async def get_next_step_distribution(self, state, environment=None):
    ...         return [ScoredUpdate("heads", 0.5), ScoredUpdate("tails", 0.5)]
    ...     def extract_output(self, state):
    ...         return state.updates[-1].update if state.updates else ""
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import hashlib
import random
from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

from onetwo.agents.agents_base import Agent
from onetwo.core.sampling import current_sampling_key

__all__ = ["DistributionAgent", "ReweightedDistributionAgent", "ScoredUpdate"]

I = TypeVar("I")  # noqa: E741 - the reference's type-parameter names
O = TypeVar("O")  # noqa: E741
S = TypeVar("S")
E = TypeVar("E")


@dataclasses.dataclass
class ScoredUpdate:
    """An update with a score (here: its probability)."""

    update: Any
    score: float

    def __radd__(self, state: Any) -> Any:
        return state + self.update


def _rng(state: Any, num_candidates: int) -> random.Random:
    seed = f"{current_sampling_key()}|{num_candidates}|{state!r}"
    return random.Random(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big"))


@dataclasses.dataclass(kw_only=True)
class DistributionAgent(Agent[I, O, S, ScoredUpdate, E], Generic[I, O, S, E]):
    """An agent whose next step is drawn from the distribution it states."""

    @abc.abstractmethod
    async def get_next_step_distribution(
        self, state: S, environment: E | None = None
    ) -> list[ScoredUpdate]:
        """The candidate updates from ``state``, with probabilities as scores."""

    async def sample_next_step(
        self, *, state: S, num_candidates: int = 1, environment: E | None = None
    ) -> list[ScoredUpdate]:
        """``num_candidates`` draws (with replacement), each keeping its probability."""
        distribution = await self.get_next_step_distribution(state, environment)
        if not distribution:
            return []
        weights = [max(0.0, d.score) for d in distribution]
        if sum(weights) <= 0:
            return []
        picks = _rng(state, num_candidates).choices(distribution, weights, k=num_candidates)
        return [ScoredUpdate(p.update, p.score) for p in picks]


@dataclasses.dataclass(kw_only=True)
class ReweightedDistributionAgent(DistributionAgent[I, O, S, E]):
    """``inner_agent``'s distribution reshaped; it delegates everything else to it.

    Attributes:
        inner_agent: the distribution agent to reweight.
        temperature: sharpens (< 1) or flattens (> 1) the distribution; 0 is the
            uniform distribution over the most probable candidates.
        top_k: keeps the ``k`` most probable candidates.
        top_p: keeps the most probable candidates until their total reaches ``p``.
    """

    inner_agent: DistributionAgent[I, O, S, E]
    temperature: float | None = None
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        if self.temperature is None and self.top_k is None and self.top_p is None:
            raise ValueError("give at least one of temperature, top_k and top_p.")

    async def initialize_state(self, inputs: I, environment: E | None = None) -> S:
        return await self.inner_agent.initialize_state(inputs, environment)

    def is_finished(self, state: S) -> bool:
        return self.inner_agent.is_finished(state)

    def extract_output(self, state: S) -> O:
        return self.inner_agent.extract_output(state)

    @contextlib.asynccontextmanager
    async def start_environment(self) -> AsyncIterator[E | None]:
        async with self.inner_agent.start_environment() as env:
            yield env

    async def get_next_step_distribution(
        self, state: S, environment: E | None = None
    ) -> list[ScoredUpdate]:
        original = await self.inner_agent.get_next_step_distribution(state, environment)
        scores = [max(0.0, d.score) for d in original]
        if self.temperature is not None:
            top = max(scores, default=0.0)
            if self.temperature <= 1e-10:
                scores = [1.0 if s == top and s > 0 else 0.0 for s in scores]
            else:
                scores = [s ** (1.0 / self.temperature) if s > 0 else 0.0 for s in scores]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        keep = len(order) if self.top_k is None else min(self.top_k, len(order))
        if self.top_p is not None:
            total, cut = sum(scores) or 1.0, 0
            running = 0.0
            while cut < keep:
                running += scores[order[cut]] / total
                cut += 1
                if running >= self.top_p - 1e-12:
                    break
            keep = cut
        kept = set(order[:keep])
        scores = [s if i in kept else 0.0 for i, s in enumerate(scores)]
        total = sum(scores)
        return [
            ScoredUpdate(d.update, s / total if total > 0 else 0.0)
            for d, s in zip(original, scores)
        ]
