"""Token streaming on the embedded model: when the first piece of text arrives.

A 100-token greedy generation (SmolLM2-135M, llama.cpp in-process) three ways, each
round with a new prompt (so no variant reuses another's prompt cache), interleaved:

* ``floor``: the raw ``openai.AsyncOpenAI`` client streaming ``/v1/completions`` from
  the same server (``stream=True``): the first non-empty chunk, and the last;
* ``ot.stream_updates(llm.stream_text)``: the first ``delta`` update a notebook would
  show, and the final update;
* ``ot.run(llm.generate_text)``: the same call, not streamed (nothing before the end).

Target (issue 13): the first token through onetwo arrives in under 20% of the whole
streamed call's time. Completion tokens are counted from the floor's usage chunk.

    .venv/bin/python benchmarks/bench_streaming.py [--rounds 7] [--max-tokens 100]
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
from onetwo.backends.local import local_backend
from onetwo.builtins import llm

# One timed call: (seconds to the first piece of text, seconds to the end).
Timing = tuple[float, float]


def prompt(round_: int, variant: int) -> str:
    return f"Story {round_}.{variant} about a dragon and a knight: Once upon a time"


async def raw_stream(url: str, text: str, max_tokens: int) -> tuple[Timing, int]:
    client = openai.AsyncOpenAI(api_key="unused", base_url=url + "/v1", max_retries=0)
    began = time.perf_counter()
    first, tokens = 0.0, 0
    stream = await client.completions.create(
        model="smollm2",
        prompt=text,
        max_tokens=max_tokens,
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
    )
    async with stream:
        async for chunk in stream:
            if not first and chunk.choices and chunk.choices[0].text:
                first = time.perf_counter() - began
            if chunk.usage is not None:
                tokens = chunk.usage.completion_tokens
    total = time.perf_counter() - began
    await client.close()
    return (first, total), tokens


def onetwo_stream(text: str, max_tokens: int) -> Timing:
    began = time.perf_counter()
    first = 0.0
    with ot.stream_updates(llm.stream_text(text, max_tokens=max_tokens)) as updates:
        for update in updates:
            if not first and update.delta and update.value:
                first = time.perf_counter() - began
    return first, time.perf_counter() - began


def onetwo_generate(text: str, max_tokens: int) -> Timing:
    began = time.perf_counter()
    ot.run(llm.generate_text(text, max_tokens=max_tokens))
    total = time.perf_counter() - began
    return total, total  # nothing arrives before the end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--max-tokens", type=int, default=100)
    args = parser.parse_args()
    backend = local_backend(temperature=0.0)
    backend.register()
    url = backend.server.start()
    onetwo_stream(prompt(-1, 0), args.max_tokens)  # warm-up: the runtime, the client
    floor: list[Timing] = []
    streamed: list[Timing] = []
    generated: list[Timing] = []
    tokens: list[int] = []
    for r in range(args.rounds):
        timing, count = asyncio.run(raw_stream(url, prompt(r, 0), args.max_tokens))
        floor.append(timing)
        tokens.append(count)
        streamed.append(onetwo_stream(prompt(r, 1), args.max_tokens))
        generated.append(onetwo_generate(prompt(r, 2), args.max_tokens))

    def row(name: str, timings: list[Timing]) -> tuple[str, ...]:
        first = statistics.median(t[0] for t in timings)
        whole = statistics.median(t[1] for t in timings)
        share = statistics.median(t[0] / t[1] for t in timings)
        return (name, f"{first * 1000:.0f} ms", f"{whole * 1000:.0f} ms", f"{share:.1%}")

    print(
        f"{args.rounds} rounds, max_tokens={args.max_tokens}, completion tokens "
        f"(floor's usage) median {statistics.median(tokens):.0f} (min {min(tokens)})"
    )
    print(
        table(
            [
                ("variant", "first text (median)", "whole call (median)", "first / whole"),
                row("floor: raw openai client, stream=True", floor),
                row("ot.stream_updates(llm.stream_text)", streamed),
                row("ot.run(llm.generate_text), not streamed", generated),
            ]
        )
    )
    share = statistics.median(t[0] / t[1] for t in streamed)
    print(f"target: first text < 20% of the whole streamed call: {share:.1%}", end=" ")
    print("PASS" if share < 0.2 else "FAIL")


if __name__ == "__main__":
    main()
