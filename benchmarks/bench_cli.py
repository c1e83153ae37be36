"""The command line's costs: start-up to the first model call, and per-example overhead.

Start-up: seconds from launching ``python -m onetwo.run`` (a fresh process, fake backend)
to its strategy's first model call, next to the floor measured the same way: a fresh
``python -c`` that imports onetwo and makes one fake call.

Per example: the command line in-process (``cli.execute``: reading the dataset,
results.jsonl and traces.jsonl written as each example finishes, summary.json and
report.html) next to its floor, ``ot.evaluate`` in-process on the same examples (already
in memory), the same strategy (``solve``: one ``llm.generate_text`` call) and metric, the
same examples in flight, no cache on either side, tracing on. Three models: the fake
answering at once (16 in flight, ``--examples``), after 1 ms (16 in flight, the same
count) and after 50 ms (100 in flight, ``--slow_examples``). Each is run at two sizes, the
full count and a fifth of it, all four runs alternating in each repeat (one warm-up
first), so every figure sees the same noise. Reported: the whole run divided by the
examples (what a user waits for, start and end included), and the *marginal* cost of an
example, the slope between the two sizes, (T(n) - T(n/5)) / (4n/5), with the fixed cost
(loading the strategy, the fingerprint, the report of the first examples) shown apart
(T(n) - n × slope); the overhead column is the median of each repeat's own CLI - floor
difference. Wall time, and the process's CPU time (all threads), steadier on a shared
machine. Last, the floor of what the command line must add per example: encoding
one ``results.jsonl`` row (the rows of the last run, read back) and writing it (one
system call), measured in the same run.

    .venv/bin/python benchmarks/bench_cli.py [--repeats 3] [--examples 10000]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import statistics

from _common import ROOT, interleaved, table

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.run import cli, results
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


Times = dict[str, list[float]]  # label -> seconds of each run, in order


def _timed(times: Times, label: str, body: Callable[[], object]) -> None:
    """Run ``body``: its wall seconds into ``times[label]``, its CPU seconds (all threads)
    into ``times[label + " cpu"]``."""
    start, cpu = time.perf_counter(), time.process_time()
    body()
    times.setdefault(label, []).append(time.perf_counter() - start)
    times.setdefault(label + " cpu", []).append(time.process_time() - cpu)


def evaluate_once(
    strategy: Any, examples: list[dict[str, str]], latency: float, in_flight: int
) -> None:
    """The floor: ``ot.evaluate`` in-process on ``examples``, no cache, tracing on."""
    FakeBackend(default_reply="4", latency=latency).register()
    metric = {"exact": lambda target, prediction: prediction == target}
    summary = ot.evaluate(
        strategy, examples, metric_functions=metric, progress=False, chunk_size=in_flight
    )
    assert summary.metrics == {"exact": 1.0} and len(summary.results) == len(examples)


def cli_once(folder: Path, dataset: str, latency: float, in_flight: int, out: str) -> None:
    """The command line in-process on ``dataset``: the same examples, model and parallelism."""
    config = RunConfig(
        strategy=str(folder / "solve.py") + ":solve",
        dataset=str(folder / dataset),
        backends=("fake",),
        backend_args=(f"default_reply=4,latency={latency}",),
        parallelism=in_flight,
        metrics=(str(folder / "solve.py") + ":exact",),
        cache_mode="off",
        output_dir=str(folder / out),
        progress=False,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.execute(config) == 0


def per_example(
    folder: Path,
    strategy: Any,
    examples: list[dict[str, str]],
    latency: float,
    in_flight: int,
    repeats: int,
) -> tuple[Times, str]:
    """Floor and CLI at ``len(examples)`` and a fifth of it, alternating; the last output."""
    n = len(examples)
    small = examples[: n // 5]
    for name, part in (("big", examples), ("small", small)):
        lines = "".join(json.dumps(e) + "\n" for e in part)
        (folder / f"{name}.{latency}.jsonl").write_text(lines)
    times: Times = {}
    outputs = iter(range(4 * (repeats + 1)))
    out = ""
    for repeat in range(repeats + 1):  # the first: a warm-up, not counted
        for size, part in (("big", examples), ("small", small)):
            out = f"out{latency}.{next(outputs)}"
            label = (size if repeat else "warm-up") + " "
            floor = functools.partial(evaluate_once, strategy, part, latency, in_flight)
            _timed(times, label + "floor", floor)
            dataset = f"{size}.{latency}.jsonl"
            _timed(
                times,
                label + "cli",
                functools.partial(cli_once, folder, dataset, latency, in_flight, out),
            )
    return times, out


def encoding_floor(rows_path: Path, repeats: int) -> tuple[float, float]:
    """µs to encode one results.jsonl row as the CLI does, and to encode and write it."""
    rows = results.read_rows(str(rows_path))
    with tempfile.TemporaryFile(buffering=0) as f:

        def encode() -> float:
            start = time.process_time()
            for row in rows:
                results.encode_row(row)
            return (time.process_time() - start) / len(rows) * 1e6

        def encode_and_write() -> float:
            start = time.process_time()
            for row in rows:
                f.write(results.encode_row(row))
            return (time.process_time() - start) / len(rows) * 1e6

        encoded, written = interleaved(encode, encode_and_write, repeats)
    return statistics.median(encoded), statistics.median(written)


def _rows(label: str, times: Times, n: int) -> list[tuple[str, ...]]:
    """Whole-run, marginal and fixed figures, CLI next to floor, wall and CPU: medians over
    the repeats; the overhead is the median of each repeat's own difference (its four runs
    ran back to back), which drift on a shared machine does not enter."""
    rows: list[tuple[str, ...]] = []
    for kind, suffix in (("wall", ""), ("CPU", " cpu")):
        figures: dict[str, dict[str, list[float]]] = {"whole": {}, "slope": {}, "fixed": {}}
        for who in ("cli", "floor"):
            pairs = list(zip(times[f"big {who}{suffix}"], times[f"small {who}{suffix}"]))
            slopes = [(big - small) / (n - n // 5) for big, small in pairs]
            figures["whole"][who] = [big / n * 1e6 for big, _ in pairs]
            figures["slope"][who] = [slope * 1e6 for slope in slopes]
            figures["fixed"][who] = [
                (big - slope * n) * 1e3 for (big, _), slope in zip(pairs, slopes)
            ]
        for measure, key, unit in (
            (f"{label}: whole run / examples, {kind} µs", "whole", "%"),
            (f"  marginal per example (slope n/5 → n), {kind} µs", "slope", "%"),
            (f"  fixed per run (start and end), {kind} ms", "fixed", "ms"),
        ):
            mine, base = figures[key]["cli"], figures[key]["floor"]
            diff = statistics.median(m - b for m, b in zip(mine, base))
            floor = statistics.median(base)
            extra = f"{diff / floor:+.1%}" if unit == "%" else f"{diff:+.0f} ms"
            rows.append((measure, f"{statistics.median(mine):.1f}", f"{floor:.1f}", extra))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--slow_examples", type=int, default=2_000)
    args = parser.parse_args()
    n, repeats = args.examples, args.repeats
    examples = [{"id": f"q{i}", "question": f"{i}+{i}=", "answer": "4"} for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "solve.py").write_text(STRATEGY)
        (folder / "one.jsonl").write_text(json.dumps(examples[0]) + "\n")
        cli_start, floor_start = startup(folder, repeats)
        # The same strategy everywhere: the one the command line loads from solve.py.
        strategy = load_function(str(folder / "solve.py") + ":solve", "--strategy").function
        slow = examples[: args.slow_examples]
        workloads = [
            (f"fake at once, 16 in flight, {n} examples", examples, 0.0, 16),
            (f"1 ms model, 16 in flight, {n} examples", examples, 0.001, 16),
            (f"50 ms model, 100 in flight, {len(slow)} examples", slow, 0.05, 100),
        ]
        measured = []
        for label, part, latency, in_flight in workloads:
            times, out = per_example(folder, strategy, part, latency, in_flight, repeats)
            measured.append((label, times, len(part)))
        encoded, written = encoding_floor(folder / out / results.RESULTS, repeats)
    rows: list[tuple[str, ...]] = [
        ("measure", "CLI", "floor", "overhead"),
        (
            "start-up to first call (s)",
            f"{cli_start:.3f}",
            f"{floor_start:.3f}",
            f"{cli_start - floor_start:+.3f} s",
        ),
    ]
    for label, times, count in measured:
        rows += _rows(label, times, count)
    fast = statistics.median(measured[0][1]["big floor cpu"]) / n * 1e6
    encoding = [
        ("one results.jsonl row: encode, CPU µs", encoded),
        ("  encode and write (one system call), CPU µs", written),
    ]
    for measure, value in encoding:
        rows.append((measure, f"{value:.2f}", f"{fast:.1f}", f"{value / fast:.1%} of the floor"))
    print(table(rows))


if __name__ == "__main__":
    main()
