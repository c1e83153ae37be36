"""W1 + W5: per-call overhead and memory of builtin calls, against plain asyncio.

W1: 10,000 independent trivial ``llm.generate_text`` calls through ``ot.par_iter`` on the
fake backend, microseconds per call (building the executables included), next to the
floor: ``asyncio.gather`` of 10,000 trivial coroutines, in the same run.

W5: 100,000 calls all in flight at once (each waits on one shared event), RSS growth per
call, next to the floor: 100,000 pending asyncio tasks that each hold a short string.
Each memory figure comes from a fresh process.

    .venv/bin/python benchmarks/bench_overhead.py [--repeats 7] [--calls 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import interleaved, rss_bytes, run_fresh, table

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm


def floor_overhead(n: int) -> float:
    async def trivial(i: int) -> str:
        return "x"

    async def main() -> None:
        await asyncio.gather(*(trivial(i) for i in range(n)))

    start = time.perf_counter()
    asyncio.run(main())
    return (time.perf_counter() - start) / n * 1e6


def onetwo_overhead(backend: FakeBackend, n: int) -> float:
    backend.reset()  # the fake records every call: start each repeat with an empty log
    start = time.perf_counter()
    result = ot.run(ot.par_iter(llm.generate_text(f"p{i}") for i in range(n)))
    elapsed = time.perf_counter() - start
    assert len(result) == n
    return elapsed / n * 1e6


def memory_probe(kind: str, n: int) -> dict[str, float]:
    """Runs in a fresh process: RSS growth while n calls are pending."""
    peak: dict[str, int] = {}

    async def floor() -> None:
        release = asyncio.Event()
        base = rss_bytes()

        async def pending(s: str) -> str:
            await release.wait()
            return s

        tasks = [asyncio.ensure_future(pending(f"prompt {i}")) for i in range(n)]
        await asyncio.sleep(0)
        peak["growth"] = rss_bytes() - base
        release.set()
        await asyncio.gather(*tasks)

    if kind == "floor":
        asyncio.run(floor())
    else:
        # A minimal backend that holds each request until all have arrived, like a server
        # that has not answered yet: what is measured is onetwo's own cost per pending call.
        release = asyncio.Event()
        started = {"n": 0, "base": 0}

        async def pending_backend(prompt: str, include_details: bool = False) -> str:
            started["n"] += 1
            if started["n"] == n:
                peak["growth"] = rss_bytes() - started["base"]
                release.set()
            await release.wait()
            return prompt

        llm.generate_text.configure(pending_backend)

        @ot.make_executable
        async def main() -> list[str]:
            started["base"] = rss_bytes()
            return await ot.par_iter(
                (llm.generate_text(f"prompt {i}") for i in range(n)), chunk_size=n
            )

        assert len(ot.run(main())) == n
    return {"bytes_per_call": peak["growth"] / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--memory-calls", type=int, default=100_000)
    parser.add_argument("--probe", choices=["floor", "onetwo"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(memory_probe(args.probe, args.memory_calls)))
        return

    backend = FakeBackend(default_reply="x")
    backend.register()
    floors, ours = interleaved(
        lambda: floor_overhead(args.calls),
        lambda: onetwo_overhead(backend, args.calls),
        args.repeats,
    )
    floors.sort(), ours.sort()
    f_med, o_med = floors[len(floors) // 2], ours[len(ours) // 2]

    script = Path(__file__).resolve()
    mem = {"floor": [], "onetwo": []}  # type: dict[str, list[float]]
    for _ in range(3):
        for kind in ("floor", "onetwo"):
            out = run_fresh(script, "--probe", kind, "--memory-calls", str(args.memory_calls))
            mem[kind].append(out["bytes_per_call"])
    m_floor = sorted(mem["floor"])[1]
    m_ours = sorted(mem["onetwo"])[1]

    print(
        table(
            [
                ("workload", "floor", "onetwo", "ratio", "target"),
                (
                    f"W1 µs/call ({args.calls:,} par_iter calls)",
                    f"{f_med:.2f}",
                    f"{o_med:.2f}",
                    f"{o_med / f_med:.2f}x",
                    "≤ 2.5x",
                ),
                (
                    f"W5 bytes/call ({args.memory_calls:,} in flight)",
                    f"{m_floor:.0f}",
                    f"{m_ours:.0f}",
                    f"{m_ours / m_floor:.2f}x",
                    "≤ 1.5x",
                ),
            ]
        )
    )
    print(
        f"\nmedians of {args.repeats} (W1) and 3 fresh processes (W5); "
        f"W1 floor runs {[round(x, 2) for x in floors]}, onetwo {[round(x, 2) for x in ours]}"
    )


if __name__ == "__main__":
    main()
