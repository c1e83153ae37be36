"""The notebooks in colabs/ run top to bottom, on the embedded local model, with no key.

Each notebook runs in a fresh Jupyter kernel of this interpreter (nbclient), in a
temporary working directory. Cells tagged ``colab-install`` (``%pip install``) or
``needs-api-key`` are left out; any other cell that raises fails the test, with the
cell's traceback in the message, and so does a warning shown to the reader.
"""

from __future__ import annotations

import os
from pathlib import Path

# jupyter_core warns about its future path layout unless told which one to use.
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")

import nbclient
import nbformat
import pytest

COLABS = Path(__file__).resolve().parent.parent / "colabs"
NOTEBOOKS = sorted(COLABS.glob("*.ipynb"))
SKIPPED_TAGS = frozenset({"colab-install", "needs-api-key"})


def test_every_notebook_is_here() -> None:
    names = {p.name for p in NOTEBOOKS}
    assert {"getting_started.ipynb", "compare_backends.ipynb", "replay_experiments.ipynb"} <= names


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path) -> None:
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
