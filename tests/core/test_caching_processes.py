"""The call cache across processes: exact replay, SIGKILL mid-run, concurrent writers.

Each test starts real processes (``cache_worker.py``), not just separate objects.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from onetwo.core.caching import CallCache

WORKER = Path(__file__).with_name("cache_worker.py")


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def _run(*args: str) -> dict[str, Any]:
    return _finish(_start(*args))


def test_another_process_replays_every_sample_exactly_with_no_model_call(tmp_path: Path) -> None:
    folder = str(tmp_path / "cache")
    filled = _run("samples", folder, "--seed", "1")
    assert len(filled["calls"]) == 12 * 3 * 2
    samples = [s for row in filled["results"] for copy in row for s in copy]
    assert len(set(samples)) == len(samples)  # every copy had its own sample

    # Other random delays, so calls arrive in another order: same sample for each copy.
    for seed in ("2", "3"):
        replayed = _run("samples", folder, "--seed", seed, "--mode", "replay")
        assert replayed["calls"] == []
        assert replayed["results"] == filled["results"]

    # One more inner copy each: only the new copies call the model.
    grown = _run("samples", folder, "--seed", "4", "--inner", "3")
    assert len(grown["calls"]) == 12 * 3
    assert [[copy[:2] for copy in row] for row in grown["results"]] == filled["results"]


def test_replay_mode_in_another_process_raises_cache_miss(tmp_path: Path) -> None:
    folder = str(tmp_path / "cache")
    _run("samples", folder, "--prompts", "2", "--outer", "1", "--inner", "1")
    proc = _start(
        "samples", folder, "--prompts", "3", "--outer", "1", "--inner", "1", "--mode", "replay"
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "CacheMiss: replay mode: no cached result for llm.generate_text(prompt='prompt 2'" in err


def test_a_run_killed_mid_way_reruns_only_the_calls_that_had_not_completed(
    tmp_path: Path,
) -> None:
    folder, log = str(tmp_path / "cache"), tmp_path / "started.log"
    proc = _start("many", folder, "--count", "1000", "--log", str(log))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        begun = len(log.read_text().splitlines()) if log.exists() else 0
        if begun >= 300:
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be killed; make it longer"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=10)
    started = log.read_text().splitlines()

    cache = CallCache(folder)
    assert cache.check() == []
    done = {rec["call"]["params"]["prompt"] for rec in cache.records()}
    assert len(started) - 10 <= len(done) <= len(started)  # at most chunk_size in flight
    cache.close()

    rerun = _run("many", folder, "--count", "1000")
    everything = {f"question {i}" for i in range(1000)}
    assert sorted(rerun["calls"]) == sorted(everything - done)
    assert rerun["results"] == [f"answer to question {i}" for i in range(1000)]
    cache = CallCache(folder)
    assert cache.check() == [] and cache.stats()["entries"] == 1000


@pytest.mark.parametrize("repeat", [0, 1])
def test_two_processes_writing_at_once_lose_nothing_and_agree(tmp_path: Path, repeat: int) -> None:
    folder = str(tmp_path / "cache")
    CallCache(folder).close()  # created before either writer starts
    at = str(time.time() + 2.0)
    a = _start("range", folder, "--start", "0", "--stop", "300", "--tag", "A", "--at", at)
    b = _start("range", folder, "--start", "150", "--stop", "450", "--tag", "B", "--at", at)
    out_a, out_b = _finish(a), _finish(b)

    cache = CallCache(folder)
    assert cache.check() == []
    stored = {
        rec["call"]["params"]["prompt"]: rec["samples"][rec["slots"][""]] for rec in cache.records()
    }
    assert len(stored) == 450
    by_a = dict(zip((f"shared {i}" for i in range(300)), out_a["results"]))
    by_b = dict(zip((f"shared {i}" for i in range(150, 450)), out_b["results"]))
    for prompt, value in {**by_a, **by_b}.items():
        assert stored[prompt] == value  # each process returned what the store keeps
    # Both processes may compute a shared prompt, but both return the one kept.
    assert all(by_a[p] == by_b[p] for p in by_a.keys() & by_b.keys())
    assert len(out_a["calls"]) + len(out_b["calls"]) >= 450


def test_two_processes_in_lockstep_on_500_shared_keys_make_500_model_calls(
    tmp_path: Path,
) -> None:
    folder, go = str(tmp_path / "cache"), tmp_path / "go"
    CallCache(folder).close()
    # B begins at prompt 250, so each first claims prompts the other has not reached (in
    # one order, one trails the other and never calls); each then runs into what the other
    # holds or has done, at about the same moment. Calls of 50 ms: A reaches 250 after
    # ~1.6 s, so B still finds its first prompts unclaimed if it wakes late on a loaded
    # machine (with one order and 10 ms calls, CI once saw one worker make all 500).
    a, b = (
        _start(
            "range", folder, "--stop", "500", "--tag", tag, "--go", str(go), "--latency", "0.05",
            "--first", first,
        )
        for tag, first in (("A", "0"), ("B", "250"))
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (_opened_by(folder, a.pid) and _opened_by(folder, b.pid)):  # both see the other
        assert a.poll() is None and b.poll() is None and time.monotonic() < deadline
        time.sleep(0.01)
    # The same instant for both, past the second in which each may still think it alone.
    (tmp_path / "at").write_text(str(time.time() + 1.5))
    os.replace(tmp_path / "at", go)
    out_a, out_b = _finish(a), _finish(b)
    assert len(out_a["calls"]) + len(out_b["calls"]) == 500
    results_a = out_a["results"]
    assert out_b["results"] == results_a[250:] + results_a[:250]  # each waited for the other's
    assert min(len(out_a["calls"]), len(out_b["calls"])) > 0  # both did part of the work


def _wait_for_line(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while not (path.exists() and path.read_text()) and proc.poll() is None:
        assert time.monotonic() < deadline, "the claimant never started its call"
        time.sleep(0.01)


@pytest.mark.parametrize("how", ["killed", "outlived its lease"])
def test_a_claim_blocks_another_process_no_longer_than_its_claimant_or_lease_lives(
    tmp_path: Path, how: str
) -> None:
    folder, log = str(tmp_path / "cache"), tmp_path / "claimant.log"
    CallCache(folder).close()
    at = time.time() + 6.0  # the waiter opens the folder now, and calls then
    waiter = _start("range", folder, "--stop", "1", "--tag", "B", "--at", str(at))
    while not _opened_by(folder, waiter.pid):  # so the claimant knows the folder is shared
        assert waiter.poll() is None and time.time() < at, "the waiter never opened the folder"
        time.sleep(0.01)
    lease = "30" if how == "killed" else "10"
    claimant = _start(
        "range", folder, "--stop", "1", "--tag", "A", "--latency", "60", "--lease", lease,
        "--log", str(log),
    )  # fmt: skip
    _wait_for_line(log, claimant)  # it holds the claim and is calling the model
    assert time.time() < at, "the claimant started too late; give it more time"
    time.sleep(max(0.0, at - time.time()) + 1.0)
    assert waiter.poll() is None  # it waits for the claim
    if how == "killed":
        claimant.kill()
        claimant.communicate(timeout=10)
    out = _finish(waiter)
    assert out["calls"] == ["shared 0"] and out["results"] == ["B|shared 0"]
    assert time.time() - at < 14  # not the lease of 30 s, nor the call of 60 s
    if how != "killed":
        claimant.kill()
        claimant.communicate(timeout=10)


def _opened_by(folder: str, pid: int) -> bool:
    with sqlite3.connect(os.path.join(folder, "cache.db")) as con:
        rows = con.execute("SELECT 1 FROM Cache WHERE key = ?", (f"onetwo:open:{pid}",))
        found = rows.fetchone() is not None
    con.close()
    return found
