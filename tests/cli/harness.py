"""Running ``python -m onetwo.run`` as a user does: a subprocess in a scratch folder.

:class:`Cli` runs the command with the working directory a scratch folder holding
``solve.py`` (a strategy and a metric) and ``qa.jsonl`` (ten examples), and this
repository first on ``PYTHONPATH``, so the subprocess imports the tree under test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# The strategy, dataset and metric every test runs, and the fake backend answering "4".
RUN = ("--strategy=solve.py:solve", "--dataset=qa.jsonl", "--metric=solve.py:exact")
FOUR = ("--backend=fake:four", "--backend_args=default_reply=4")

SOLVE = """\
import asyncio
import os

from onetwo import ot
from onetwo.builtins import llm


@ot.make_executable
async def solve(question: str) -> str:
    if question == os.environ.get("HANG_AT"):  # the SIGINT test: hang here, say so
        with open(os.environ["READY_FILE"], "w") as f:
            f.write("ready")
        await asyncio.Event().wait()
    return (await llm.generate_text(f"Q: {question}\\nA:", max_tokens=8)).strip()


def exact(target, prediction):
    return prediction == target
"""


@dataclasses.dataclass
class Cli:
    """The command, run in ``folder``."""

    folder: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep
        )
        env.update(extra)
        return env

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "onetwo.run", "--noprogress", *args]

    def __call__(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*args),
            cwd=self.folder,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=120,
        )

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.command(*args),
            cwd=self.folder,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def rows(self, output_dir: str = "out") -> list[dict[str, Any]]:
        text = (self.folder / output_dir / "results.jsonl").read_text()
        return [json.loads(line) for line in text.splitlines()]

    def summary(self, output_dir: str = "out") -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.folder / output_dir / "summary.json").read_text())
        return data


def write_dataset(folder: Path, n: int = 10, name: str = "qa.jsonl") -> Path:
    path = folder / name
    lines = [json.dumps({"id": f"q{i}", "question": f"{i}+{i}=", "answer": "4"}) for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path
