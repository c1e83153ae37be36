"""Sync implementations: 100 concurrent calls to one that blocks 20 ms, against the ideal.

A sync function given to ``builtin.configure(fn)`` runs on a thread pool of
``onetwo.core.builtin.SYNC_THREADS`` threads. The ideal for 100 calls that each block
20 ms is ``ceil(100 / SYNC_THREADS) * 20 ms``; the floor next to it is the same 100 calls
submitted straight to a ``ThreadPoolExecutor`` of that size, in the same run.

    .venv/bin/python benchmarks/bench_sync_impl.py [--repeats 7] [--calls 100]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table

from onetwo import ot
from onetwo.builtins import llm
from onetwo.core.builtin import SYNC_THREADS

BLOCK = 0.020


def blocking(prompt: str) -> str:
    time.sleep(BLOCK)  # a blocking client call, e.g. requests.post to a model server
    return prompt


def floor(pool: ThreadPoolExecutor, n: int) -> float:
    start = time.perf_counter()
    list(pool.map(blocking, (f"p{i}" for i in range(n))))
    return time.perf_counter() - start


def onetwo(n: int) -> float:
    start = time.perf_counter()
    result = ot.run(ot.par_iter(llm.generate_text(f"p{i}") for i in range(n)))
    elapsed = time.perf_counter() - start
    assert len(result) == n
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    llm.generate_text.configure(blocking)
    ideal = math.ceil(args.calls / SYNC_THREADS) * BLOCK
    floors, ours = [], []
    with ThreadPoolExecutor(SYNC_THREADS) as pool:
        floor(pool, args.calls), onetwo(args.calls)  # warm-up: threads started
        for _ in range(args.repeats):  # interleaved, so both see the same machine noise
            floors.append(floor(pool, args.calls))
            ours.append(onetwo(args.calls))
    floors.sort(), ours.sort()
    f_med, o_med = floors[len(floors) // 2], ours[len(ours) // 2]
    print(
        table(
            [
                ("workload", "ideal", "floor (raw pool)", "onetwo", "onetwo / ideal", "target"),
                (
                    f"{args.calls} sync calls blocking {BLOCK * 1000:.0f} ms, "
                    f"{SYNC_THREADS} threads (ms)",
                    f"{ideal * 1000:.1f}",
                    f"{f_med * 1000:.1f}",
                    f"{o_med * 1000:.1f}",
                    f"{o_med / ideal:.2f}x",
                    "≤ 1.3x",
                ),
            ]
        )
    )
    print(f"\nmedians of {args.repeats}; floor runs {[round(x * 1000, 1) for x in floors]} ms")


if __name__ == "__main__":
    main()
