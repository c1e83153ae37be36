"""Sequential runs: the cost of one ``ot.run`` of one builtin, against plain asyncio.

1,000 sequential ``ot.run(llm.generate_text(...))`` calls on the fake backend, µs per
run, next to the floor measured in the same process: ``asyncio.run`` of a trivial
coroutine (what a fresh event loop per run costs at least). With onetwo's long-lived
runtime loop a run pays for no new loop, and a script's sequential runs no thread hop
either: the calling thread drives the runtime loop itself while no other thread does.
(A run that has to hop, e.g. from a Jupyter cell, costs two thread wake-ups more; on a
virtual machine whose other CPU sleeps each can cost tens of µs, so compare figures taken
in the same state.)

    .venv/bin/python benchmarks/bench_runs.py [--repeats 7] [--runs 1000]

Run it against another checkout's onetwo by running that checkout's interpreter from its
folder (``cd /work/main && .venv/bin/python /path/to/bench_runs.py``), or against this
tree with ``PYTHONPATH=$PWD``; the script prints which onetwo it measured.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import interleaved, table

import onetwo
from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm


def floor_per_run(n: int) -> float:
    async def trivial() -> str:
        return "x"

    start = time.perf_counter()
    for _ in range(n):
        asyncio.run(trivial())
    return (time.perf_counter() - start) / n * 1e6


def onetwo_per_run(backend: FakeBackend, n: int) -> float:
    backend.reset()  # the fake records every call: start each repeat with an empty log
    start = time.perf_counter()
    for i in range(n):
        ot.run(llm.generate_text(f"p{i}"))
    elapsed = time.perf_counter() - start
    assert len(backend.calls) == n
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()

    backend = FakeBackend(default_reply="x")
    backend.register()
    floors, ours = interleaved(
        lambda: floor_per_run(args.runs), lambda: onetwo_per_run(backend, args.runs), args.repeats
    )
    f_med, o_med = statistics.median(floors), statistics.median(ours)
    print(
        table(
            [
                ("workload", "floor", "onetwo", "ratio"),
                (
                    f"µs/run ({args.runs:,} sequential ot.run of one builtin, fake backend)",
                    f"{f_med:.1f}",
                    f"{o_med:.1f}",
                    f"{o_med / f_med:.2f}x",
                ),
            ]
        )
    )
    print(
        f"\nonetwo from {Path(onetwo.__file__).parent}; medians of {args.repeats}; "
        f"floor (asyncio.run of a trivial coroutine) runs {[round(x, 1) for x in floors]}, "
        f"onetwo {[round(x, 1) for x in ours]}"
    )


if __name__ == "__main__":
    main()
