"""W4: replaying cached calls, against the raw diskcache floor, each in a fresh process.

For each run: one process fills a fresh cache folder with N distinct
``llm.generate_text`` calls (``ot.par_iter`` over ``FakeBackend(cache=folder)``); a
fresh process replays them in ``replay`` mode (so a miss would raise) and checks that
the backend executed nothing and the outputs match. The floor, ``diskcache.Cache.get``
over N keys of the same shape in a plain diskcache folder, is timed in that same fresh
process, interleaved with the replay in slices of 500 (so both see the same machine
noise; each key and call is read once). For scale, a fresh process runs the same N
calls without any cache (the dispatch cost alone). Prints the median of the runs per
call, and replay / floor.

Size on disk: after the fill process has closed its cache, the folder's files (database,
WAL) against the raw JSON of what it holds: per entry, the compact UTF-8 JSON of its key
(the call: backend identity, method, arguments, as ``CallCache.records()`` gives it) and
of each of its values.

Usage:
    .venv/bin/python benchmarks/bench_cache.py [--calls 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any


def _prompts(n: int) -> list[str]:
    return [f"Question {i}: what is {i} + {i}?\nAnswer:" for i in range(n)]


def _reply(prompt: str, **_: object) -> str:
    return f" the answer to «{prompt[:14]}» is {len(prompt)}"


def child_fill(folder: str, n: int) -> float:
    from onetwo import ot
    from onetwo.backends.fake import FakeBackend
    from onetwo.builtins import llm

    backend = FakeBackend(regex_replies=[(".", _reply)], cache=folder)
    backend.register()
    start = time.perf_counter()
    ot.run(ot.par_iter([llm.generate_text(p) for p in _prompts(n)]))
    elapsed = time.perf_counter() - start
    assert len(backend.calls) == n, len(backend.calls)
    assert backend.cache is not None
    backend.cache.close()
    return elapsed


def child_replay(folder: str, n: int) -> dict[str, float]:
    """Replay in this fresh process, interleaved with the raw floor so both see one noise.

    The N calls run in slices of 500 inside one ``ot.run``; before each slice, 500 raw
    ``diskcache.get`` of other keys are timed. Each call and each key is read once.
    """
    import diskcache

    from onetwo import ot
    from onetwo.backends.fake import FakeBackend
    from onetwo.builtins import llm
    from onetwo.core.caching import CallCache

    raw = diskcache.Cache(folder + "-raw")
    raw_keys = [_raw_key(p) for p in _prompts(n)]
    backend = FakeBackend(default_reply="never used", cache=CallCache(folder, mode="replay"))
    backend.register()
    prompts = _prompts(n)
    step = 500
    slices = [
        (raw_keys[i : i + step], ot.par_iter([llm.generate_text(p) for p in prompts[i : i + step]]))
        for i in range(0, n, step)
    ]
    spent = {"replay": 0.0, "floor": 0.0}

    @ot.make_executable
    async def interleaved() -> list[str]:
        results: list[str] = []
        for keys, executable in slices:
            start = time.perf_counter()
            for k in keys:
                raw.get(k)
            middle = time.perf_counter()
            results += await executable
            spent["floor"] += middle - start
            spent["replay"] += time.perf_counter() - middle
        return results

    results = ot.run(interleaved())
    assert not backend.calls, f"{len(backend.calls)} calls reached the backend"
    assert results == [_reply(p) for p in prompts], "replay differs from the fill"
    return spent


def child_size(folder: str, n: int) -> float:
    """Folder bytes / raw JSON bytes of the keys and values it holds (public API only)."""
    import os

    from onetwo.core.caching import CallCache

    on_disk = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    with CallCache(folder, mode="replay") as cache:
        records = list(cache.records())
    assert len(records) == n, len(records)

    def size(obj: Any) -> int:
        return len(json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode())

    raw = sum(size(r["call"]) + sum(size(s) for s in r["samples"]) for r in records)
    return on_disk / raw


def child_nocache(folder: str, n: int) -> float:
    from onetwo import ot
    from onetwo.backends.fake import FakeBackend
    from onetwo.builtins import llm

    FakeBackend(default_reply="x").register()
    executable = ot.par_iter([llm.generate_text(p) for p in _prompts(n)])
    start = time.perf_counter()
    ot.run(executable)
    return time.perf_counter() - start


def child_floor_fill(folder: str, n: int) -> float:
    import diskcache

    cache = diskcache.Cache(folder)
    with cache.transact():
        for p in _prompts(n):
            cache.set(_raw_key(p), "s" + _reply(p))
    cache.close()
    return 0.0


def child_floor(folder: str, n: int) -> float:
    import diskcache

    cache = diskcache.Cache(folder)
    keys = [_raw_key(p) for p in _prompts(n)]
    start = time.perf_counter()
    for k in keys:
        cache.get(k)
    elapsed = time.perf_counter() - start
    cache.close()
    return elapsed


def _raw_key(prompt: str) -> str:
    return "v:" + hashlib.sha256(prompt.encode()).hexdigest() + ":"


CHILDREN = {
    "fill": child_fill,
    "replay": child_replay,
    "size": child_size,
    "nocache": child_nocache,
    "floor_fill": child_floor_fill,
}


def _spawn(role: str, folder: str, n: int) -> Any:
    out = subprocess.run(
        [sys.executable, __file__, "--child", role, folder, str(n)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", nargs=3, metavar=("ROLE", "FOLDER", "N"))
    args = parser.parse_args()
    if args.child:
        role, folder, n = args.child
        print(json.dumps(CHILDREN[role](folder, int(n))))
        return

    n = args.calls
    per_call: dict[str, list[float]] = {"fill": [], "replay": [], "floor": [], "nocache": []}
    size_ratios: list[float] = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            folder = f"{tmp}/cache"
            per_call["fill"].append(_spawn("fill", folder, n) / n * 1e6)
            size_ratios.append(_spawn("size", folder, n))
            _spawn("floor_fill", folder + "-raw", n)
            replay = _spawn("replay", folder, n)
            per_call["replay"].append(replay["replay"] / n * 1e6)
            per_call["floor"].append(replay["floor"] / n * 1e6)
            per_call["nocache"].append(_spawn("nocache", folder, n) / n * 1e6)
        print(
            f"run {run + 1}: "
            + ", ".join(f"{k} {v[-1]:.1f}" for k, v in per_call.items())
            + f" µs/call; replay/floor {per_call['replay'][-1] / per_call['floor'][-1]:.2f}",
            flush=True,
        )
    med = {k: statistics.median(v) for k, v in per_call.items()}
    ratios = [r / f for r, f in zip(per_call["replay"], per_call["floor"])]
    print(f"\nmedian of {args.runs} runs, {n} distinct calls, µs per call:")
    print(f"  fill (compute + write through)   {med['fill']:8.1f}")
    print(f"  replay (fresh process, replay)   {med['replay']:8.1f}")
    print(f"  raw diskcache get (floor)        {med['floor']:8.1f}")
    print(f"  same calls, no cache (dispatch)  {med['nocache']:8.1f}")
    print(f"  replay / floor: median of ratios {statistics.median(ratios):.2f} (target <= 2)")
    print(f"  ratios per run: {sorted(round(r, 2) for r in ratios)}")
    print(
        f"  folder size / raw JSON of keys+values, {n:,} entries: "
        f"{statistics.median(size_ratios):.2f}x (target <= 2); per run "
        f"{sorted(round(r, 2) for r in size_ratios)}"
    )


if __name__ == "__main__":
    main()
