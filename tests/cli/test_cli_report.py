"""``report.html``: well-formed, escaped, with the summary table; and, when Chromium is
installed, rendered by headless Chromium with no console errors."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.cli.harness import FOUR, Cli
from tests.cli.harness import RUN as BASE

RUN = (
    *BASE,
    *FOUR,
    "--backend=fake:script",
    "--backend_args=default_reply=<script>alert(1)</script>",
    "--output_dir=out",
)
VOID = {"meta", "br", "hr", "img", "input", "link"}


class _Page(HTMLParser):
    """Checks that tags nest, and collects the text of the summary table's cells."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.scripts = 0
        self.in_summary = 0
        self.summary_cells: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        if tag in VOID:
            return
        self.open.append(tag)
        if ("id", "summary") in attrs:
            self.in_summary = len(self.open)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-3:]}"
        if self.in_summary == len(self.open):
            self.in_summary = 0
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.in_summary and self.open[-1] in ("td", "th") and data.strip():
            self.summary_cells.append(data.strip())


@pytest.fixture
def report(cli: Cli) -> Path:
    done = cli(*RUN)
    assert done.returncode == 0, done.stderr
    return cli.folder / "out" / "report.html"


def test_report_is_well_formed_and_has_the_summary_table(report: Path) -> None:
    page = _Page()
    page.feed(report.read_text())
    page.close()
    assert page.open == []
    assert page.scripts == 0  # the reply "<script>..." is shown as text, never run
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in report.read_text()
    cells = page.summary_cells
    assert cells[:3] == ["backend", "examples", "errors"] and "exact" in cells
    assert ["fake:four", "10", "0", "1.000 ± 0.000"] == cells[cells.index("fake:four") :][:4]
    assert "fake:script" in cells
    text = report.read_text()
    assert "Traces" in text and "llm.generate_text" in text  # traces one click away


@pytest.mark.skipif(
    shutil.which("chromium") is None,
    reason="chromium is not installed (CI: apt-get install -y chromium)",
)
def test_report_renders_in_headless_chromium_without_console_errors(report: Path) -> None:
    shown = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    dom = shown.stdout
    assert 'id="summary"' in dom and "fake:four" in dom and "1.000 ± 0.000" in dom
    assert "fake:five" not in dom
    console = [line for line in shown.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [] and "Uncaught" not in shown.stderr
