"""repeat: a list of independent copies, each under its own sampling key; samplers."""

from __future__ import annotations

import pytest

from onetwo import ot
from onetwo.core import sampling


@ot.make_executable
def key() -> str:
    return sampling.current_sampling_key()


def test_outside_repeat_the_key_is_empty() -> None:
    assert ot.run(key()) == ""


def test_each_copy_runs_under_its_own_key() -> None:
    copies = ot.repeat(key(), 3)
    assert isinstance(copies, list) and len(copies) == 3
    assert ot.run(ot.parallel(*copies)) == ["0", "1", "2"]
    assert ot.run(ot.par_iter(copies)) == ["0", "1", "2"]
    assert [ot.run(c) for c in copies] == ["0", "1", "2"]  # each copy alone, too


def test_start_index_gives_the_next_keys() -> None:
    assert ot.run(ot.parallel(*ot.repeat(key(), 2, start_index=3))) == ["3", "4"]


def test_nested_repeats_compose_keys() -> None:
    inner = sampling.repeat_and_execute(key(), 2)
    keys = ot.run(sampling.repeat_and_execute(inner, 4))
    assert keys[3] == ["3#0", "3#1"]
    assert sorted(k for row in keys for k in row) == sorted(
        f"{i}#{j}" for i in range(4) for j in range(2)
    )


def test_the_key_is_restored_after_repeat() -> None:
    @ot.make_executable
    async def before_and_after() -> tuple[str, list[str], str]:
        before = sampling.current_sampling_key()
        inner = await ot.parallel(*ot.repeat(key(), 2))
        return before, inner, sampling.current_sampling_key()

    runs = ot.run(sampling.repeat_and_execute(before_and_after(), 2))
    assert runs[1] == ("1", ["1#0", "1#1"], "1")


def test_update_result_fn_gets_each_result_and_its_position() -> None:
    tagged = ot.repeat(key(), 2, update_result_fn=lambda r, i: f"{r}@{i}", start_index=5)
    assert ot.run(ot.parallel(*tagged)) == ["5@0", "6@1"]


def test_repeated_and_round_robin_samplers() -> None:
    @ot.make_executable
    def tagged(tag: str, suffix: str = "") -> str:
        return f"{tag}{suffix}:{sampling.current_sampling_key()}"

    def second(tag: str, suffix: str = "") -> ot.Executable[str]:
        return tagged(tag.upper(), suffix)

    assert ot.run(sampling.Repeated(tagged)("a", suffix="!", num_samples=2)) == ["a!:0", "a!:1"]
    both = sampling.RoundRobin([sampling.Repeated(tagged), sampling.Repeated(second)])
    assert ot.run(both("a", num_samples=3, start_index=1)) == ["A:1", "a:2", "A:3"]


def test_repeat_validates_arguments() -> None:
    with pytest.raises(TypeError, match=r"needs an Executable"):
        ot.repeat(key, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_repeats must be an int >= 0, got -1"):
        ot.repeat(key(), -1)
    with pytest.raises(ValueError, match="start_index must be an int >= 0, got -2"):
        ot.repeat(key(), 1, start_index=-2)
    assert ot.repeat(key(), 0) == []
    assert ot.run(ot.parallel()) == []
