"""The runner in-process: one streaming evaluation per backend and sample, each unit
written when its samples are done, traces kept for the examples the report shows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core.sampling import current_sampling_key
from onetwo.run.datasets import Entry
from onetwo.run.results import ResultsWriter, read_rows
from onetwo.run.runner import Runner, Unit, Work


def _registry(backend: FakeBackend) -> ot.Registry:
    with ot.RegistryContext():
        backend.register()
        return ot.copy_registry()


def test_units_are_written_whole_with_their_samples_and_the_shown_traces(tmp_path: Path) -> None:
    keys: list[tuple[str, str]] = []

    @ot.make_executable
    async def solve(question: str) -> str:
        keys.append((question, current_sampling_key()))
        return await llm.generate_text(question) + "0"

    entries = [Entry(f"q{i}", i, {"question": f"{i}+{i}=", "answer": "40"}) for i in range(4)]
    registries = {
        "four": _registry(FakeBackend(default_reply="4", model="four")),
        "five": _registry(FakeBackend(default_reply="5", model="five")),
    }
    work = Work(
        strategy=solve,
        metrics={"exact": lambda target, prediction: prediction == target},
        inputs_extractor=lambda example: example["question"],
        target_extractor=lambda example: example["answer"],
        units=[Unit(e, b) for e in entries for b in registries],
        registries=registries,
        num_samples=2,
        parallelism=2,
        traced={0},
    )
    finished: list[list[dict[str, Any]]] = []
    with ResultsWriter(str(tmp_path)) as writer:
        ot.run(Runner(work, writer, on_unit=finished.append).executable())

    rows = read_rows(str(tmp_path / "results.jsonl"))
    assert len(rows) == len(finished) * 2 == 16
    for unit in finished:  # a unit's two samples, written together, numbered 0 and 1
        assert [r["sample"] for r in unit] == [0, 1]
        assert len({(r["id"], r["backend"]) for r in unit}) == 1
    four = {r["id"]: r for r in rows if r["backend"] == "four" and r["sample"] == 1}
    assert four["q3"]["output"] == "40" and four["q3"]["metrics"] == {"exact": 1.0}
    assert {r["output"] for r in rows if r["backend"] == "five"} == {"50"}
    # Each sample under its own sampling key, as ot.repeat gives its copies.
    assert sorted({key for _, key in keys}) == ["0", "1"] and len(keys) == 16
    traces = [json.loads(line) for line in (tmp_path / "traces.jsonl").read_text().splitlines()]
    assert sorted((t["id"], t["backend"], t["sample"]) for t in traces) == [
        ("q0", "five", 0),
        ("q0", "five", 1),
        ("q0", "four", 0),
        ("q0", "four", 1),
    ]
    assert traces[0]["trace"]["name"] in ("four", "five")
