"""Where a distributed run goes: :class:`RayCluster`, an address and a number of workers.

Example:
    >>> cluster = RayCluster(num_workers=2)  # a local Ray instance, or the one running
    >>> cluster = RayCluster(address="ray://head:10001", num_workers=100)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from onetwo.errors import OneTwoError

__all__ = ["ClusterError", "RayCluster"]


class ClusterError(OneTwoError):
    """A distributed run failed as a whole (a task failed on every retry)."""


@dataclasses.dataclass(frozen=True)
class RayCluster:
    """A Ray cluster to run on, and how much of it to use.

    Attributes:
        address: passed to ``ray.init`` when Ray is not initialized yet: ``None`` starts
            (or joins, with ``RAY_ADDRESS`` set) a local instance, ``"auto"`` joins the
            running one, ``"ray://host:10001"`` a remote head. Ignored when
            ``ray.init`` was already called.
        num_workers: examples run in at most this many worker processes at once (one
            CPU each); ``None``: one per CPU of the cluster.
        lease_timeout: seconds a worker waits at most for another worker's identical
            call before making it itself.
        init_options: more keyword arguments for ``ray.init`` (e.g. ``runtime_env``).
    """

    address: str | None = None
    num_workers: int | None = None
    lease_timeout: float = 600.0
    init_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.num_workers
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise ValueError(f"num_workers must be an int >= 1 or None, got {n!r}.")
        if self.lease_timeout <= 0:
            raise ValueError(f"lease_timeout must be > 0 seconds, got {self.lease_timeout!r}.")

    def connect(self) -> int:
        """Initialize Ray if needed; return the number of workers to use."""
        from onetwo.distributed._ray import ray

        if not ray.is_initialized():
            ray.init(address=self.address, **dict(self.init_options))
        if self.num_workers is not None:
            return self.num_workers
        return max(1, int(ray.cluster_resources().get("CPU", 1)))
