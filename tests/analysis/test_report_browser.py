"""The report opened in headless Chromium: no console errors, every figure rendered, a screenshot written.

Needs the system package (``apt-get install -y chromium``); skipped with that reason where it is missing, except
where ``REQUIRE_BROWSER`` is set (CI): there a missing browser fails the test."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium")  # where .ci/setup --test looks for it (command -v chromium)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--enable-logging=stderr",
         "--v=0", "--virtual-time-budget=10000",
         # software WebGL for the parallel-coordinates figure; Chromium no longer falls back to it on its own
         "--enable-unsafe-swiftshader"]
# Chromium logs console.error like console.log, so the copy under test records errors in an attribute of <html>
# that --dump-dom shows.
HOOK = """<script>(function () {
  var seen = [];
  function keep(text) {
    seen.push(String(text));
    document.documentElement.setAttribute('data-errors', JSON.stringify(seen));
  }
  var original = console.error;
  console.error = function () { keep(Array.prototype.join.call(arguments, ' ')); original.apply(console, arguments); };
  window.addEventListener('error', function (e) { keep('Uncaught ' + e.message); });
  window.addEventListener('unhandledrejection', function (e) { keep('Unhandled rejection ' + e.reason); });
  document.documentElement.setAttribute('data-errors', '[]');
})();</script>"""

pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get("REQUIRE_BROWSER"),
                                reason="chromium is not on PATH: install it with apt-get install -y chromium")


@pytest.fixture(autouse=True, scope="session")  # before the session's sweep that the test reads
def _browser():
    assert CHROMIUM, "REQUIRE_BROWSER is set but chromium is not on PATH (bash .ci/setup --test installs it)"


def chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "Uncaught" in line or "ERROR:CONSOLE" in line]


def figure_chunks(dom: str) -> list[str]:
    """The DOM from each plotly figure div to the next (figure divs never nest)."""
    starts = [m.start() for m in re.finditer(r'<div[^>]*class="[^"]*plotly-graph-div', dom)]
    return [dom[a:b] for a, b in zip(starts, starts[1:] + [len(dom)])]


def test_report_renders_in_headless_chromium(smoke_run, tmp_path):
    report = os.path.join(smoke_run, "report.html")
    if not os.path.exists(report):
        import analysis

        analysis.write_outputs(smoke_run)
    html = open(report, encoding="utf-8").read()
    figures = re.findall(r'<div id="(fig-[^"]+)" class="plotly-graph-div"', html)
    assert len(figures) >= 7, figures  # parameters, isolation, curves, parallel coordinates, bars, cost, images
    hooked = tmp_path / "report.html"
    hooked.write_text(html.replace("<head>", "<head>" + HOOK, 1), encoding="utf-8")

    dumped = chromium(tmp_path, "--dump-dom", hooked.as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    assert console_errors(dumped.stderr) == []
    errors = re.search(r'data-errors="([^"]*)"', dumped.stdout)
    assert errors is not None, "the page's scripts did not run"
    assert json.loads(errors.group(1).replace("&quot;", '"')) == []
    chunks = figure_chunks(dumped.stdout)
    assert len(chunks) == len(figures)
    empty = [name for name, chunk in zip(figures, chunks) if "main-svg" not in chunk]
    assert empty == [], f"figures without rendered content: {empty}"
    assert dumped.stdout.count("<image") >= 4  # input, the two outputs and the target in the image grid

    screenshot = tmp_path / "report.png"
    shot = chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={screenshot}", Path(report).as_uri())
    assert shot.returncode == 0 and console_errors(shot.stderr) == []
    assert screenshot.stat().st_size > 50_000
    with open(screenshot, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"

