"""repeat: independent copies, each under its own sampling key."""

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
    assert ot.run(ot.repeat(key(), 3)) == ["0", "1", "2"]


def test_nested_repeats_compose_keys() -> None:
    keys = ot.run(ot.repeat(ot.repeat(key(), 2), 4))
    assert keys[3] == ["3#0", "3#1"]
    assert sorted(k for row in keys for k in row) == sorted(
        f"{i}#{j}" for i in range(4) for j in range(2)
    )


def test_the_key_is_restored_after_repeat() -> None:
    @ot.make_executable
    async def before_and_after() -> tuple[str, list[str], str]:
        before = sampling.current_sampling_key()
        inner = await ot.repeat(key(), 2)
        return before, inner, sampling.current_sampling_key()

    assert ot.run(ot.repeat(before_and_after(), 2))[1] == ("1", ["1#0", "1#1"], "1")


def test_repeat_validates_arguments() -> None:
    with pytest.raises(TypeError, match=r"needs an Executable"):
        ot.repeat(key, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_repeats must be an int >= 0, got -1"):
        ot.repeat(key(), -1)
    assert ot.run(ot.repeat(key(), 0)) == []
