"""The ``cli`` fixture: a scratch folder with a strategy and a dataset (see harness.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.harness import SOLVE, Cli, write_dataset


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    (tmp_path / "solve.py").write_text(SOLVE)
    write_dataset(tmp_path)
    return Cli(tmp_path)
