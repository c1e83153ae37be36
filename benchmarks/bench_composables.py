"""Overhead of composable prompts: 50 model calls through a composition vs. direct awaits.

The same strategy three ways, on the fake backend (which answers at once, so what is
measured is onetwo's own cost), each call seeing everything before it:

* direct: a loop that extends a string and awaits ``llm.generate_text(text)`` 50 times;
* ``+``: ``"Start." + "\\nStep 0:" + c.generate_text() + ...`` (built inside the timing);
* ``c.j``: one jinja2 template with a ``{% for %}`` loop around ``generate_text()``.

Every run of every variant sends the same 50 prompts (checked). The overhead per call is
(median of the variant - median of direct) / 50; the target is at most 1 ms per call.

    .venv/bin/python benchmarks/bench_composables.py [--repeats 51] [--calls 50]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import composables as c
from onetwo.builtins import llm

TARGET_US = 1000.0


def direct(n: int) -> Callable[[], Awaitable[str]]:
    async def run() -> str:
        text = "Start."
        for i in range(n):
            text += f"\nStep {i}:"
            text += await llm.generate_text(text)
        return text

    return run


def plus(n: int) -> Callable[[], Awaitable[str]]:
    async def run() -> str:
        prompt: c.Composable | str = "Start."
        for i in range(n):
            prompt = prompt + f"\nStep {i}:" + c.generate_text()
        assert isinstance(prompt, c.Composable)
        return await prompt

    return run


def template(n: int) -> Callable[[], Awaitable[str]]:
    prompt = c.j("Start.{% for i in range(n) %}\nStep {{ i }}:{{ generate_text() }}{% endfor %}")

    async def run() -> str:
        return await prompt(n=n)

    return run


@ot.make_executable
async def measure(repeats: int, n: int) -> dict[str, list[float]]:
    variants = {"direct": direct(n), "+": plus(n), "c.j": template(n)}
    times: dict[str, list[float]] = {name: [] for name in variants}
    expected = await variants["direct"]()  # warm-up, and the text every variant must give
    for _ in range(repeats):  # interleaved, so all variants see the same machine noise
        for name, run in variants.items():
            start = time.perf_counter()
            text = await run()
            times[name].append(time.perf_counter() - start)
            assert text == expected, name
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=51)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()

    backend = FakeBackend(default_reply=" ok")
    backend.register()
    times = ot.run(measure(args.repeats, args.calls))
    assert len(backend.calls) == args.calls * (3 * args.repeats + 1)
    medians = {name: statistics.median(values) for name, values in times.items()}
    base = medians["direct"]
    rows = [("variant", "ms/run", "µs/call", "overhead µs/call", "overhead / 1 ms target")]
    for name, median in medians.items():
        per_call = median / args.calls * 1e6
        extra = (median - base) / args.calls * 1e6
        rows.append(
            (
                name,
                f"{median * 1e3:.2f}",
                f"{per_call:.1f}",
                f"{extra:.1f}",
                f"{extra / TARGET_US:.3f}",
            )
        )
    print(table(rows))
    print(f"\n{args.calls} calls per run; medians of {args.repeats} interleaved runs")


if __name__ == "__main__":
    main()
