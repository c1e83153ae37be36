"""parallel and par_iter: order, failures, the in-flight cap, lazy consumption."""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbclient
import nbformat
import pytest

from onetwo import ot
from onetwo.core.scheduling import progress_bar


@ot.make_executable
async def echo(x: Any, delay_ticks: int = 0) -> Any:
    for _ in range(delay_ticks):  # finish out of order without wall-clock sleeps
        await asyncio.sleep(0)
    return x


@ot.make_executable
async def fail(message: str) -> None:
    raise ValueError(message)


def test_parallel_returns_results_in_order() -> None:
    assert ot.run(ot.parallel(echo(1, 5), echo(2, 0), echo(3, 2))) == [1, 2, 3]


def test_parallel_raises_the_first_failure_and_cancels_the_rest() -> None:
    cancelled = []

    @ot.make_executable
    async def slow() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    with pytest.raises(ValueError, match="bad"):
        ot.run(ot.parallel(slow(), fail("bad")))
    assert cancelled == [True]


def test_parallel_return_exceptions() -> None:
    out = ot.run(ot.parallel(echo(1), fail("bad"), return_exceptions=True))
    assert out[0] == 1 and isinstance(out[1], ValueError)


def test_parallel_rejects_functions_with_a_hint() -> None:
    with pytest.raises(TypeError, match="not the function itself"):
        ot.parallel(echo)  # type: ignore[arg-type]


def test_par_iter_keeps_input_order() -> None:
    items = [echo(i, delay_ticks=(7 * i) % 5) for i in range(50)]
    assert ot.run(ot.par_iter(items, chunk_size=8)) == list(range(50))


def test_par_iter_caps_in_flight_and_consumes_lazily() -> None:
    state = {"in_flight": 0, "max_in_flight": 0, "pulled": 0, "done": 0, "max_ahead": 0}

    @ot.make_executable
    async def tracked(i: int) -> int:
        state["in_flight"] += 1
        state["max_in_flight"] = max(state["max_in_flight"], state["in_flight"])
        for _ in range(i % 3):
            await asyncio.sleep(0)
        state["in_flight"] -= 1
        state["done"] += 1
        return i

    def source() -> Iterator[Any]:
        for i in range(1000):
            state["pulled"] += 1
            state["max_ahead"] = max(state["max_ahead"], state["pulled"] - state["done"])
            yield tracked(i)

    assert ot.run(ot.par_iter(source(), chunk_size=10)) == list(range(1000))
    assert state["max_in_flight"] == 10
    assert state["max_ahead"] <= 10  # never pulled more than the cap ahead of completion


def test_par_iter_does_not_create_a_task_per_item() -> None:
    peak = {"tasks": 0}

    @ot.make_executable
    async def count_tasks(i: int) -> int:
        peak["tasks"] = max(peak["tasks"], len(asyncio.all_tasks()))
        await asyncio.sleep(0)
        return i

    n = 100_000
    result = ot.run(ot.par_iter((count_tasks(i) for i in range(n)), chunk_size=100))
    assert len(result) == n and result[-1] == n - 1
    assert peak["tasks"] <= 100 + 2  # the workers, plus the run's own task


def test_par_iter_default_chunk_size_is_100() -> None:
    state = {"now": 0, "max": 0}

    @ot.make_executable
    async def job() -> None:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        await asyncio.sleep(0)
        state["now"] -= 1

    ot.run(ot.par_iter(job() for _ in range(500)))
    assert state["max"] == 100


def test_par_iter_failure_and_return_exceptions() -> None:
    with pytest.raises(ValueError, match="item 3"):
        ot.run(ot.par_iter([echo(0), echo(1), echo(2), fail("item 3"), echo(4)], chunk_size=2))
    out = ot.run(ot.par_iter([echo(0), fail("x"), echo(2)], return_exceptions=True))
    assert out[0] == 0 and isinstance(out[1], ValueError) and out[2] == 2


def test_par_iter_validates_arguments() -> None:
    with pytest.raises(ValueError, match="chunk_size must be a positive int, got 0"):
        ot.par_iter([echo(1)], chunk_size=0)
    with pytest.raises(TypeError, match="single Executable"):
        ot.par_iter(echo(1))  # type: ignore[arg-type]


def test_par_iter_progress_bar(capsys: pytest.CaptureFixture[str]) -> None:
    assert ot.run(ot.par_iter([echo(i) for i in range(3)], progress="items")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "items" in err and "3/3" in err


def test_without_ipywidgets_the_bar_is_plain_text_and_jupyter_shows_no_warning(
    tmp_path: Path,
) -> None:
    assert importlib.util.find_spec("ipywidgets") is None  # the case of the report
    bar = progress_bar(True, 1)
    assert type(bar).__module__ == "tqdm.std"
    bar.close()
    # In a real Jupyter kernel, where tqdm.auto would warn "IProgress not found".
    cell = nbformat.v4.new_code_cell(
        "from onetwo import ot\n"
        "ot.run(ot.par_iter([ot.parallel() for _ in range(3)], progress='items'))"
    )
    notebook = nbformat.v4.new_notebook(cells=[cell])
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    shown = "".join(o.get("text", "") for o in notebook.cells[0].outputs)
    assert "items" in shown and "3/3" in shown
    assert "IProgress" not in shown and "Warning" not in shown


def test_nested_parallelism() -> None:
    @ot.make_executable
    async def row(i: int) -> list[int]:
        return await ot.parallel(echo(i), echo(i * 10))

    assert ot.run(ot.par_iter([row(1), row(2)])) == [[1, 10], [2, 20]]
