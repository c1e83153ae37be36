"""The wheel users install holds the whole library, backends included."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_onetwo_backends_from_the_top_level_folder(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    [wheel] = tmp_path.glob("onetwo-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in sorted(p.name for p in (ROOT / "backends").glob("*.py")):
        assert f"onetwo/backends/{module}" in names
    assert "onetwo/core/executing.py" in names and "onetwo/ot.py" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "backends/")) for n in names)
