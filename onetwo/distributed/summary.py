"""What a distributed evaluation returns: the summary, per worker counters, conflicts.

Example:
    >>> summary = distributed.evaluate(solve, examples, backend="fake:x")  # doctest: +SKIP
    >>> summary.workers  # doctest: +SKIP
    {'3f2a9c1e:4242': {'examples': 1000, 'model_calls': 998, 'cache_hits': 2, ...}, ...}
    >>> summary.conflicts  # doctest: +SKIP
    []
"""

from __future__ import annotations

import dataclasses
from typing import Any

from onetwo.distributed.cache_service import Conflict
from onetwo.evaluation.evaluation import EvaluationSummary

__all__ = ["ClusterSummary"]


@dataclasses.dataclass(eq=False)
class ClusterSummary(EvaluationSummary):
    """An :class:`~onetwo.evaluation.evaluation.EvaluationSummary`, plus the cluster's view.

    Attributes:
        workers: ``node:pid`` → counters: ``examples`` finished, ``model_calls`` made,
            ``cache_hits``, ``shared`` in-flight calls, ``round_trips`` to the driver's
            cache, ``lease_waits`` (an identical call on another worker was waited for),
            ``conflicts``, ``tasks``. A worker killed mid-task keeps its examples only.
        conflicts: the calls two workers computed with different results (see
            :class:`~onetwo.distributed.cache_service.Conflict`).
        server: the driver's cache server counters (requests, hits, commits...).
    """

    workers: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    conflicts: list[Conflict] = dataclasses.field(default_factory=list)
    server: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        base = super().__repr__()[:-1]
        return f"{base}, {len(self.workers)} workers, {len(self.conflicts)} conflicts)"
