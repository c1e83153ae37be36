"""Real model: onetwo on the embedded llama.cpp server vs the raw OpenAI client.

Two measurements on the embedded model (SmolLM2-135M, llama.cpp in-process, 4 slots):

* **W6 overhead**: 64 short greedy generations (``max_tokens`` 16) through onetwo
  (``ot.run(ot.par_iter(llm.generate_text(...)))`` on ``local_backend()``) against the raw
  ``openai.AsyncOpenAI`` client sending the same 64 requests with ``asyncio.gather``, to
  the same server, in the same process. Each timed run builds its own client inside its
  own event loop (as ``ot.run`` does), and the two variants alternate (order swapped every
  round) so that a noisy neighbour hits both. Target: onetwo median <= 1.05x raw median.
* **W7 throughput**: completion tokens per second for 16 calls sent one after another vs
  16 sent concurrently (decoded together in the server's 4 slots), through onetwo,
  alternating, median of ``--throughput-rounds``.

Each variant of each round sends new prompts, so that neither reuses the other's prompt
cache in the server; the prompts differ only in digits (one token each), so every run
processes the same number of prompt tokens (the raw runs' usage counts show it). Both
variants send identical requests (``/v1/completions``, same parameters, no log-probs).

    .venv/bin/python benchmarks/bench_local_model.py [--rounds 7] [--calls 64]
        [--throughput-calls 16] [--throughput-rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import openai
from _common import table

from onetwo import ot
from onetwo.backends.local import LocalModel, local_backend
from onetwo.builtins import llm

MAX_TOKENS = 16
TOPICS = ["a fox", "the sea", "a robot", "winter", "a castle", "music", "a garden", "the moon"]


def prompts(round_: int, n: int) -> list[str]:
    return [
        f"Story {round_}.{i} about {TOPICS[i % len(TOPICS)]}: Once upon a time" for i in range(n)
    ]


def run_raw(url: str, batch: list[str]) -> tuple[float, int, int]:
    """(wall s, prompt tokens, completion tokens) for the raw client, gather of all calls."""

    async def main() -> tuple[int, int]:
        client = openai.AsyncOpenAI(base_url=url, api_key="unused", max_retries=0, timeout=120)
        try:
            responses = await asyncio.gather(
                *(
                    client.completions.create(
                        model="smollm2", prompt=p, max_tokens=MAX_TOKENS, temperature=0.0
                    )
                    for p in batch
                )
            )
        finally:
            await client.close()
        usages = [r.usage for r in responses if r.usage]
        return sum(u.prompt_tokens for u in usages), sum(u.completion_tokens for u in usages)

    began = time.perf_counter()
    prompt_tokens, tokens = asyncio.run(main())
    return time.perf_counter() - began, prompt_tokens, tokens


def run_onetwo(batch: list[str]) -> float:
    """Wall seconds for the batch through onetwo, ``par_iter`` over ``llm.generate_text``."""
    calls = [llm.generate_text(p, max_tokens=MAX_TOKENS, temperature=0.0) for p in batch]
    began = time.perf_counter()
    texts = ot.run(ot.par_iter(calls))
    wall = time.perf_counter() - began
    assert len(texts) == len(batch) and all(isinstance(t, str) for t in texts)
    return wall


def throughput(batch: list[str], *, concurrent: bool) -> tuple[float, int]:
    """(wall seconds, completion tokens) through onetwo, concurrently or one at a time."""
    calls = [
        llm.generate_text(p, max_tokens=MAX_TOKENS, temperature=0.0, include_details=True)
        for p in batch
    ]

    @ot.make_executable
    async def in_turn() -> list[tuple[str, dict[str, int]]]:
        return [await c for c in calls]

    began = time.perf_counter()
    results = ot.run(ot.par_iter(calls) if concurrent else in_turn())
    return time.perf_counter() - began, sum(d["completion_tokens"] for _, d in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=64)
    parser.add_argument("--throughput-calls", type=int, default=16)
    parser.add_argument("--throughput-rounds", type=int, default=5)
    args = parser.parse_args()

    backend: LocalModel = local_backend()
    backend.register()
    url = backend.server.start() + "/v1"
    print(f"server: {backend.server!r}, started in {backend.server.started_in:.2f}s")

    # Warm-up: both paths once, not timed.
    run_raw(url, prompts(-1, 8))
    run_onetwo(prompts(-2, 8))

    raw: list[float] = []
    ours: list[float] = []
    tokens_raw: set[tuple[int, int]] = set()
    for r in range(args.rounds):
        order = ("raw", "onetwo") if r % 2 == 0 else ("onetwo", "raw")
        for k, variant in enumerate(order):
            batch = prompts(10 + 2 * r + k, args.calls)
            if variant == "raw":
                wall, prompt_tokens, tokens = run_raw(url, batch)
                raw.append(wall)
                tokens_raw.add((prompt_tokens, tokens))
            else:
                ours.append(run_onetwo(batch))
        print(f"round {r}: raw {raw[-1]:.3f}s, onetwo {ours[-1]:.3f}s", flush=True)

    raw_median, ours_median = statistics.median(raw), statistics.median(ours)
    ratio = ours_median / raw_median
    print()
    print(
        f"`.venv/bin/python benchmarks/bench_local_model.py --rounds {args.rounds} "
        f"--calls {args.calls} --throughput-rounds {args.throughput_rounds}`"
    )
    print()
    print(
        table(
            [
                ("workload", "raw AsyncOpenAI s", "onetwo s", "ratio", "target"),
                (
                    f"W6 {args.calls} x {MAX_TOKENS}-token calls",
                    f"{raw_median:.3f}",
                    f"{ours_median:.3f}",
                    f"{ratio:.3f}x",
                    "≤ 1.05x",
                ),
            ]
        )
    )
    print()
    print(
        f"medians of {args.rounds} alternating rounds; raw {[round(x, 3) for x in raw]}, "
        f"onetwo {[round(x, 3) for x in ours]}; (prompt, completion) tokens per raw run: "
        f"{sorted(tokens_raw)}"
    )

    n = args.throughput_calls
    rates: dict[str, list[float]] = {"sequential": [], "concurrent": []}
    for r in range(args.throughput_rounds):
        order = ("sequential", "concurrent") if r % 2 == 0 else ("concurrent", "sequential")
        for k, mode in enumerate(order):
            wall, tokens = throughput(prompts(60 + 2 * r + k, n), concurrent=mode == "concurrent")
            rates[mode].append(tokens / wall)
    seq, con = statistics.median(rates["sequential"]), statistics.median(rates["concurrent"])
    print()
    print(
        table(
            [
                (f"W7 {n} x {MAX_TOKENS}-token calls", "tokens/s (median)", "runs"),
                ("sequential", f"{seq:.1f}", str([round(x, 1) for x in rates["sequential"]])),
                ("concurrent", f"{con:.1f}", str([round(x, 1) for x in rates["concurrent"]])),
            ]
        )
    )
    print(f"\nspeed-up from concurrency: {con / seq:.2f}x")


if __name__ == "__main__":
    main()
