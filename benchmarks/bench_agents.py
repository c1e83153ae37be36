"""Agent overhead per step, and the sandbox's start-up and round trip.

A1: a ReAct run of ``--steps`` tool steps on the fake backend (an async tool, then the
same with a sync tool, which runs in a worker thread), milliseconds of agent overhead
per step: the run's time minus the floor, over the steps. The floor, measured in the
same run, makes the same model calls (the prompts the agent sent, recorded by the fake)
and calls the tool function directly, in a plain loop: the model and tool time a step
waits on. Target: under 1 ms per step.

A2: ``PythonSandbox`` start-up (spawn to ready: interpreter, limits, audit hook) next to
the floor of spawning ``python -I -S -c pass``; and one execution's round trip
(``run("1")``) next to a bare JSON-lines echo over a pipe to a child process.

    .venv/bin/python benchmarks/bench_agents.py [--repeats 7] [--steps 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import table

from onetwo import ot
from onetwo.agents import PythonSandbox, ReActAgent, Tool
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm


def _backend(steps: int) -> FakeBackend:
    def reply(prompt: str, **_: Any) -> str:
        done = prompt.rsplit("[Question]:", 1)[1].count("\n[Observe]:")
        return (
            f"[Thought]: step {done}\n[Act]: lookup('k{done}')" if done < steps else "[Finish]: 1"
        )

    backend = FakeBackend(default_reply=reply)
    backend.register()
    return backend


async def _lookup_async(key: str) -> str:
    return key.upper()


def _lookup_sync(key: str) -> str:
    return key.upper()


def agent_overhead(steps: int, sync_tool: bool) -> tuple[float, float]:
    """(agent ms per step, floor ms per step) for one run."""
    backend = _backend(steps)
    fn = _lookup_sync if sync_tool else _lookup_async
    agent = ReActAgent(tools=[Tool(fn, name="lookup")], max_steps=steps + 1)
    start = time.perf_counter()
    assert ot.run(agent("q")) == "1"
    elapsed = time.perf_counter() - start
    prompts = list(backend.prompts)

    @ot.make_executable
    async def floor() -> None:
        for i, prompt in enumerate(prompts):
            await llm.generate_text(prompt, stop=["[Observe]", "[Question]"], max_tokens=256)
            if i < steps:
                if sync_tool:
                    await asyncio.to_thread(_lookup_sync, f"k{i}")
                else:
                    await _lookup_async(f"k{i}")

    start = time.perf_counter()
    ot.run(floor())
    floor_elapsed = time.perf_counter() - start
    return elapsed / (steps + 1) * 1e3, floor_elapsed / (steps + 1) * 1e3


_ECHO = "import sys\nfor line in sys.stdin:\n    sys.stdout.write(line)\n    sys.stdout.flush()\n"


def sandbox_figures(repeats: int) -> dict[str, float]:
    async def starts() -> list[float]:
        times = []
        for _ in range(repeats):
            box = PythonSandbox()
            t = time.perf_counter()
            await box.start_unsafe()
            times.append((time.perf_counter() - t) * 1e3)
            await box.stop()
        return times

    async def round_trips() -> list[float]:
        times = []
        async with PythonSandbox() as box:
            await box.run("0")
            for _ in range(repeats * 20):
                t = time.perf_counter()
                await box.run("1")
                times.append((time.perf_counter() - t) * 1e3)
        return times

    def spawn_floor() -> float:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
        return (time.perf_counter() - t) * 1e3

    def echo_floor() -> list[float]:
        proc = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _ECHO], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert proc.stdin is not None and proc.stdout is not None
        times = []
        for i in range(repeats * 20):
            t = time.perf_counter()
            proc.stdin.write((json.dumps({"op": "exec", "id": i, "code": "1"}) + "\n").encode())
            proc.stdin.flush()
            json.loads(proc.stdout.readline())
            times.append((time.perf_counter() - t) * 1e3)
        proc.stdin.close()
        proc.wait()
        return times

    return {
        "start": statistics.median(asyncio.run(starts())),
        "start_floor": statistics.median([spawn_floor() for _ in range(repeats)]),
        "round_trip": statistics.median(asyncio.run(round_trips())),
        "round_trip_floor": statistics.median(echo_floor()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()
    rows = [("measure", "median", "floor", "overhead")]
    for sync_tool in (False, True):
        pairs = [agent_overhead(args.steps, sync_tool) for _ in range(args.repeats)]
        agent_ms = statistics.median(p[0] for p in pairs)
        floor_ms = statistics.median(p[1] for p in pairs)
        kind = "sync tool (thread)" if sync_tool else "async tool"
        rows.append(
            (
                f"A1 ReAct step, {kind}, ms/step ({args.steps} steps)",
                f"{agent_ms:.3f}",
                f"{floor_ms:.3f}",
                f"{agent_ms - floor_ms:.3f}",
            )
        )
    sb = sandbox_figures(args.repeats)
    rows.append(
        (
            "A2 sandbox start-up, ms",
            f"{sb['start']:.1f}",
            f"{sb['start_floor']:.1f}",
            f"{sb['start'] - sb['start_floor']:.1f}",
        )
    )
    rows.append(
        (
            "A2 sandbox run('1') round trip, ms",
            f"{sb['round_trip']:.3f}",
            f"{sb['round_trip_floor']:.3f}",
            f"{sb['round_trip'] - sb['round_trip_floor']:.3f}",
        )
    )
    print(table(rows))


if __name__ == "__main__":
    main()
