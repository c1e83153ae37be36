"""Traces flag every cached model call as a cache hit or a miss."""

from __future__ import annotations

from pathlib import Path

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm


def _model_calls(trace: object) -> list[dict[str, object]]:
    return [n.details for n in trace.walk() if n.kind == "builtin"]  # type: ignore[attr-defined]


def test_first_run_misses_and_the_rerun_hits(tmp_path: Path) -> None:
    backend = FakeBackend(default_reply="x", cache=tmp_path)
    backend.register()
    strategy = ot.parallel(llm.generate_text("a"), llm.generate_text("b", temperature=0.5))
    _, first = ot.run(strategy, enable_tracing=True)
    _, second = ot.run(strategy, enable_tracing=True)
    assert [d["cache_hit"] for d in _model_calls(first)] == [False, False]
    assert [d["cache_hit"] for d in _model_calls(second)] == [True, True]
    assert all(d["backend"] == "fake" and d["model"] == "fake" for d in _model_calls(second))
    assert len(backend.calls) == 2


def test_repeated_samples_are_flagged_per_sample(tmp_path: Path) -> None:
    FakeBackend(default_reply="x", cache=tmp_path).register()
    ot.run(ot.parallel(*ot.repeat(llm.generate_text("q"), 2)))
    _, trace = ot.run(ot.parallel(*ot.repeat(llm.generate_text("q"), 3)), enable_tracing=True)
    flags = {d["sampling_key"]: d["cache_hit"] for d in _model_calls(trace)}
    assert flags == {"0": True, "1": True, "2": False}


def test_without_a_cache_there_is_no_flag() -> None:
    FakeBackend(default_reply="x").register()
    _, trace = ot.run(llm.generate_text("a"), enable_tracing=True)
    assert "cache_hit" not in _model_calls(trace)[0]
