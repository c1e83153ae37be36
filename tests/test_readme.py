"""Every code block of README.md runs as written: a reader's first hour must not fail.

The Python blocks run in order in one namespace, as a reader pastes them into one
notebook, in a temporary working directory, on the embedded model. The OpenAI half of
the side-by-side block goes to the same llama.cpp server through the OpenAI SDK's own
environment variables (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``), as any user pointing it
at an OpenAI-compatible server would. A block that starts with ``# name.py`` is a file:
it is written out, and the shell block that uses it runs in a subprocess. The block of
setup commands is what CI runs (``.ci/run``); it is checked to be exactly that.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.rig.availability import rig_missing

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.DOTALL | re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class Block:
    language: str
    text: str
    line: int

    @property
    def file_name(self) -> str | None:
        """``solve.py`` for a block that starts with ``# solve.py``."""
        match = re.match(r"# (\S+\.py)\n", self.text)
        return match.group(1) if match else None


def blocks() -> list[Block]:
    text = README.read_text()
    return [
        Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
        for m in FENCE.finditer(text)
    ]


def snippets() -> list[Block]:
    return [b for b in blocks() if b.language == "python" and b.file_name is None]


def files() -> list[Block]:
    return [b for b in blocks() if b.file_name is not None]


def commands() -> list[Block]:
    return [b for b in blocks() if b.language == "bash" and ".ci/setup.sh" not in b.text]


def test_every_block_is_run_by_a_test() -> None:
    every = blocks()
    ci = [b for b in every if ".ci/setup.sh" in b.text]
    assert len(snippets()) + len(files()) + len(commands()) + len(ci) == len(every)
    assert {b.language for b in every} <= {"python", "bash"}
    assert len(snippets()) >= 2 and files() and commands()


def test_the_setup_block_is_what_ci_runs() -> None:
    [block] = [b for b in blocks() if ".ci/setup.sh" in b.text]
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = "bash .ci/setup.sh && .venv/bin/python -m pytest"
    assert test_command in block.text and test_command in ci
    assert "bash .ci/setup.sh && .venv/bin/python -m onetwo.demo" in block.text
    assert (ROOT / "onetwo" / "demo.py").is_file()  # run by tests/test_demo.py


@pytest.fixture
def rig_url() -> str:
    reason = rig_missing()
    if reason:
        pytest.skip(f"the local model rig is missing: {reason}")
    from onetwo.backends.local import shared_server

    return shared_server("smollm2").start(timeout=60)


@pytest.mark.rig
@pytest.mark.slow
def test_the_python_blocks_run_in_order(
    rig_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENAI_BASE_URL", rig_url + "/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-readme-test")
    namespace: dict[str, object] = {"__name__": "__readme__"}
    for block in snippets():
        if "openai" in block.text and importlib.util.find_spec("onetwo.builtins.choice") is None:
            pytest.skip(
                f"README.md:{block.line} needs llm.select on OpenAIAPI (constrained choice, "
                "onetwo/builtins/choice.py), which is not in this tree yet"
            )
        code = compile(block.text, f"README.md:{block.line}", "exec")
        exec(code, namespace)
    printed = capsys.readouterr().out
    assert printed.strip(), "the README's blocks print their results"
    assert (tmp_path / "experiments" / "colors").is_dir()  # the cache folder it names


@pytest.mark.rig
@pytest.mark.slow
def test_the_command_line_block_runs(rig_url: str, tmp_path: Path) -> None:
    del rig_url  # the subprocess starts its own embedded server; this skips without one
    for block in files():
        (tmp_path / str(block.file_name)).write_text(block.text)
    [command] = commands()
    # The dataset's example line, as the block's comment shows it.
    [example] = re.findall(r"^# (\{.*\})$", command.text, re.MULTILINE)
    (tmp_path / "capitals.jsonl").write_text(example + "\n")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out = subprocess.run(
        ["bash", "-c", command.text],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    lines = (tmp_path / "runs/first/results.jsonl").read_text().splitlines()
    [row] = [json.loads(line) for line in lines]
    assert row["id"] == "fr"
    assert (tmp_path / "runs/first/summary.json").is_file()
