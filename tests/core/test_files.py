"""atomic_open: a file is replaced whole or not at all, with no temporary left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from onetwo.core.files import atomic_open


def test_the_file_is_replaced_whole_and_its_folder_made(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "page.json"
    with atomic_open(path) as f:
        f.write(b"first")
    with atomic_open(path, "w") as f:
        f.write("second, ü")
    assert path.read_text(encoding="utf-8") == "second, ü"
    assert os.listdir(path.parent) == ["page.json"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    with atomic_open(path) as f:
        f.write(b"kept")
    with pytest.raises(TypeError), atomic_open(path) as f:
        f.write("not bytes")
    assert path.read_bytes() == b"kept" and os.listdir(tmp_path) == ["page.json"]
    with pytest.raises(OSError), atomic_open(path / "inside-a-file") as f:  # its folder is a file
        f.write(b"x")
