"""Exact resume: an agent run SIGKILLed at a step, run again, replays every finished model
and tool call from the cache and makes only the missing ones; replay mode makes none.

Each run is a real process (``resume_worker.py``); calls are counted from the log
files the worker's model and tool append to before doing anything else.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("resume_worker.py")
STEPS = 6


def _run(agent: str, folder: Path, logs: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, str(WORKER), agent, str(folder), str(logs), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _done(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each agent's output and state when nothing kills it."""
    out = {}
    for agent in ("react", "planning"):
        base = tmp_path_factory.mktemp(f"clean-{agent}")
        out[agent] = _done(_run(agent, base / "cache", base / "logs"))
        assert len(_lines(base / "logs" / "tools.log")) == STEPS
    return out


@pytest.mark.parametrize("kill_step", [0, 1, 2, 3, 5])
def test_a_killed_react_run_resumes_exactly(
    kill_step: int, tmp_path: Path, uninterrupted: dict[str, dict[str, Any]]
) -> None:
    cache, first, second, third = (tmp_path / n for n in ("cache", "first", "second", "third"))
    killed = _run("react", cache, first, "--kill-step", str(kill_step))
    assert killed.returncode == -signal.SIGKILL
    # Step k's model call finished; its tool call was cut off by the kill.
    assert len(_lines(first / "model.log")) == kill_step + 1
    assert _lines(first / "tools.log") == [f"k{i}" for i in range(kill_step + 1)]

    (second / "killed").parent.mkdir(parents=True)
    (second / "killed").write_text("do not kill again")
    resumed = _done(_run("react", cache, second, "--kill-step", str(kill_step)))
    assert resumed == uninterrupted["react"]
    # Only what had not finished is called again: the cut tool call, then the rest.
    assert _lines(second / "tools.log") == [f"k{i}" for i in range(kill_step, STEPS)]
    assert len(_lines(second / "model.log")) == (STEPS + 1) - (kill_step + 1)

    replayed = _done(_run("react", cache, third, "--mode", "replay"))
    assert replayed == uninterrupted["react"]
    assert _lines(third / "tools.log") == [] and _lines(third / "model.log") == []


@pytest.mark.parametrize("kill_step", [2, 4])
def test_a_killed_planning_run_rebuilds_its_sandbox_from_the_cache(
    kill_step: int, tmp_path: Path, uninterrupted: dict[str, dict[str, Any]]
) -> None:
    cache, first, second, third = (tmp_path / n for n in ("cache", "first", "second", "third"))
    killed = _run("planning", cache, first, "--kill-step", str(kill_step))
    assert killed.returncode == -signal.SIGKILL
    assert len(_lines(first / "model.log")) == kill_step + 1

    second.mkdir()
    (second / "killed").write_text("do not kill again")
    resumed = _done(_run("planning", cache, second, "--kill-step", str(kill_step)))
    # The resumed sandbox had the killed one's variables (`total`): the same output.
    assert resumed == uninterrupted["planning"]
    assert _lines(second / "tools.log") == [f"k{i}" for i in range(kill_step, STEPS)]
    assert len(_lines(second / "model.log")) == STEPS - (kill_step + 1)

    replayed = _done(_run("planning", cache, third, "--mode", "replay"))
    assert replayed == uninterrupted["planning"]
    assert _lines(third / "tools.log") == [] and _lines(third / "model.log") == []
