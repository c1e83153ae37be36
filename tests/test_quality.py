"""Quality gates that run with the suite: formatting, lint (incl. architecture), types."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ}
    )


@pytest.mark.parametrize(
    "cmd",
    [
        ("ruff", "format", "--check", "onetwo", "backends", "tests", "benchmarks"),
        ("ruff", "check", "onetwo", "backends", "tests", "benchmarks"),
    ],
    ids=["ruff-format", "ruff-check"],
)
def test_ruff(cmd: tuple[str, ...]) -> None:
    out = _run(str(BIN / cmd[0]), *cmd[1:])
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy() -> None:
    out = _run(str(BIN / "mypy"))
    assert out.returncode == 0, out.stdout + out.stderr


def test_core_never_imports_a_model_sdk() -> None:
    banned = ("openai", "google.genai", "google", "xllamacpp", "httpx")
    offenders = []
    for path in [
        *sorted((ROOT / "onetwo" / "core").glob("*.py")),
        ROOT / "onetwo" / "ot.py",
        *sorted((ROOT / "onetwo" / "builtins").glob("*.py")),
    ]:
        for line in path.read_text().splitlines():
            stripped = line.strip()
            for sdk in banned:
                if stripped.startswith((f"import {sdk}", f"from {sdk}")):
                    offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert offenders == []


def test_only_the_runtime_starts_event_loops() -> None:
    offenders = []
    for path in sorted((ROOT / "onetwo").rglob("*.py")):
        if path.name == "runtime.py" or "backends" in path.parts:
            continue
        text = path.read_text()
        for needle in ("asyncio.run(", "new_event_loop(", "run_until_complete(", "asyncio.Runner("):
            if needle in text:
                offenders.append(f"{path.relative_to(ROOT)}: {needle}")
    assert offenders == []
