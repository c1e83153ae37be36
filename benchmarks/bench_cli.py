"""The command line's costs: start-up to the first model call, and per-example overhead.

Start-up: seconds from launching ``python -m onetwo.run`` (a fresh process, fake backend)
to its strategy's first model call, next to the floor measured the same way: a fresh
``python -c`` that imports onetwo and makes one fake call.

Per example: 10,000 examples on the fake backend (no latency, no cache), one strategy
(``solve``: one ``llm.generate_text`` call) and one metric, microseconds per example for
``ot.evaluate`` on the whole list (the floor), for the mechanism the command line runs
them through (the same ``ot.evaluate`` with a ``callback=`` that sees each example as it
ends), and for the command line itself in-process (``cli.execute``: loading the dataset,
results.jsonl and traces.jsonl written as each example finishes, summary.json and
report.html). The overhead is relative to ``ot.evaluate``; each measure alternates with
its floor (``interleaved``), so both see the same noise; the process's CPU time (all
threads) is reported under the wall time, steadier on a shared machine. Last, the same
with a model that takes 50 ms a call and 100 examples in flight (2,000 examples), closer
to a real run.

    .venv/bin/python benchmarks/bench_cli.py [--repeats 3] [--examples 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import statistics

from _common import ROOT, interleaved, table

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.run import cli
from onetwo.run.flags import RunConfig
from onetwo.run.strategies import load_function

STRATEGY = """\
import os
import time

from onetwo import ot
from onetwo.builtins import llm

_first = os.environ.get("FIRST_CALL_FILE")


@ot.make_executable
async def solve(question):
    global _first
    if _first:
        with open(_first, "w") as f:
            f.write(repr(time.time()))
        _first = None
    return await llm.generate_text(question)


def exact(target, prediction):
    return prediction == target
"""

FLOOR = """\
import sys, time
from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
FakeBackend(default_reply="4").register()
@ot.make_executable
async def first():
    with open(sys.argv[1], "w") as f:
        f.write(repr(time.time()))
    return await llm.generate_text("q")
ot.run(first())
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def _time_to_first_call(command: list[str], folder: Path, marker: Path) -> float:
    marker.unlink(missing_ok=True)
    start = time.time()
    env = {**_env(), "FIRST_CALL_FILE": str(marker)}
    subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True)
    return float(marker.read_text()) - start


def startup(folder: Path, repeats: int) -> tuple[float, float]:
    marker = folder / "first_call"
    command = [
        sys.executable, "-m", "onetwo.run", "--strategy=solve.py:solve",
        "--dataset=one.jsonl", "--backend=fake", "--backend_args=default_reply=4",
        "--cache_mode=off", "--noprogress",
    ]  # fmt: skip
    outputs = iter(range(repeats + 1))

    def cli_run() -> float:
        return _time_to_first_call([*command, f"--output_dir=start{next(outputs)}"], folder, marker)

    floor_cmd = [sys.executable, "-c", FLOOR, str(marker)]
    floors, clis = interleaved(
        lambda: _time_to_first_call(floor_cmd, folder, marker), cli_run, repeats
    )
    return statistics.median(clis), statistics.median(floors)


CPU_US: dict[str, list[float]] = {}  # label -> CPU µs per example of each call, in order


@contextlib.contextmanager
def _timed(label: str, n: int, wall: list[float]) -> Iterator[None]:
    """Time the body: wall µs per example into ``wall``, CPU µs into ``CPU_US[label]``."""
    start, cpu = time.perf_counter(), time.process_time()
    yield
    wall.append((time.perf_counter() - start) / n * 1e6)
    CPU_US.setdefault(label, []).append((time.process_time() - cpu) / n * 1e6)


def evaluate_us(
    strategy: Any,
    examples: list[dict[str, str]],
    latency: float = 0.0,
    in_flight: int = 16,
    label: str = "floor",
) -> float:
    FakeBackend(default_reply="4", latency=latency).register()
    metric = {"exact": lambda target, prediction: prediction == target}
    wall: list[float] = []
    with _timed(label, len(examples), wall):
        summary = ot.evaluate(
            strategy, examples, metric_functions=metric, progress=False, chunk_size=in_flight
        )
    assert summary.metrics == {"exact": 1.0}
    return wall[0]


