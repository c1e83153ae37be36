"""write_atomically: a file is replaced whole or not at all, with no temporary left."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from onetwo.utils.files import write_atomically


def test_the_file_is_replaced_whole_and_its_folder_made(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "page.json"
    write_atomically(path, b"first")
    write_atomically(path, b"second")
    assert path.read_bytes() == b"second"
    assert os.listdir(path.parent) == ["page.json"]  # no temporary file left


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "page.json"
    write_atomically(path, b"kept")
    with pytest.raises(TypeError):
        write_atomically(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"kept" and os.listdir(tmp_path) == ["page.json"]
    with pytest.raises(OSError):
        write_atomically(path / "inside-a-file", b"x")  # its folder is a file
