"""One real local Ray cluster (2 CPUs) for the distributed tests, started once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ray = pytest.importorskip("ray", reason="the distributed tests need the extra: onetwo[ray]")

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "onetwo-tests"  # the named actors of the tests (gates) live here


@pytest.fixture(scope="session")
def cluster() -> Iterator[Any]:
    """``ray.init(num_cpus=2)``: a real local cluster whose workers import this tree."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(
        address="local",  # always a cluster of its own, never one another run started
        num_cpus=2,
        namespace=NAMESPACE,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
    )
    try:
        yield ray
    finally:
        ray.shutdown()
