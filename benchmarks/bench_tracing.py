"""Tracing cost: per-call overhead of builtin calls with tracing on vs off.

10,000 independent trivial ``llm.generate_text`` calls through ``ot.par_iter`` on the fake
backend (building the executables included), microseconds per call, with
``ot.run(..., enable_tracing=False)`` and ``enable_tracing=True``; runs interleaved,
medians reported, and the median of the on/off ratios of back-to-back pairs (steadier on a
busy machine). With tracing on, each call also records a trace node (name, effective
arguments, result, times, backend, model, and the fake's token counts).

    .venv/bin/python benchmarks/bench_tracing.py [--repeats 9] [--calls 10000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm


def per_call_us(backend: FakeBackend, n: int, tracing: bool) -> float:
    backend.reset()  # the fake records every call: do not let that pile up across runs
    gc.collect()
    start = time.perf_counter()
    out = ot.run(ot.par_iter(llm.generate_text(f"p{i}") for i in range(n)), enable_tracing=tracing)
    elapsed = time.perf_counter() - start
    if tracing:
        result, trace = out
        assert len(trace.children) == n, "every call must be traced"
    else:
        result = out
    assert len(result) == n
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--calls", type=int, default=10_000)
    args = parser.parse_args()

    backend = FakeBackend(default_reply="x")
    backend.register()
    per_call_us(backend, args.calls, False), per_call_us(backend, args.calls, True)  # warm-up
    off, on = [], []
    for _ in range(args.repeats):  # interleaved, so both see the same machine noise
        off.append(per_call_us(backend, args.calls, False))
        on.append(per_call_us(backend, args.calls, True))
    off_med, on_med = statistics.median(off), statistics.median(on)
    pair_ratio = statistics.median(b / a for a, b in zip(off, on))
    print(
        table(
            [
                ("workload", "tracing off", "tracing on", "ratio", "pair ratio", "target"),
                (
                    f"µs/call ({args.calls:,} par_iter calls)",
                    f"{off_med:.2f}",
                    f"{on_med:.2f}",
                    f"{on_med / off_med:.2f}x",
                    f"{pair_ratio:.2f}x",
                    "≤ 2x",
                ),
            ]
        )
    )
    print(
        f"\nmedians of {args.repeats}; off runs {sorted(round(x, 2) for x in off)}, "
        f"on runs {sorted(round(x, 2) for x in on)}"
    )


if __name__ == "__main__":
    main()
