"""One experiment across a Ray cluster, with one call cache that replays it exactly.

``distributed.evaluate`` is ``ot.evaluate`` with the examples spread over Ray workers,
``distributed.compare`` and ``distributed.par_map`` the same for ``ot.compare`` and
``ot.par_iter`` (``pip install 'onetwo[ray]'``).
Each worker builds its backend from a picklable description (a spec and its arguments:
keys come from each worker's environment); the driver's cache folder stays the one source
of truth, written by one process (the run's experiment server, on the driver's node):
workers see each other's results during the run, an identical call in flight on two
workers is made once, a worker killed mid-task loses only its calls in flight, and
afterwards the folder replays the whole run in one process with no cluster. See
``docs/distributed.md`` for when to scale out.

Modules: ``cluster`` (:class:`RayCluster`), ``description`` (what a worker builds its
backend from), ``evaluation`` (:func:`evaluate`, :func:`compare`: the driver), ``mapping``
(:func:`par_map`), ``worker`` (a task), ``worker_cache`` (a worker's cache), ``server``
(the actor), ``cache_service``, ``leases`` and ``ledger`` (what the actor serves),
``summary`` (:class:`ClusterSummary`).

Example:
    >>> from onetwo import distributed
    >>> summary = distributed.evaluate(  # doctest: +SKIP
    ...     solve, examples, backend="openai:gpt-4o-mini", cache="cache/exp1",
    ...     cluster=distributed.RayCluster(num_workers=8),
    ... )
    >>> summary.metrics, summary.workers, summary.conflicts  # doctest: +SKIP
"""

from onetwo.distributed.cache_service import Conflict
from onetwo.distributed.cluster import ClusterError, RayCluster
from onetwo.distributed.description import BackendDescription
from onetwo.distributed.evaluation import compare, evaluate
from onetwo.distributed.mapping import par_map
from onetwo.distributed.summary import ClusterSummary

__all__ = [
    "BackendDescription",
    "ClusterError",
    "ClusterSummary",
    "Conflict",
    "RayCluster",
    "compare",
    "evaluate",
    "par_map",
]
