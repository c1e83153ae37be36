"""The reference's stdlib and notebook-utility paths, answered by our mechanisms."""

from __future__ import annotations

from pathlib import Path

import pytest

from onetwo import ot
from onetwo.backends.fake import FakeBackend
from onetwo.builtins import llm
from onetwo.core.caching import CallCache
from onetwo.errors import InvalidArgumentError
from onetwo.stdlib.code_execution import python_execution_safe_subset
from onetwo.stdlib.ensembling import distribution_metrics
from onetwo.stdlib.tool_use import python_tool_use
from onetwo.utils import colab_utils


def test_accuracy_at_k_takes_the_best_of_the_first_k_answers() -> None:
    distribution = [("a", 0.5), ("b", 0.3), ("c", 0.2)]
    assert ot.run(distribution_metrics.AccuracyAtK(k=1)("b", distribution)) == 0.0
    assert ot.run(distribution_metrics.AccuracyAtK(k=2)("b", distribution)) == 1.0
    assert ot.run(distribution_metrics.AccuracyAtK(k=None)("c", distribution)) == 1.0
    assert ot.run(distribution_metrics.AccuracyAtK(k=3)("z", [])) == 0.0


def test_accuracy_at_k_awaits_an_async_base_metric_and_refuses_a_negative_k() -> None:
    async def contains(target: str, answer: str) -> float:
        return 1.0 * (target in answer)

    metric = distribution_metrics.AccuracyAtK(k=2, base_metric=contains)
    assert ot.run(metric("5", [("about 5", 0.6), ("6", 0.4)])) == 1.0
    with pytest.raises(ValueError, match="got -1"):
        distribution_metrics.AccuracyAtK(k=-1)


def test_the_safe_subset_factories_make_the_process_sandbox() -> None:
    for factory in (
        python_execution_safe_subset.PythonSandboxSafeSubsetFactory,
        python_execution_safe_subset.PythonSandboxSafeSubsetMultiProcessFactory,
    ):
        config = python_tool_use.PythonToolUseEnvironmentConfig(sandbox_factory=factory())
        with python_tool_use.PythonToolUseEnvironment(config=config) as env:
            result = ot.run(env.run_code(sandbox_state=("x = 20",), code="x + 22"))
        assert result.sandbox_result.final_expression_value == 42


def test_run_code_returns_the_references_result_shape_and_values_as_objects() -> None:
    # The reference's tutorial: result.sandbox_result.final_expression_value is the
    # value itself (a number here), not its repr.
    config = python_tool_use.PythonToolUseEnvironmentConfig()
    with python_tool_use.PythonToolUseEnvironment(config=config) as env:
        number = ot.run(
            env.run_code(sandbox_state=("s = '91,877'",), code="float(s.replace(',', ''))")
        )
        listed = ot.run(env.run_code(sandbox_state=(), code="[1, 'a', {'k': None}]"))
        other = ot.run(env.run_code(sandbox_state=(), code="object"))
        nothing = ot.run(env.run_code(sandbox_state=(), code="x = 1"))
        done = ot.run(env.run_code(sandbox_state=(), code="exit()"))
    assert isinstance(number, python_tool_use.RunCodeResult)
    assert number.code == "float(s.replace(',', ''))"
    assert number.sandbox_result.final_expression_value == 91877.0
    assert listed.sandbox_result.final_expression_value == [1, "a", {"k": None}]
    # Not a literal: the repr, as a string (literal_eval runs no code).
    assert other.sandbox_result.final_expression_value == "<class 'object'>"
    assert nothing.sandbox_result.final_expression_value is None
    assert done.exit_hook_called and not number.exit_hook_called


def test_run_code_in_the_references_positional_order_is_refused_with_the_fix() -> None:
    config = python_tool_use.PythonToolUseEnvironmentConfig()
    with python_tool_use.PythonToolUseEnvironment(config=config) as env:
        with pytest.raises(InvalidArgumentError, match=r"got code=\(\) .*pass them by name"):
            ot.run(env.run_code((), "1 + 1"))
        with pytest.raises(InvalidArgumentError, match="sandbox_state='x = 1'"):
            ot.run(env.run_code("x", "x = 1"))


def test_cached_backends_merges_a_teammates_folder_into_its_own(tmp_path: Path) -> None:
    shared = colab_utils.CachedBackends(own_cache_directory=str(tmp_path / "shared"))
    teammate = FakeBackend(default_reply="from the teammate", cache=shared.get_cache_path("m"))
    shared["m"] = teammate
    with ot.RegistryContext():
        teammate.register()
        assert ot.run(llm.generate_text("Q")) == "from the teammate"
    teammate.cache.close()  # type: ignore[union-attr]

    mine = colab_utils.CachedBackends(
        own_cache_directory=str(tmp_path / "own"),
        shared_cache_directory=str(tmp_path / "shared"),
        enable_print_statements=False,
    )
    backend = FakeBackend(default_reply="never asked", cache=mine.get_cache_path("m"))
    mine["m"] = backend
    assert list(mine) == ["m"] and len(mine) == 1
    mine.load_caches()
    assert isinstance(backend.cache, CallCache)
    backend.cache.mode = "replay"
    with ot.RegistryContext():
        backend.register()
        assert ot.run(llm.generate_text("Q")) == "from the teammate"
    assert backend.calls == []
    mine.save_caches()  # write-through: nothing to do, nothing lost
    assert backend.cache.stats()["entries"] == 1
