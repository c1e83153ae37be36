"""The run's fingerprint: what must not change between a run and its ``--resume``.

It holds what changes results: the strategy and metric sources (their SHA-256), the
dataset's digest, the backends with their arguments, the samples per example and the
fields given to the strategy. Flags that only choose or pace the work (``--limit``,
``--ids``, ``--parallelism``, ``--max_errors``, the cache folder and mode, ``--ray_address``
and ``--num_workers``: sampling keys come from the example and the sample number, not from
where it runs) are not in it: ``--limit=100`` then ``--resume`` without it runs the rest,
and a run started on Ray continues without it. It is written to
``fingerprint.json`` when a run starts, and into ``summary.json`` at the end.

Example:
    >>> check_resume(saved, current)   # doctest: +SKIP
    InputError: --resume: the configuration differs from the run in out/: num_samples was 1,
    is now 3. ...
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from onetwo.run.backend_specs import BackendSpec
from onetwo.run.datasets import Dataset
from onetwo.run.errors import InputError
from onetwo.run.flags import RunConfig
from onetwo.run.strategies import LoadedFunction

__all__ = ["FINGERPRINT", "check_resume", "fingerprint_of", "read_fingerprint", "save_fingerprint"]

FINGERPRINT = "fingerprint.json"


def fingerprint_of(
    config: RunConfig,
    strategy: LoadedFunction,
    metrics: Sequence[LoadedFunction],
    dataset: Dataset,
    backends: Sequence[BackendSpec],
) -> dict[str, Any]:
    """The fingerprint of a run about to start (plain JSON values)."""
    return {
        "strategy": {"spec": strategy.spec, "sha256": strategy.sha256},
        "metrics": [{"spec": m.spec, "sha256": m.sha256} for m in metrics],
        "dataset_sha256": dataset.sha256,
        "backends": [b.describe() for b in backends],
        "num_samples": config.num_samples,
        "inputs_field": config.inputs_field,
        "target_field": config.target_field,
    }


def save_fingerprint(folder: str, fingerprint: dict[str, Any]) -> None:
    with open(os.path.join(folder, FINGERPRINT), "w", encoding="utf-8") as f:
        json.dump(fingerprint, f, indent=2, sort_keys=True)
        f.write("\n")


def read_fingerprint(folder: str) -> dict[str, Any] | None:
    path = os.path.join(folder, FINGERPRINT)
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as f:
        saved: dict[str, Any] = json.load(f)
    return saved


def check_resume(folder: str, saved: dict[str, Any] | None, current: dict[str, Any]) -> None:
    """Raise ``InputError`` unless ``current`` may continue the run ``saved`` describes."""
    if saved is None:
        raise InputError(
            f"--resume: {folder} holds results but no {FINGERPRINT}, so it cannot be checked. "
            "Run without --resume into a new --output_dir."
        )
    # JSON round trip: the saved copy has lists where the current one may have tuples.
    current = json.loads(json.dumps(current))
    changes = [
        f"{key} was {json.dumps(saved.get(key))}, is now {json.dumps(current.get(key))}"
        for key in sorted(set(saved) | set(current))
        if saved.get(key) != current.get(key)
    ]
    if changes:
        raise InputError(
            f"--resume: the configuration differs from the run in {folder}: "
            + "; ".join(changes)
            + ". Resume with the same strategy, dataset, backends and flags, or start a new "
            "run with another --output_dir (or without --resume, after removing the folder)."
        )
