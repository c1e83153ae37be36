"""Metrics of a predicted distribution (the output of ``SelfConsistency``).

Example:
    >>> from onetwo import ot
    >>> from onetwo.stdlib.ensembling import distribution_metrics
    >>> at_2 = distribution_metrics.AccuracyAtK(k=2)
    >>> ot.run(at_2("b", [("a", 0.6), ("b", 0.3), ("c", 0.1)]))
    1.0
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import Any

from onetwo.core.executing import make_executable

__all__ = ["AccuracyAtK"]


def _exact_match(target: Any, prediction: Any) -> float:
    return 1.0 * (target == prediction)


@dataclasses.dataclass
class AccuracyAtK:
    """The best accuracy among the ``k`` most likely answers of a distribution.

    Attributes:
        k: how many answers to consider, most likely first (``None``: all of them).
        base_metric: ``fn(target, answer) -> float`` for one answer (sync or async);
            exact match by default. Bigger is better.
    """

    k: int | None = 1
    base_metric: Callable[[Any, Any], Any] = _exact_match

    def __post_init__(self) -> None:
        if self.k is not None and (
            isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 0
        ):
            raise ValueError(f"AccuracyAtK(k=...) must be None or an int >= 0, got {self.k!r}.")

    @make_executable
    async def __call__(self, target: Any, prediction: Sequence[tuple[Any, float]]) -> float:
        """Accuracy at k, from 0.0 to 1.0, of ``prediction``, a list of (answer, weight)."""
        k = len(prediction) if self.k is None else self.k
        values = []
        for answer, _ in prediction[:k]:
            value = self.base_metric(target, answer)
            values.append(await value if inspect.isawaitable(value) else value)
        return float(max(values, default=0.0))
