"""The work on a Ray cluster (``--ray_address``): ``distributed.evaluate`` per backend and sample.

Instead of building a registry here, each backend's spec travels to the workers as a
:class:`~onetwo.distributed.description.BackendDescription` (so its arguments may hold no
credential: each worker reads its key from its own environment), and the cache folder of
``--cache_dir`` stays the one the run writes (with ``--cache_mode``). The backends run one
after the other, each on the whole cluster; with ``--num_samples`` above one, sample ``i``
runs its strategy and metrics under the sampling key ``ot.repeat`` gives copy ``i``
(:class:`Sampled`), as the local runner does, so a Ray run and a local run fill the same
cache entries and write the same rows. The rows of a backend are written when all its
samples are back from the cluster (``distributed.evaluate`` returns its results at the end).

A strategy loaded from a file (``--strategy=solve.py:solve``) lives in a module the
workers cannot import: :func:`connect` has Ray pickle such modules by value.

Example:
    >>> cluster = connect(config, [strategy, *metrics])               # doctest: +SKIP
    >>> run_on_ray(work, writer, cluster, cache, descriptions, True)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from onetwo.core.caching import CallCache
from onetwo.core.executing import Executable
from onetwo.core.sampling import sampling_key, under_sampling_key
from onetwo.evaluation.evaluation import ExampleResult
from onetwo.run.backend_specs import BackendSpec
from onetwo.run.datasets import Entry
from onetwo.run.errors import InputError
from onetwo.run.flags import RunConfig
from onetwo.run.results import ResultsWriter
from onetwo.run.runner import Work, write_unit
from onetwo.run.strategies import LoadedFunction

__all__ = ["Sampled", "connect", "describe", "distributed", "run_on_ray"]


def distributed() -> types.ModuleType:
    """``onetwo.distributed``, or an ``InputError`` saying how to install Ray."""
    try:
        from onetwo import distributed as module
    except ImportError as e:
        raise InputError(
            f"--ray_address needs Ray, which is not installed ({e}). Install the extra: "
            "pip install 'onetwo[ray]' (from a checkout: pip install '.[ray]')."
        ) from None
    return module


def describe(specs: Sequence[BackendSpec]) -> dict[str, Any]:
    """Each backend's description for the workers; a credential in its arguments is refused."""
    module = distributed()
    descriptions = {}
    for spec in specs:
        try:
            descriptions[spec.label] = module.BackendDescription.of(spec)
        except ValueError as e:
            raise InputError(f"--backend={spec.label} with --ray_address: {e}") from None
    return descriptions


def connect(config: RunConfig, functions: Sequence[LoadedFunction]) -> Any:
    """Join (or start, for ``--ray_address=local``) the cluster; its ``RayCluster``."""
    module = distributed()
    from ray import cloudpickle

    # Ray's own "local": always a new instance here, never one a `ray start` left running.
    local = config.ray_address == "local"
    cluster = module.RayCluster(
        address=config.ray_address,
        num_workers=config.num_workers,
        init_options={"include_dashboard": False} if local else {},
    )
    try:
        cluster.connect()
    except Exception as e:  # Ray raises ConnectionError, RuntimeError, ValueError...
        raise InputError(
            f"--ray_address={config.ray_address}: cannot connect to the Ray cluster "
            f"({type(e).__name__}: {e}). Give 'auto' (the cluster `ray start --head` started "
            "on this machine), 'ray://head:10001', or 'local' to start one here."
        ) from None
    for loaded in functions:
        module_of = sys.modules.get(getattr(loaded.function, "__module__", "") or "")
        if module_of is not None and module_of.__name__.startswith("_onetwo_run_"):
            cloudpickle.register_pickle_by_value(module_of)  # a file the workers lack
    return cluster


@dataclasses.dataclass(frozen=True)
class Sampled:
    """``function`` (a strategy or a metric) run under the sampling key ``key``.

    Picklable (for the workers) and with ``function``'s signature, so ``ot.evaluate``
    names its arguments and reads a metric's parameters as it would ``function``'s.

    Example:
        >>> second = Sampled(solve, sampling_key(1))   # doctest: +SKIP
    """

    function: Callable[..., Any]
    key: str

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(self.function)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with under_sampling_key(self.key):
            value = self.function(*args, **kwargs)
            while isinstance(value, Executable) or inspect.isawaitable(value):
                value = await value
        return value


def run_on_ray(
    work: Work,
    writer: ResultsWriter,
    cluster: Any,
    cache: CallCache | None,
    descriptions: Mapping[str, Any],
    progress: bool,
    on_unit: Callable[[list[dict[str, Any]]], None] = lambda rows: None,
) -> None:
    """Run ``work``'s units on ``cluster``, backend after backend; write each backend's rows.

    Raises:
        InputError: a task failed on every retry (e.g. a backend the workers cannot build).
    """
    module = distributed()
    by_backend: dict[str, list[Entry]] = {}
    for unit in work.units:
        by_backend.setdefault(unit.backend, []).append(unit.entry)
    for backend, entries in by_backend.items():
        samples: list[dict[int, ExampleResult]] = []
        for sample in range(work.num_samples):
            strategy, metrics = work.strategy, work.metrics
            label = backend
            if work.num_samples > 1:  # one sample: no key, as the local runner does
                key = sampling_key(sample)
                strategy = Sampled(strategy, key)
                metrics = {name: Sampled(fn, key) for name, fn in metrics.items()}
                label = f"{backend} sample {sample + 1}/{work.num_samples}"
            try:
                summary = module.evaluate(
                    strategy,
                    [entry.example for entry in entries],
                    backend=descriptions[backend],
                    cache=cache,
                    cluster=cluster,
                    inputs_extractor=work.inputs_extractor,
                    target_extractor=work.target_extractor,
                    metric_functions=metrics,
                    concurrency=work.parallelism,
                    name=backend,
                    progress=label if progress else False,
                )
            except module.ClusterError as e:
                cause = getattr(e.__cause__, "cause", None)  # what the task raised
                if isinstance(cause, InputError):  # e.g. a backend the workers cannot build
                    raise InputError(f"{cause} (on the workers of --ray_address)") from None
                raise InputError(f"--backend={backend} on --ray_address: {e}") from None
            samples.append({result.index: result for result in summary.results.values()})
        for position, entry in enumerate(entries):
            done = [by_index[position] for by_index in samples]
            for result in done:
                result.index = entry.index
            traced = work.traced is None or entry.index in work.traced
            on_unit(write_unit(writer, entry, backend, done, traced))
