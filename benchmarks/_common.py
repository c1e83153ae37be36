"""Shared helpers for the benchmark scripts: timing medians, RSS, subprocess runs."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["interleaved", "median_of", "rss_bytes", "run_fresh", "table"]

ROOT = Path(__file__).resolve().parent.parent


def median_of(fn: Callable[[], float], repeats: int) -> tuple[float, list[float]]:
    """Call ``fn`` ``repeats`` times; return the median of what it returns, and all values."""
    values = [fn() for _ in range(repeats)]
    return statistics.median(values), values


def interleaved(
    floor: Callable[[], float], ours: Callable[[], float], repeats: int
) -> tuple[list[float], list[float]]:
    """One warm-up of each, then ``repeats`` alternating runs, so both see the same noise."""
    floor(), ours()
    floors, mine = [], []
    for _ in range(repeats):
        floors.append(floor())
        mine.append(ours())
    return floors, mine


def rss_bytes() -> int:
    """The current resident set size of this process, from /proc (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_fresh(script: Path, *args: str) -> Any:
    """Run ``script`` in a fresh interpreter; it prints one JSON line, returned decoded."""
    out = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows: Sequence[Sequence[str]]) -> str:
    """A markdown table; the first row is the header."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