def callback_us(strategy: Any, examples: list[dict[str, str]]) -> float:
    """``ot.evaluate`` with a ``callback=`` that keeps each finished example's result."""
    FakeBackend(default_reply="4").register()
    metric = {"exact": lambda target, prediction: prediction == target}
    seen: list[object] = []
    wall: list[float] = []
    with _timed("callback", len(examples), wall):
        ot.evaluate(
            strategy,
            examples,
            metric_functions=metric,
            progress=False,
            chunk_size=16,
            callback=lambda index, example, summary: seen.append(summary.results[index]),
        )
    assert len(seen) == len(examples)
    return wall[0]


def cli_us(
    folder: Path,
    dataset: str,
    n: int,
    run: int,
    latency: float = 0.0,
    in_flight: int = 16,
    label: str = "cli",
) -> float:
    config = RunConfig(
        strategy=str(folder / "solve.py") + ":solve",
        dataset=str(folder / dataset),
        backends=("fake",),
        backend_args=(f"default_reply=4,latency={latency}",),
        parallelism=in_flight,
        metrics=(str(folder / "solve.py") + ":exact",),
        cache_mode="off",
        output_dir=str(folder / f"{dataset}.{latency}.{run}"),
        progress=False,
    )
    wall: list[float] = []
    with _timed(label, n, wall), contextlib.redirect_stdout(io.StringIO()):
        status = cli.execute(config)
    assert status == 0
    return wall[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--slow_examples", type=int, default=2_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--in_flight", type=int, default=100)
    args = parser.parse_args()
    n = args.examples
    examples = [{"id": f"q{i}", "question": f"{i}+{i}=", "answer": "4"} for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "solve.py").write_text(STRATEGY)
        (folder / "one.jsonl").write_text(json.dumps(examples[0]) + "\n")
        (folder / "many.jsonl").write_text("".join(json.dumps(e) + "\n" for e in examples))
        slow = examples[: args.slow_examples]
        (folder / "slow.jsonl").write_text("".join(json.dumps(e) + "\n" for e in slow))
        cli_start, floor_start = startup(folder, args.repeats)
        # The same strategy everywhere: the one the command line loads from solve.py.
        strategy = load_function(str(folder / "solve.py") + ":solve", "--strategy").function
        repeats, latency, k = args.repeats, args.latency, args.in_flight
        walls = {}
        walls["floor"], walls["callback"] = interleaved(
            lambda: evaluate_us(strategy, examples, label="floor"),
            lambda: callback_us(strategy, examples),
            repeats,
        )
        runs = iter(range(2 * repeats + 2))
        walls["floor2"], walls["cli"] = interleaved(
            lambda: evaluate_us(strategy, examples, label="floor2"),
            lambda: cli_us(folder, "many.jsonl", n, next(runs)),
            repeats,
        )
        walls["slow floor"], walls["slow cli"] = interleaved(
            lambda: evaluate_us(strategy, slow, latency, k, label="slow floor"),
            lambda: cli_us(folder, "slow.jsonl", len(slow), next(runs), latency, k, "slow cli"),
            repeats,
        )
    wall = {key: statistics.median(values) for key, values in walls.items()}
    cpu = {key: statistics.median(values[1:]) for key, values in CPU_US.items()}  # no warm-up

    def row(measure: str, ours: str, floor: str, times: dict[str, float]) -> tuple[str, ...]:
        mine, base = times[ours], times[floor]
        return measure, f"{mine:.1f}", f"{base:.1f}", f"{(mine - base) / base:+.0%}"

    slow_label = f"{len(slow)} examples, {latency * 1000:.0f} ms latency, {k} in flight"
    rows: list[tuple[str, ...]] = [
        ("measure", "median", "floor", "overhead"),
        (
            "start-up to first call (s)",
            f"{cli_start:.3f}",
            f"{floor_start:.3f}",
            f"{cli_start - floor_start:+.3f} s",
        ),
        row(
            f"per example, {n} examples: ot.evaluate with callback= (µs)", "callback", "floor", wall
        ),
        row("  the same, CPU µs (all threads)", "callback", "floor", cpu),
        row(f"per example, {n} examples: the CLI in-process (µs)", "cli", "floor2", wall),
        row("  the same, CPU µs (all threads)", "cli", "floor2", cpu),
        row(f"per example, {slow_label}: the CLI (µs)", "slow cli", "slow floor", wall),
        row("  the same, CPU µs (all threads)", "slow cli", "slow floor", cpu),
    ]
    print(table(rows))


if __name__ == "__main__":
    main()
