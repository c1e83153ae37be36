"""A driver in a process of its own, for the test that kills it mid-run.

Usage: python driver.py ADDRESS FOLDER LOG GATE PROMPT; joins the running cluster and
evaluates 16 examples one at a time on one worker; the call of PROMPT hangs at GATE.
"""

from __future__ import annotations

import os
import sys

import ray

from onetwo import distributed
from tests.distributed import helpers
from tests.distributed.conftest import NAMESPACE


def main() -> None:
    address, folder, log, gate, prompt = sys.argv[1:6]
    path = os.environ.get("PYTHONPATH", "")
    ray.init(
        address=address,
        namespace=NAMESPACE,
        runtime_env={"env_vars": {"PYTHONPATH": path}},
        log_to_driver=False,
    )
    distributed.evaluate(
        helpers.solve,
        helpers.examples(16, 16),
        backend=helpers.Scripted(log=log, gate=gate, hold=prompt),
        cache=folder,
        cluster=distributed.RayCluster(num_workers=1),
        progress=False,
        concurrency=1,
    )


if __name__ == "__main__":
    main()
