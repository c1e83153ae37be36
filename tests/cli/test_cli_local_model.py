"""``python -m onetwo.run`` on the embedded model (llama.cpp + SmolLM2), then replayed."""

from __future__ import annotations

import pytest

from tests.cli.harness import Cli
from tests.rig.availability import rig_missing

pytestmark = pytest.mark.rig


def test_the_cli_runs_on_the_embedded_model_and_replays(cli: Cli) -> None:
    reason = rig_missing()
    if reason:
        pytest.skip(f"the local model rig is missing: {reason}")
    run = (
        "--strategy=solve.py:solve",
        "--dataset=qa.jsonl",
        "--metric=solve.py:exact",
        "--backend=local:smollm2",
        "--backend_args=temperature=0",
        "--limit=3",
        "--max_errors=-1",
    )
    first = cli(*run, "--output_dir=first")
    assert first.returncode == 0, first.stderr
    rows = cli.rows("first")
    assert len(rows) == 3 and all(r["error"] is None for r in rows), rows
    assert all(isinstance(r["output"], str) for r in rows)
    assert all(r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 for r in rows)
    stats = cli.summary("first")["backends"]["local:smollm2"]
    assert stats["model_calls"] == 3 and stats["cache_misses"] == 3
    replay = cli(*run, "--cache_mode=replay", "--output_dir=replay")
    assert replay.returncode == 0, replay.stderr
    again = cli.rows("replay")
    assert {r["id"]: r["output"] for r in again} == {r["id"]: r["output"] for r in rows}
    assert all(r["cache_hits"] == 1 and r["cache_misses"] == 0 for r in again)
