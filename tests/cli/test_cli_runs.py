"""``python -m onetwo.run`` on the fake backend: one backend, two side by side, replay,
samples, and the exit status."""

from __future__ import annotations

from collections import Counter

from tests.cli.harness import FOUR, RUN, Cli, write_dataset

FIVE = ("--backend=fake:five", "--backend_args=default_reply=5")


def test_one_backend_writes_a_row_per_example_and_a_summary(cli: Cli) -> None:
    done = cli(*RUN, *FOUR, "--output_dir=out")
    assert done.returncode == 0, done.stderr
    rows = cli.rows()
    assert sorted(r["id"] for r in rows) == [f"q{i}" for i in range(10)]
    assert {r["output"] for r in rows} == {"4"}
    assert all(r["metrics"] == {"exact": 1.0} and r["error"] is None for r in rows)
    assert all(r["model_calls"] == 1 and r["cache_misses"] == 1 for r in rows)
    assert all(r["tokens"] > 0 and r["latency_s"] > 0 for r in rows)
    summary = cli.summary()
    assert summary["status"] == "complete"
    assert summary["counts"]["examples"] == 10 and summary["counts"]["errors"] == 0
    stats = summary["backends"]["fake:four"]
    assert stats["metrics"]["exact"] == {"mean": 1.0, "stderr": 0.0, "n": 10}
    assert stats["cache_hit_rate"] == 0.0
    assert stats["tokens"] == sum(r["tokens"] for r in rows)
    assert "fake:four" in done.stdout and "1.000 ± 0.000" in done.stdout
    # A second run into another folder is answered by the cache.
    again = cli(*RUN, *FOUR, "--output_dir=again")
    assert again.returncode == 0, again.stderr
    assert cli.summary("again")["backends"]["fake:four"]["cache_hit_rate"] == 1.0


def test_two_backends_run_side_by_side(cli: Cli) -> None:
    done = cli(*RUN, *FOUR, *FIVE, "--output_dir=out")
    assert done.returncode == 0, done.stderr
    rows = cli.rows()
    assert Counter(r["backend"] for r in rows) == {"fake:four": 10, "fake:five": 10}
    outputs = {(r["id"], r["backend"]): r["output"] for r in rows}
    assert outputs[("q3", "fake:four")] == "4" and outputs[("q3", "fake:five")] == "5"
    metrics = {b: s["metrics"]["exact"]["mean"] for b, s in cli.summary()["backends"].items()}
    assert metrics == {"fake:four": 1.0, "fake:five": 0.0}
    report = (cli.folder / "out" / "report.html").read_text()
    assert "fake:four: prediction" in report and "fake:five: prediction" in report


def test_replay_after_a_full_run_contacts_no_model(cli: Cli) -> None:
    first = cli(*RUN, *FOUR, "--output_dir=first")
    assert first.returncode == 0, first.stderr
    # Without default_reply the fake raises on any call it has to answer itself: every
    # output below comes from the cache.
    replay = cli(*RUN, "--backend=fake:four", "--cache_mode=replay", "--output_dir=replay")
    assert replay.returncode == 0, replay.stderr
    # What differs between a computed call and a hit: timing, the cache flags, usage.
    strip: tuple[str, ...] = (
        "latency_s",
        "cache_hits",
        "cache_misses",
        "prompt_tokens",
        "completion_tokens",
    )
    strip += ("tokens",)

    def outcome(rows: list[dict[str, object]]) -> dict[object, object]:
        return {r["id"]: {k: v for k, v in r.items() if k not in strip} for r in rows}

    assert outcome(cli.rows("replay")) == outcome(cli.rows("first"))
    assert all(r["cache_hits"] == 1 and r["cache_misses"] == 0 for r in cli.rows("replay"))
    # Replay refuses a call it has not seen: the new example fails with CacheMiss.
    write_dataset(cli.folder, 11, "more.jsonl")
    more = cli(
        *RUN[:1], "--dataset=more.jsonl", "--backend=fake:four", "--cache_mode=replay",
        "--output_dir=more",
    )  # fmt: skip
    assert more.returncode == 1
    [missed] = [r for r in cli.rows("more") if r["error"]]
    assert missed["id"] == "q10" and missed["error"].startswith("CacheMiss")
    assert "1 errors, more than --max_errors=0" in more.stderr


def test_samples_get_distinct_cached_samples(cli: Cli) -> None:
    args = (*RUN, "--backend=fake", '--backend_args=default_reply=["alpha","beta","gamma"]')
    done = cli(*args, "--num_samples=3", "--ids=q1,q2", "--output_dir=out")
    assert done.returncode == 0, done.stderr
    rows = cli.rows()
    assert sorted((r["id"], r["sample"]) for r in rows) == [
        (i, s) for i in ("q1", "q2") for s in range(3)
    ]
    for example in ("q1", "q2"):
        outputs = sorted(r["output"] for r in rows if r["id"] == example)
        assert outputs == ["alpha", "beta", "gamma"]
    page = (cli.folder / "out" / "report.html").read_text()
    examples = page[page.index("<h2>Examples") : page.index("<h2>Traces")]
    assert all(examples.count(o) >= 2 for o in outputs)  # every sample of both examples
    # Replayed, each sample gets back the sample it had.
    replay = cli(*args, "--num_samples=3", "--ids=q1,q2", "--cache_mode=replay", "--output_dir=r")
    assert replay.returncode == 0, replay.stderr
    by_sample = {(r["id"], r["sample"]): r["output"] for r in rows}
    assert {(r["id"], r["sample"]): r["output"] for r in cli.rows("r")} == by_sample


def test_failed_examples_over_max_errors_exit_1(cli: Cli) -> None:
    # The fake has a reply for one prompt only: the nine others fail.
    only = '--backend_args=replies={"Q: 0+0=\\nA:": "4"}'
    done = cli(*RUN, "--backend=fake", only, "--output_dir=out")
    assert done.returncode == 1
    assert sum(r["error"] is not None for r in cli.rows()) == 9
    assert "9 errors, more than --max_errors=0" in done.stderr
    tolerated = cli(*RUN, "--backend=fake", only, "--max_errors=9", "--output_dir=ok")
    assert tolerated.returncode == 0, tolerated.stderr


def test_limit_and_ids_choose_the_examples(cli: Cli) -> None:
    done = cli(*RUN, *FOUR, "--limit=3", "--output_dir=out")
    assert done.returncode == 0, done.stderr
    assert [r["id"] for r in cli.rows()] == ["q0", "q1", "q2"]
    # --limit is not in the fingerprint: resuming without it runs the rest.
    rest = cli(*RUN, *FOUR, "--resume", "--output_dir=out")
    assert rest.returncode == 0, rest.stderr
    assert sorted(r["id"] for r in cli.rows()) == sorted(f"q{i}" for i in range(10))
    assert cli.summary()["counts"]["resumed"] == 3
