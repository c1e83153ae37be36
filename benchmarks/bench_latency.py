"""W2: latency hiding. 2,000 calls to a backend that takes 20 ms each, 100 at a time.

The ideal wall time is 2,000 / 100 x 20 ms = 0.4 s. onetwo runs the calls through
``ot.par_iter(chunk_size=100)`` on the fake backend (``latency=0.02``); the floor is a plain
``asyncio.Semaphore(100)`` + ``gather`` over coroutines that sleep 20 ms, in the same run.

    .venv/bin/python benchmarks/bench_latency.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm


def floor(n: int, limit: int, latency: float) -> float:
    async def call(sem: asyncio.Semaphore, i: int) -> str:
        async with sem:
            await asyncio.sleep(latency)
            return "x"

    async def main() -> None:
        sem = asyncio.Semaphore(limit)
        await asyncio.gather(*(call(sem, i) for i in range(n)))

    start = time.perf_counter()
    asyncio.run(main())
    return time.perf_counter() - start


def onetwo(n: int, limit: int) -> float:
    start = time.perf_counter()
    out = ot.run(ot.par_iter((llm.generate_text(f"p{i}") for i in range(n)), chunk_size=limit))
    assert len(out) == n
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.02)
    a = parser.parse_args()
    FakeBackend(default_reply="x", latency=a.latency).register()
    ideal = a.calls / a.limit * a.latency
    floors, ours = [], []
    for _ in range(a.repeats):
        floors.append(floor(a.calls, a.limit, a.latency))
        ours.append(onetwo(a.calls, a.limit))
    f, o = statistics.median(floors), statistics.median(ours)
    print(
        table(
            [
                (
                    "workload",
                    "ideal s",
                    "floor s",
                    "onetwo s",
                    "floor/ideal",
                    "onetwo/ideal",
                    "target",
                ),
                (
                    f"W2 {a.calls:,} x {a.latency * 1000:.0f} ms, limit {a.limit}",
                    f"{ideal:.3f}",
                    f"{f:.3f}",
                    f"{o:.3f}",
                    f"{f / ideal:.2f}x",
                    f"{o / ideal:.2f}x",
                    "≤ 1.15x",
                ),
            ]
        )
    )
    print(f"\nmedians of {a.repeats}; onetwo runs {[round(x, 3) for x in ours]}")


if __name__ == "__main__":
    main()
