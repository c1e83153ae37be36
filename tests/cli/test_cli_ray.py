"""``python -m onetwo.run --ray_address=local``: the same rows as a local run, a cache that
replays offline without Ray, and the Ray flags' bad uses (status 2)."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.cli.harness import ROOT, Cli

KEYED = """\
from onetwo import ot
from onetwo.builtins import llm
from onetwo.core.sampling import current_sampling_key


@ot.make_executable
async def solve(question: str) -> str:
    answer = (await llm.generate_text(f"Q: {question}\\nA:", max_tokens=8)).strip()
    return f"{answer}|{current_sampling_key()}"  # which sample ran it


def exact(target, prediction):
    return prediction.split("|")[0] == target


def key(target, prediction):  # the metric runs under the sample's key too
    return float(current_sampling_key() or -1)
"""
RUN = ("--strategy=keyed.py:solve", "--dataset=qa.jsonl", "--metric=keyed.py:exact")
BASE = ("--strategy=solve.py:solve", "--dataset=qa.jsonl")  # harness.py's
FOUR = ("--backend=fake:four", "--backend_args=default_reply=4", "--num_samples=2")
needs_ray = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="needs the extra: onetwo[ray]"
)


def _outcome(rows: list[dict[str, Any]], *strip: str) -> list[dict[str, Any]]:
    """The rows in order, without what differs between two runs of one experiment."""
    ignored = {"latency_s", *strip}
    rows = sorted(rows, key=lambda r: (r["index"], r["backend"], r["sample"]))
    return [{k: v for k, v in row.items() if k not in ignored} for row in rows]


@pytest.mark.slow
@needs_ray
def test_ray_run_equals_a_local_run_and_replays_without_ray(cli: Cli) -> None:
    (cli.folder / "keyed.py").write_text(KEYED)
    metrics = ("--metric=keyed.py:key",)
    local = cli(*RUN, *metrics, *FOUR, "--cache_dir=local_cache", "--output_dir=local")
    assert local.returncode == 0, local.stderr
    ray = cli(
        *RUN, *metrics, *FOUR, "--cache_dir=ray_cache", "--output_dir=ray",
        "--ray_address=local", "--num_workers=2",
    )  # fmt: skip
    assert ray.returncode == 0, ray.stderr
    rows = cli.rows("ray")
    assert len(rows) == 20 and _outcome(rows) == _outcome(cli.rows("local"))
    assert {(r["output"], r["metrics"]["key"]) for r in rows} == {("4|0", 0.0), ("4|1", 1.0)}
    assert all(r["model_calls"] == 1 and r["error"] is None for r in rows)
    # Where it ran is not in the fingerprint: a run without Ray may continue this one.
    saved = [
        json.loads((cli.folder / d / "fingerprint.json").read_text()) for d in ("local", "ray")
    ]
    assert saved[0] == saved[1]
    # The Ray run's cache replays it in one process, without Ray and without a model (the
    # fake has no reply of its own here: a call not in the cache would fail).
    replay = cli(
        *RUN, *metrics, "--backend=fake:four", "--num_samples=2", "--cache_dir=ray_cache",
        "--cache_mode=replay", "--output_dir=replay",
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    counts = ("cache_hits", "cache_misses", "model_calls", "prompt_tokens", "completion_tokens")
    assert _outcome(cli.rows("replay"), *counts, "tokens") == _outcome(rows, *counts, "tokens")
    assert all(r["cache_hits"] == 1 and r["cache_misses"] == 0 for r in cli.rows("replay"))
    # And on Ray, --cache_mode=replay replays the local run's cache without a model.
    on_ray = cli(
        *RUN, *metrics, "--backend=fake:four", "--num_samples=2", "--cache_dir=local_cache",
        "--cache_mode=replay", "--output_dir=ray_replay", "--ray_address=local",
    )  # fmt: skip
    assert on_ray.returncode == 0, on_ray.stderr
    assert _outcome(cli.rows("ray_replay"), *counts, "tokens") == _outcome(rows, *counts, "tokens")
    assert all(r["cache_hits"] == 1 and r["cache_misses"] == 0 for r in cli.rows("ray_replay"))


def test_num_workers_without_ray_address_is_refused(cli: Cli) -> None:
    done = cli(*BASE, "--backend=fake", "--num_workers=2", "--output_dir=out")
    assert done.returncode == 2
    assert "--num_workers=2 goes with --ray_address" in done.stderr
    assert not (cli.folder / "out" / "results.jsonl").exists()


@needs_ray
def test_credentials_in_backend_args_are_refused_before_ray_starts(cli: Cli) -> None:
    done = cli(
        *BASE, "--backend=openai:gpt-4o-mini", "--backend_args=api_key=sk-test,max_tokens=8",
        "--ray_address=local", "--output_dir=out",
    )  # fmt: skip
    assert done.returncode == 2
    assert "--backend=openai:gpt-4o-mini with --ray_address" in done.stderr
    assert "credentials (api_key)," in done.stderr and "OPENAI_API_KEY" in done.stderr
    assert "Started a local Ray instance" not in done.stderr


def test_ray_address_without_ray_says_how_to_install_it(cli: Cli, tmp_path: Path) -> None:
    # A `ray` package first on the path that fails to import, as a missing Ray does.
    hidden = tmp_path / "no_ray"
    (hidden / "ray").mkdir(parents=True)
    (hidden / "ray" / "__init__.py").write_text("raise ImportError(\"No module named 'ray'\")\n")
    done = cli(
        *BASE, "--backend=fake", "--ray_address=local", "--output_dir=out",
        PYTHONPATH=os.pathsep.join([str(hidden), str(ROOT)]),
    )  # fmt: skip
    assert done.returncode == 2
    assert "--ray_address needs Ray" in done.stderr and "pip install '.[ray]'" in done.stderr


@pytest.mark.slow
@needs_ray
def test_a_backend_the_workers_cannot_build_exits_2(cli: Cli) -> None:
    done = cli(*BASE, "--backend=nosuch:model", "--ray_address=local", "--output_dir=out")
    assert done.returncode == 2, done.stderr
    assert "--backend=nosuch:model: Unknown backend provider 'nosuch'" in done.stderr
    assert "(on the workers of --ray_address)" in done.stderr
    assert "Traceback" not in done.stderr
