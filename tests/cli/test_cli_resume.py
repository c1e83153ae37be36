"""Ctrl-C stops cleanly and ``--resume`` continues; a changed configuration is refused."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

from tests.cli.harness import FOUR, Cli
from tests.cli.harness import RUN as BASE

RUN = (*BASE, *FOUR)


def _wait_for(path: Path, process: Any) -> None:
    """Block until the strategy has written ``path`` (it hangs right after)."""
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the strategy never reached the hanging example"
        time.sleep(0.02)


def _content(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["id"]: {k: v for k, v in r.items() if k != "latency_s"} for r in rows}


def test_sigint_then_resume_gives_the_uninterrupted_results(cli: Cli, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    # One example at a time: when example q6 starts (and hangs), q0..q5 are written.
    process = cli.popen(
        *RUN, "--parallelism=1", "--output_dir=out", HANG_AT="6+6=", READY_FILE=str(ready)
    )
    _wait_for(ready, process)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "rerun with --resume" in stderr
    assert sorted(r["id"] for r in cli.rows()) == [f"q{i}" for i in range(6)]
    assert cli.summary()["status"] == "interrupted"

    resumed = cli(*RUN, "--parallelism=1", "--output_dir=out", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert cli.summary()["counts"]["resumed"] == 6

    fresh = Cli(tmp_path / "fresh")
    fresh.folder.mkdir()
    for name in ("solve.py", "qa.jsonl"):
        (fresh.folder / name).write_text((cli.folder / name).read_text())
    whole = fresh(*RUN, "--output_dir=out")
    assert whole.returncode == 0, whole.stderr
    assert len(cli.rows()) == 10
    assert _content(cli.rows()) == _content(fresh.rows())


def test_resume_with_a_changed_flag_is_refused(cli: Cli) -> None:
    assert cli(*RUN, "--limit=2", "--output_dir=out").returncode == 0
    before = (cli.folder / "out" / "results.jsonl").read_text()
    changed = cli(*RUN, "--num_samples=2", "--output_dir=out", "--resume")
    assert changed.returncode == 2
    assert "configuration differs" in changed.stderr
    assert "num_samples was 1, is now 2" in changed.stderr
    other_reply = cli(*RUN[:-1], "--backend_args=default_reply=5", "--output_dir=out", "--resume")
    assert other_reply.returncode == 2
    assert "backends was" in other_reply.stderr
    assert '"default_reply": 4' in other_reply.stderr and '"default_reply": 5' in other_reply.stderr
    (cli.folder / "solve.py").write_text((cli.folder / "solve.py").read_text() + "\n# edited\n")
    edited = cli(*RUN, "--output_dir=out", "--resume")
    assert edited.returncode == 2 and "strategy was" in edited.stderr
    assert (cli.folder / "out" / "results.jsonl").read_text() == before


def test_a_second_run_without_resume_keeps_the_results(cli: Cli) -> None:
    assert cli(*RUN, "--limit=2", "--output_dir=out").returncode == 0
    again = cli(*RUN, "--output_dir=out")
    assert again.returncode == 2
    assert "already holds results" in again.stderr and "--resume" in again.stderr
    assert len(cli.rows()) == 2


def test_sigkill_loses_only_the_example_in_flight(cli: Cli, tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    process = cli.popen(
        *RUN, "--parallelism=1", "--output_dir=out", HANG_AT="3+3=", READY_FILE=str(ready)
    )
    _wait_for(ready, process)
    process.kill()
    process.communicate(timeout=60)
    assert sorted(r["id"] for r in cli.rows()) == ["q0", "q1", "q2"]
    resumed = cli(*RUN, "--output_dir=out", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(r["id"] for r in cli.rows()) == sorted(f"q{i}" for i in range(10))
    assert cli.summary()["counts"]["resumed"] == 3


def test_resume_after_a_write_cut_short(cli: Cli) -> None:
    assert cli(*RUN, "--limit=3", "--output_dir=out").returncode == 0
    for name in ("results.jsonl", "traces.jsonl"):  # what a kill in the middle of write() leaves
        with open(cli.folder / "out" / name, "a") as f:
            f.write('{"id": "q3", "backend": "fake:fo')
    resumed = cli(*RUN, "--output_dir=out", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(r["id"] for r in cli.rows()) == sorted(f"q{i}" for i in range(10))
    traces = (cli.folder / "out" / "traces.jsonl").read_text().splitlines()
    assert len(traces) == 10 and all(line.endswith("}") for line in traces)
