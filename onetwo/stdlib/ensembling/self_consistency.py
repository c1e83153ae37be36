"""Self-consistency: sample a strategy many times, vote, return the answer distribution.

:class:`SelfConsistency` calls a strategy ``num_samples`` times, each call under its own
sampling key (``ot.repeat``: independent samples, each replayed as itself from the
cache), drops the outputs ``output_filter`` rejects, puts the rest in buckets
(``bucketizer``, e.g. the final answer), adds up their ``scorer`` votes, and returns
``[(representative output, probability), ...]``, most probable first (the summed votes
themselves when they add up to 0 or less).
:class:`ExtractConsensus` turns that back into a strategy returning the top output.

Example:
    >>> cot = chain_of_thought.QACoTPromptChat()
    >>> sc = SelfConsistency(sampler=cot, bucketizer=lambda r: r.answer, num_samples=5)
    >>> ot.run(sc("Tom has 3 pens and buys 2 more. How many pens?"))  # doctest: +SKIP
    [(CoTReply(reasoning='...', answer='5'), 0.8), (CoTReply(..., answer='6'), 0.2)]
    >>> ot.run(ExtractConsensus(sc)("..."))  # doctest: +SKIP
    CoTReply(reasoning='...', answer='5')

Sample at a temperature above 0 (``llm.generate_text.update(temperature=0.7)``), or every
sample is the same.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Hashable
from typing import Any

from onetwo.core import tracing
from onetwo.core.executing import Executable, make_executable
from onetwo.core.sampling import Repeated, RoundRobin, repeat_and_execute

__all__ = ["ExtractConsensus", "SelfConsistency", "select_first_highest_scoring_output"]


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def select_first_highest_scoring_output(
    bucket: Any, predictions_with_scores: list[tuple[Any, float]]
) -> Any:
    """The default representative of a bucket: its highest-scoring output, the first on ties.

    Example:
        >>> select_first_highest_scoring_output("5", [("a", 1.0), ("b", 2.0), ("c", 2.0)])
        'b'
    """
    del bucket
    best = max(enumerate(predictions_with_scores), key=lambda p: (p[1][1], -p[0]), default=None)
    return None if best is None else best[1][0]


@dataclasses.dataclass
class SelfConsistency:
    """Vote over samples of a strategy; see the module docstring.

    Attributes:
        sampler: the strategy: called with the arguments, it returns an executable of
            one output; or a sampler (``sampling.Repeated(strategy)``, ``RoundRobin``),
            which draws the ``num_samples`` samples itself.
        num_samples: how many samples to draw.
        output_filter: keeps an output when it returns True (sync or async).
        scorer: ``(args, kwargs, output) -> float``, the vote of one output (sync or
            async, e.g. a model-based verifier; default 1; ``None`` leaves it out).
        bucketizer: the bucket of an output (sync or async; default: the output).
        representative_output_selector: ``(bucket, [(output, score), ...])``, sync or
            async, picks a bucket's representative (default:
            :func:`select_first_highest_scoring_output`).

    The votes are normalized to probabilities when they add up to more than 0 (all
    zero: returned as they are, as the reference does).
    """

    sampler: Callable[..., Executable[Any]]
    num_samples: int = 1
    output_filter: Callable[[Any], Any] = lambda output: True
    scorer: Callable[[tuple[Any, ...], dict[str, Any], Any], Any] = lambda a, k, o: 1.0
    bucketizer: Callable[[Any], Any] = lambda output: output
    representative_output_selector: Callable[[Any, list[tuple[Any, float]]], Any] = (
        select_first_highest_scoring_output
    )

    @make_executable
    @tracing.trace(name="SelfConsistency")
    async def __call__(self, *args: Any, **kwargs: Any) -> list[tuple[Any, float]]:
        if isinstance(self.sampler, Repeated | RoundRobin):
            outputs = await self.sampler(*args, num_samples=self.num_samples, **kwargs)
        else:
            outputs = await repeat_and_execute(self.sampler(*args, **kwargs), self.num_samples)
        # Keyed by a hashable form of the bucket; the selector gets the bucket itself.
        buckets: dict[Hashable, tuple[Any, list[tuple[Any, float]]]] = {}
        for output in outputs:
            if not await _maybe_await(self.output_filter(output)):
                continue
            score = await _maybe_await(self.scorer(args, kwargs, output))
            bucket = await _maybe_await(self.bucketizer(output))
            if score is not None:
                buckets.setdefault(_hashable(bucket), (bucket, []))[1].append(
                    (output, float(score))
                )
        distribution = []
        for bucket, scored in buckets.values():
            representative = await _maybe_await(self.representative_output_selector(bucket, scored))
            distribution.append((representative, sum(score for _, score in scored)))
        distribution.sort(key=lambda pair: -pair[1])
        total = sum(score for _, score in distribution)
        return (
            [(output, score / total) for output, score in distribution]
            if total > 0
            else distribution
        )


def _hashable(key: Any) -> Hashable:
    try:
        hash(key)
    except TypeError:
        return repr(key)
    return key


@dataclasses.dataclass
class ExtractConsensus:
    """A strategy returning the most probable output of ``inner`` (``None`` if none)."""

    inner: Callable[..., Executable[list[tuple[Any, float]]]]

    @make_executable
    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        distribution = await self.inner(*args, **kwargs)
        return distribution[0][0] if distribution else None
