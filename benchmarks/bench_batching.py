"""W3: automatic request batching, against a plain-asyncio micro-batcher floor.

2,048 calls, batch size 32, each batch costs 20 ms whatever its size, two settings:

* (a) one batch at a time: ideal 64 x 20 ms = 1.28 s; target <= 1.10x ideal;
* (b) ``max_concurrent_batches=8``: ideal 8 x 20 ms = 160 ms; target <= 1.25x ideal;

and a mean batch size >= 31 in both. Variants, each timed ``--repeats`` times, interleaved (median):

* ``floor``: a minimal asyncio micro-batcher (requests coalesced per loop tick with
  ``call_soon``, batches run under a semaphore), driven by ``asyncio.gather``;
* ``batch_function async``: an async batch function (``asyncio.sleep(0.02)``), gather;
* ``batch_function sync``: a sync batch function (``time.sleep(0.02)``, thread pool), gather;
* ``ot.par_iter + FakeBackend``: ``ot.run(ot.par_iter(...))`` of ``llm.generate_text`` on
  ``FakeBackend(batch_size=32, latency=0.02)``, with ``chunk_size`` 100 (the default) in
  (a) and 512 in (b): keeping 8 batches of 32 busy needs 256 calls in flight, plus as
  many queued so that a full batch is ready whenever one finishes.

    .venv/bin/python benchmarks/bench_batching.py [--repeats 7] [--calls 2048]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core.batching import BatchStats, batch_function

BATCH_SIZE = 32
COST = 0.02  # seconds per batch, whatever its size

# One run: (wall seconds, mean batch size, max batches in flight).
Run = tuple[float, float, int]


class FloorBatcher:
    """The floor: coalesce the requests of one loop tick, run batches under a semaphore."""

    def __init__(self, fn: Callable[[list[Any]], Any], batch_size: int, concurrency: int):
        self.fn = fn
        self.batch_size = batch_size
        self.slots = asyncio.Semaphore(concurrency)
        self.pending: list[tuple[Any, asyncio.Future[Any]]] = []
        self.scheduled = False
        self.tasks: set[asyncio.Task[None]] = set()
        self.sizes: list[int] = []
        self.in_flight = self.max_in_flight = 0

    async def __call__(self, request: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.pending.append((request, future))
        if len(self.pending) >= self.batch_size:
            self._flush()
        elif not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return await future

    def _flush(self) -> None:
        self.scheduled = False
        while self.pending:
            batch, self.pending = self.pending[: self.batch_size], self.pending[self.batch_size :]
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _run(self, batch: list[tuple[Any, asyncio.Future[Any]]]) -> None:
        async with self.slots:
            self.sizes.append(len(batch))
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            results = await self.fn([r for r, _ in batch])
            self.in_flight -= 1
        for (_, future), result in zip(batch, results):
            future.set_result(result)


async def async_batch(requests: list[Any]) -> list[Any]:
    await asyncio.sleep(COST)
    return requests


def sync_batch(requests: list[Any]) -> list[Any]:
    time.sleep(COST)
    return requests


def run_floor(calls: int, concurrency: int) -> Run:
    async def main() -> FloorBatcher:
        batcher = FloorBatcher(async_batch, BATCH_SIZE, concurrency)
        results = await asyncio.gather(*(batcher(i) for i in range(calls)))
        assert results == list(range(calls))
        return batcher

    start = time.perf_counter()
    batcher = asyncio.run(main())
    wall = time.perf_counter() - start
    return wall, statistics.mean(batcher.sizes), batcher.max_in_flight


def run_batch_function(fn: Callable[[list[Any]], Any], calls: int, concurrency: int) -> Run:
    batched = batch_function(batch_size=BATCH_SIZE, max_concurrent_batches=concurrency)(fn)

    async def main() -> BatchStats:
        results = await asyncio.gather(*(batched(i) for i in range(calls)))
        assert results == list(range(calls))
        return batched.stats()

    start = time.perf_counter()
    stats = asyncio.run(main())
    wall = time.perf_counter() - start
    return wall, stats.mean_batch_size, stats.max_in_flight


def run_par_iter(calls: int, concurrency: int) -> Run:
    backend = FakeBackend(
        default_reply="ok", latency=COST, batch_size=BATCH_SIZE, max_concurrent_batches=concurrency
    )
    backend.register()
    # Enough calls in flight that a full batch waits whenever a slot frees.
    chunk_size = 100 if concurrency == 1 else 2 * BATCH_SIZE * concurrency
    prompts = [f"question {i}" for i in range(calls)]
    start = time.perf_counter()
    results = ot.run(ot.par_iter((llm.generate_text(p) for p in prompts), chunk_size=chunk_size))
    wall = time.perf_counter() - start
    assert results == ["ok"] * calls
    stats = backend._generate_batch.stats()
    return wall, stats.mean_batch_size, stats.max_in_flight


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per variant")
    parser.add_argument("--calls", type=int, default=2048, help="calls per run")
    args = parser.parse_args()

    settings = [("(a) 1 batch at a time", 1, 1.10), ("(b) 8 concurrent batches", 8, 1.25)]
    variants: list[tuple[str, Callable[[int, int], Run]]] = [
        ("floor: asyncio micro-batcher", run_floor),
        ("batch_function async", lambda n, c: run_batch_function(async_batch, n, c)),
        ("batch_function sync (threads)", lambda n, c: run_batch_function(sync_batch, n, c)),
        ("ot.par_iter + FakeBackend", run_par_iter),
    ]
    rows = [
        ("setting", "variant", "wall (median)", "x ideal", "x floor", "mean batch", "max in flight")
    ]
    failures = []
    spread = []
    for setting, concurrency, target in settings:
        batches = -(-args.calls // BATCH_SIZE)
        ideal = -(-batches // concurrency) * COST
        # Interleaved (each repetition runs every variant once), so that a noisy moment
        # on the machine hits all variants alike.
        runs: dict[str, list[Run]] = {name: [] for name, _ in variants}
        for _ in range(args.repeats):
            for name, run in variants:
                runs[name].append(run(args.calls, concurrency))
        floor_wall = 0.0
        for name, _ in variants:
            wall = statistics.median(r[0] for r in runs[name])
            mean = min(r[1] for r in runs[name])
            in_flight = max(r[2] for r in runs[name])
            ratio = wall / ideal
            floor_wall = floor_wall if name != variants[0][0] else wall
            spread.append(f"{setting} / {name}: {sorted(round(r[0] * 1e3) for r in runs[name])}")
            rows.append(
                (
                    setting,
                    name,
                    f"{wall * 1e3:.1f} ms",
                    f"{ratio:.3f}",
                    f"{wall / floor_wall:.3f}",
                    f"{mean:.2f}",
                    str(in_flight),
                )
            )
            if not name.startswith("floor") and (ratio > target or mean < BATCH_SIZE - 1):
                failures.append(f"{setting} / {name}: {ratio:.3f}x ideal, mean batch {mean:.2f}")
    print(f"{args.calls} calls, batch size {BATCH_SIZE}, {COST * 1e3:.0f} ms per batch, ", end="")
    print(f"median of {args.repeats} runs; 'mean batch' is the worst run's.")
    print(table(rows))
    print("\nruns (ms):\n" + "\n".join(spread))
    if failures:
        print("MISSED TARGETS (a) <= 1.10x, (b) <= 1.25x, mean batch >= 31:")
        print("\n".join(failures))
        sys.exit(1)
    print("All targets met: (a) <= 1.10x ideal, (b) <= 1.25x ideal, mean batch >= 31.")


if __name__ == "__main__":
    main()
