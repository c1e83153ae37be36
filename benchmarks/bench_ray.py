"""W-ray: ``distributed.evaluate`` on a real local Ray cluster, against one process.

Three measurements, each next to its floor from the same run:

1. **CPU-bound speed-up.** N examples whose strategy does 20 ms of Python CPU work
   (a fixed loop, calibrated once to 20 ms here) plus one fake model call, through the
   driver's cache folder: 1 Ray worker, then 2 (the floor is the 1-worker run; target
   >= 1.7x on 2 cores). ``ot.evaluate`` in this process is shown for scale.
2. **Per-example overhead, I/O-bound.** Examples that only wait on one fake model call
   (``latency`` 50 ms), 100 in flight per process: ``ot.evaluate`` with a cache folder
   (the floor) against ``distributed.evaluate`` with 1 worker and 100 in flight. The
   overhead is the *marginal* cost: (wall(N) - wall(N/4)) / (3N/4) of each path, the
   difference of the two (so the fixed start, reported apart, cancels; target <= 2 ms),
   each run interleaved with its floor; medians of ``--repeats`` runs.
3. **Cache round trip.** One request from this process to the run's experiment server
   (``ping``: Ray's floor), one ``resolve`` of a call, and the cost per call inside the
   server (resolve + commit on its disk store, no Ray): what bounds a cluster of 100.

Usage:
    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_ray.py [--examples 2000] [--skip-cpu]
        [--only round-trip|io|cpu] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ray
from _common import table

from onetwo import distributed, ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core.caching import CallCache

LOOPS = 0  # iterations of _burn that take 20 ms here (calibrated in main)


def _burn(loops: int) -> int:
    total = 0
    for i in range(loops):
        total += i * i % 7
    return total


@ot.make_executable
async def cpu_strategy(question: str) -> str:
    _burn(LOOPS)
    return await llm.generate_text(question)


def fake(latency: float) -> Any:
    def setup(cache: CallCache | None) -> FakeBackend:
        return FakeBackend(default_reply="ok", latency=latency, cache=cache)

    return setup


def _examples(n: int, tag: str) -> list[dict[str, str]]:
    return [{"question": f"{tag} {i}", "answer": "ok"} for i in range(n)]


def _local(strategy: Any, n: int, latency: float, tag: str) -> float:
    with tempfile.TemporaryDirectory() as folder, ot.RegistryContext():
        fake(latency)(CallCache(folder)).register()
        start = time.perf_counter()
        summary = ot.evaluate(strategy, _examples(n, tag), progress=False, chunk_size=100)
        wall = time.perf_counter() - start
    assert not summary.errors, summary.errors[:1]
    return wall


def _cluster(strategy: Any, n: int, latency: float, workers: int, tag: str) -> float:
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        summary = distributed.evaluate(
            strategy,
            _examples(n, tag),
            backend=fake(latency),
            cache=folder,
            cluster=distributed.RayCluster(num_workers=workers),
            progress=False,
            concurrency=100,
        )
        wall = time.perf_counter() - start
    assert not summary.errors, summary.errors[:1]
    assert sum(w.get("model_calls", 0) for w in summary.workers.values()) == n
    return wall


def _calibrate() -> int:
    loops = 100_000
    while True:
        start = time.perf_counter()
        _burn(loops)
        took = time.perf_counter() - start
        if took > 0.05:
            return max(1, round(loops * 0.020 / took))
        loops *= 2


def _plain(n: int, tasks: int) -> float:
    """Wall seconds of plain Ray tasks burning ``n`` x 20 ms between them: the machine."""
    start = time.perf_counter()
    ray.get([_burn_task.remote(LOOPS * n // tasks) for _ in range(tasks)])
    return time.perf_counter() - start


@ray.remote
def _burn_task(loops: int) -> int:
    return _burn(loops)


def cpu_rows(n: int) -> list[tuple[str, ...]]:
    _cluster(cpu_strategy, 8, 0.0, 2, "warm")  # start both worker processes
    plain1, plain2 = _plain(n, 1), _plain(n, 2)
    one = _cluster(cpu_strategy, n, 0.0, 1, "cpu1")
    two = _cluster(cpu_strategy, n, 0.0, 2, "cpu2")
    local = _local(cpu_strategy, n, 0.0, "cpu0")
    return [
        (f"CPU-bound, {n} examples x (20 ms + 1 call)", "wall s", "speed-up 2 vs 1"),
        (
            "plain Ray tasks, no onetwo, 1 then 2 (floor)",
            f"{plain1:.2f} / {plain2:.2f}",
            f"{plain1 / plain2:.2f}x",
        ),
        ("distributed.evaluate, 1 then 2 workers", f"{one:.2f} / {two:.2f}", f"{one / two:.2f}x"),
        ("ot.evaluate, one process (scale)", f"{local:.2f}", ""),
    ]


async def io_strategy(question: str) -> Any:
    return await llm.generate_text(question)


def io_rows(n: int, repeats: int) -> list[tuple[str, ...]]:
    small = n // 4
    _cluster(io_strategy, 8, 0.05, 1, "warm")
    local: dict[int, list[float]] = {small: [], n: []}
    dist: dict[int, list[float]] = {small: [], n: []}
    overheads = []
    for r in range(repeats):  # interleaved: the floor and the path see the same machine
        for m in (small, n):
            local[m].append(_local(io_strategy, m, 0.05, f"l{r}.{m}"))
            dist[m].append(_cluster(io_strategy, m, 0.05, 1, f"d{r}.{m}"))
        overheads.append(_margin(dist, -1, n) - _margin(local, -1, n))
    ms = statistics.median
    margin_local = ms(_margin(local, r, n) for r in range(repeats))
    margin_dist = ms(_margin(dist, r, n) for r in range(repeats))
    fixed = ms(dist[small]) - small * margin_dist / 1e3
    return [
        (
            f"I/O-bound, 50 ms call, 100 in flight, median of {repeats}",
            f"wall s, {n}",
            f"wall s, {small}",
            "ms/example",
        ),
        (
            "ot.evaluate + cache (floor)",
            f"{ms(local[n]):.2f}",
            f"{ms(local[small]):.2f}",
            f"{margin_local:.3f}",
        ),
        (
            "distributed, 1 worker",
            f"{ms(dist[n]):.2f}",
            f"{ms(dist[small]):.2f}",
            f"{margin_dist:.3f}",
        ),
        (
            "overhead per example (each run: " + " ".join(f"{o:.2f}" for o in overheads) + ")",
            "",
            "",
            f"{ms(overheads):.3f}",
        ),
        ("fixed start of a distributed run (s)", "", "", f"{fixed:.2f}"),
    ]


def _margin(walls: dict[int, list[float]], run: int, n: int) -> float:
    """The marginal ms per example of one run: (wall(n) - wall(n/4)) / (3n/4)."""
    return (walls[n][run] - walls[n // 4][run]) / (n - n // 4) * 1e3


def round_trip_rows(calls: int) -> list[tuple[str, ...]]:
    from onetwo.core.cache_record import Key, encode
    from onetwo.core.cache_store import DiskStore
    from onetwo.distributed.cache_service import CacheService
    from onetwo.distributed.leases import Holder
    from onetwo.distributed.server import start_server

    holder = Holder(ray.get_runtime_context().get_node_id(), os.getpid())
    call = '{"backend":{"provider":"fake","model":"fake"},"method":"m","params":{"p":%d}}'
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(folder, 0)
        pings, resolves = [], []
        for i in range(calls):
            start = time.perf_counter()
            ray.get(server.ping.remote())
            pings.append(time.perf_counter() - start)
            start = time.perf_counter()
            ray.get(server.resolve.remote([(Key(f"{i:032x}"), "", False)], holder))
            resolves.append(time.perf_counter() - start)
        batch = [(Key(f"b{i:031x}"), "", False) for i in range(256)]
        start = time.perf_counter()
        for _ in range(20):
            ray.get(server.resolve.remote(batch, holder))
        batched = (time.perf_counter() - start) / (20 * 256)
        ray.kill(server)
    with tempfile.TemporaryDirectory() as folder:
        service = CacheService(DiskStore(folder), node=holder.node)
        start = time.perf_counter()
        for i in range(calls):
            key = Key(f"{i:032x}")
            service.resolve([(key, "", False)], holder)
            service.commit([(key, "", call % i, encode("ok"), False)], holder)
        inside = (time.perf_counter() - start) / calls
        service.store.close()
    ms = statistics.median
    return [
        ("cache round trip to the driver", "per call, ms"),
        ("Ray actor ping (floor)", f"{ms(pings) * 1e3:.3f}"),
        ("resolve, one request per RPC", f"{ms(resolves) * 1e3:.3f}"),
        ("resolve, 256 requests per RPC (per request)", f"{batched * 1e3:.3f}"),
        ("server CPU per model call (resolve + commit, disk)", f"{inside * 1e3:.3f}"),
    ]


def main() -> None:
    global LOOPS
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=2000)
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument(
        "--only", choices=["round-trip", "io", "cpu"], help="run only this measurement"
    )
    parser.add_argument("--repeats", type=int, default=3, help="I/O-bound runs (median)")
    args = parser.parse_args()
    LOOPS = _calibrate()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    print(
        f"python {sys.version.split()[0]}, ray {ray.__version__}, {os.cpu_count()} cores, "
        f"load {os.getloadavg()[0]:.1f}"
    )
    if args.only in (None, "round-trip"):
        print(table(round_trip_rows(500)) + "\n")
    if args.only in (None, "io"):
        print(table(io_rows(args.examples, args.repeats)) + "\n")
    if args.only == "cpu" or (args.only is None and not args.skip_cpu):
        print(table(cpu_rows(args.examples)))
    ray.shutdown()


if __name__ == "__main__":
    main()
