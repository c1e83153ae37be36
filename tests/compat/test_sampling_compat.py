"""The reference OneTwo's sampling examples (tutorial "Sampling", sampling tests), on ours.

One deliberate difference: copy 0 runs under the sampling key ``"0"`` (the reference:
``""``, the key of a call outside any repeat), so a repeat never reuses a plain call's
cached sample as one of its draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core import executing, sampling


@executing.make_executable
async def process(request: str, suffix: str = "") -> tuple[str, str]:
    return request + suffix, sampling.current_sampling_key()


def test_tutorial_sampling_cells_draw_reuse_and_extend(tmp_path: Path) -> None:
    count = iter(range(100))
    backend = FakeBackend(
        regex_replies=[(".", lambda p, **kw: f" city {next(count)}")], cache=tmp_path
    )
    backend.register()
    executable = llm.generate_text(prompt="Five cities:", stop=["\n"], temperature=1.0)
    repeated_executable = ot.repeat(executable, 3)
    assert isinstance(repeated_executable, list) and len(repeated_executable) == 3
    three = ot.run(ot.parallel(*repeated_executable))
    assert len(set(three)) == 3
    # "If we now ask for 6 samples, the first 3 will be drawn from the cache."
    six = ot.run(ot.parallel(*ot.repeat(executable, 6)))
    assert six[:3] == three and len(set(six)) == 6 and len(backend.calls) == 6
    # "start_index=6: we do not want to retrieve the first 6 results from the cache."
    two_more = ot.run(ot.parallel(*ot.repeat(executable, 2, start_index=6)))
    assert not set(two_more) & set(six) and len(backend.calls) == 8


def test_repeat_under_par_iter_and_in_successive_rounds() -> None:
    executables = sampling.repeat(process("test"), 3)
    res = list(executing.run(executing.par_iter(executables)))
    res += executing.run(executing.par_iter(sampling.repeat(process("test"), 3, start_index=3)))
    assert res == [("test", str(i)) for i in range(6)]


def test_nested_repeats_built_statically_or_dynamically_get_the_same_keys() -> None:
    static = executing.parallel(
        sampling.repeat_and_execute(process("test1"), 3),
        sampling.repeat_and_execute(process("test2"), 3),
    )

    @executing.make_executable
    async def dynamic() -> Any:
        return await executing.parallel(
            sampling.repeat_and_execute(process("test1"), 3),
            sampling.repeat_and_execute(process("test2"), 3),
        )

    expected = [
        [[(f"test{t}", f"{outer}#{inner}") for inner in range(3)] for t in (1, 2)]
        for outer in range(2)
    ]
    assert executing.run(sampling.repeat_and_execute(static, 2)) == expected
    assert executing.run(sampling.repeat_and_execute(dynamic(), 2)) == expected


def test_update_result_fn_adds_the_sample_id() -> None:
    def update_result(result: tuple[str, str], sample_id: int) -> tuple[str, str, int, int]:
        return result[0], result[1], sample_id, 2

    res = executing.run(sampling.repeat_and_execute(process("test"), 2, update_result))
    assert res == [("test", "0", 0, 2), ("test", "1", 1, 2)]


def test_repeated_sampler_passes_positional_and_keyword_arguments() -> None:
    sampler = sampling.Repeated(process)
    res = executing.run(sampler("test", suffix="-a", num_samples=3))
    assert res == [("test-a", "0"), ("test-a", "1"), ("test-a", "2")]


def test_round_robin_sampler_takes_turns_from_start_index() -> None:
    @executing.make_executable
    async def strategy1(request: str, **kwargs: Any) -> tuple[str, str]:
        return await process(f"{request}-1", **kwargs)

    @executing.make_executable
    async def strategy2(request: str, **kwargs: Any) -> tuple[str, str]:
        return await process(f"{request}-2", **kwargs)

    sampler = sampling.RoundRobin([sampling.Repeated(strategy1), sampling.Repeated(strategy2)])
    res = executing.run(sampler("test", suffix="-a", num_samples=5))
    assert res == [
        ("test-1-a", "0"),
        ("test-2-a", "1"),
        ("test-1-a", "2"),
        ("test-2-a", "3"),
        ("test-1-a", "4"),
    ]
    res = executing.run(sampler(request="test", num_samples=5, start_index=1))
    assert res == [
        ("test-2", "1"),
        ("test-1", "2"),
        ("test-2", "3"),
        ("test-1", "4"),
        ("test-2", "5"),
    ]


def test_tutorial_self_consistency_over_a_repeated_sampler() -> None:
    # cot_sc = SelfConsistency(sampler=sampling.Repeated(strategy), bucketizer=..., num_samples=)
    from onetwo.stdlib.ensembling.self_consistency import SelfConsistency

    answers = ["5", "6", "5", "5", "7"]
    FakeBackend(
        default_reply=lambda p, **_: answers[int(sampling.current_sampling_key())]
    ).register()
    strategy = executing.make_executable(lambda question: llm.generate_text(question))
    cot_sc = SelfConsistency(
        sampler=sampling.Repeated(strategy), bucketizer=lambda x: x, num_samples=5
    )
    assert executing.run(cot_sc("q")) == [("5", 0.6), ("6", 0.2), ("7", 0.2)]
