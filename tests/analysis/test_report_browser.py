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


def _smoke_report(smoke_run) -> str:
    report = os.path.join(smoke_run, "report.html")
    if not os.path.exists(report):
        import analysis

        analysis.write_outputs(smoke_run)
    return report


@pytest.fixture(scope="module")
def clicked(smoke_run, tmp_path_factory) -> tuple[str, subprocess.CompletedProcess]:
    """The smoke run's report and its DOM as headless Chromium leaves it (one page load for three tests): the page
    with the error hook, the trials table's header clicked twice (``CLICKS``) and the image grid's buttons
    (``IMAGE_CLICKS``), each recording what it saw in attributes of <html>."""
    folder = tmp_path_factory.mktemp("browser")
    html = open(_smoke_report(smoke_run), encoding="utf-8").read()
    hooked = folder / "report.html"
    hooked.write_text(html.replace("<head>", "<head>" + HOOK, 1).replace("</body>", CLICKS + IMAGE_CLICKS + "</body>"),
                      encoding="utf-8")
    return html, chromium(folder, "--window-size=1280,2400", "--dump-dom", hooked.as_uri())


def test_report_renders_in_headless_chromium(smoke_run, clicked, tmp_path):
    report = _smoke_report(smoke_run)
    html, dumped = clicked
    figures = re.findall(r'<div id="(fig-[^"]+)" class="plotly-graph-div"', html)
    assert len(figures) >= 7, figures  # parameters, isolation, curves, parallel coordinates, bars, cost, images
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
    # the learning curves per configuration: one legend entry per configuration, the ranked leader first
    curves = chunks[figures.index("fig-curves")] if "fig-curves" in figures else ""
    assert "mean over seeds" in curves and re.search(r'class="legendtext"[^>]*>#1 ', curves), curves[:500]

    screenshot = tmp_path / "report.png"
    shot = chromium(tmp_path, "--window-size=1280,2400", f"--screenshot={screenshot}", Path(report).as_uri())
    assert shot.returncode == 0 and console_errors(shot.stderr) == []
    assert screenshot.stat().st_size > 50_000
    with open(screenshot, "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"



# Clicks the "seed" header of the trials table twice once the page has loaded, recording the seeds' order after each
# click and the table's data-sorted attribute in attributes of <html> that --dump-dom shows.
CLICKS = """<script>window.addEventListener('load', function () {
  var table = document.querySelectorAll('table.sortable');
  table = table[table.length - 1];
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells), column = -1;
  heads.forEach(function (th, i) { if (th.textContent === 'seed') { column = i; } });
  function seeds() {
    var rows = table.tBodies[0].rows;
    return JSON.stringify(Array.prototype.map.call(rows, function (r) { return r.cells[column].textContent; }));
  }
  heads[column].click();
  document.documentElement.setAttribute('data-asc', seeds());
  heads[column].click();
  document.documentElement.setAttribute('data-desc', seeds());
  document.documentElement.setAttribute('data-sorted', table.getAttribute('data-sorted'));
  var results = document.querySelector('table.sortable').tHead.rows[0].cells;
  document.documentElement.setAttribute('data-heads', JSON.stringify(Array.prototype.map.call(results,
    function (th) { return th.textContent; })));
});</script>"""


def _attribute(dom: str, name: str):
    found = re.search(rf'{name}="([^"]*)"', dom)
    assert found is not None, f"{name} not set: the page's script did not run"
    return json.loads(found.group(1).replace("&quot;", '"')) if found.group(1).startswith(("[", "&quot;")) \
        else found.group(1)


def test_tables_sort_and_the_contents_link_every_section(smoke_run, clicked, tmp_path):
    import analysis

    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run, run_dir)
    analysis.write_outputs(str(run_dir), formats=["html"], evaluate=False)
    for html in ((run_dir / "report.html").read_text(encoding="utf-8"), clicked[0]):  # html alone, and the run's own
        anchors = re.findall(r"<h2 id='([^']+)'>", html)
        links = re.findall(r"<li><a href='#([^']+)'>", html)
        assert links == anchors and {"results", "trials", "sec-curves"} <= set(anchors)
        assert html.count("<table class='sortable'>") >= 2
    dumped = clicked[1]
    assert dumped.returncode == 0 and console_errors(dumped.stderr) == []
    assert _attribute(dumped.stdout, "data-errors") == []
    ascending, descending = _attribute(dumped.stdout, "data-asc"), _attribute(dumped.stdout, "data-desc")
    assert ascending == ["0", "0", "1", "1"] and descending == ["1", "1", "0", "0"]
    assert _attribute(dumped.stdout, "data-sorted") == "2:desc"
    # the results table as the browser shows it: units and which way is better in every metric's header
    heads = _attribute(dumped.stdout, "data-heads")
    split = "test" if "psnr (test, dB) ↑" in heads else "val"
    assert heads[3:5] == [f"psnr ({split}, dB) ↑", f"ssim ({split}) ↑"], heads
    assert {"params ↓", "MACs ↓", "latency (ms) ↓"} <= set(heads), heads


def test_one_plotly_js_beside_the_report_with_plotlyjs_directory(smoke_run, tmp_path):
    from analysis.__main__ import main as cli

    run_dir = tmp_path / "run"
    shutil.copytree(smoke_run, run_dir)
    assert cli([str(run_dir), "--format", "html", "--plotlyjs", "directory"]) == 0
    report = (run_dir / "report.html").read_text(encoding="utf-8")
    inline = open(os.path.join(smoke_run, "report.html"), encoding="utf-8").read()
    assert report.count('<script charset="utf-8" src="plotly.min.js"></script>') == 1
    assert (run_dir / "plotly.min.js").stat().st_size > 3_000_000 > len(report.encode())
    assert len(inline.encode()) - len(report.encode()) > 3_000_000
    dumped = chromium(tmp_path, "--dump-dom", (run_dir / "report.html").as_uri())
    assert dumped.returncode == 0 and console_errors(dumped.stderr) == []
    chunks = figure_chunks(dumped.stdout)
    assert len(chunks) >= 7 and all("main-svg" in chunk for chunk in chunks)


# Clicks the image grid's "1:1" button, then its difference view, recording each drawn image's size on screen and the
# end of its source (the images and the differences are different PNGs) in attributes of <html>.
IMAGE_CLICKS = """<script>window.addEventListener('load', function () {
  var gd = document.getElementById('fig-images');
  function click(prefix) {
    var found = Array.prototype.filter.call(gd.querySelectorAll('g.updatemenu-button'),
      function (b) { return b.textContent.indexOf(prefix) === 0; });
    found[0].dispatchEvent(new MouseEvent('click', {bubbles: true}));
  }
  function shown() {
    return JSON.stringify(Array.prototype.map.call(gd.querySelectorAll('g.imagelayer image'), function (i) {
      var href = i.getAttribute('href') || i.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '';
      return [Math.round(Number(i.getAttribute('width'))), href.slice(-24)];
    }));
  }
  setTimeout(function () {
    document.documentElement.setAttribute('data-fit', shown());
    click('1:1');
    setTimeout(function () {
      document.documentElement.setAttribute('data-one', shown());
      click('|image');
      setTimeout(function () { document.documentElement.setAttribute('data-diff', shown()); }, 500);
    }, 500);
  }, 500);
});</script>"""


def test_image_grid_zooms_to_one_to_one_and_shows_the_difference_to_target(clicked):
    import base64
    import io

    from PIL import Image

    html, dumped = clicked
    grid = html[html.index('id="fig-images"'):].replace("\\u002f", "/")  # plotly's JSON escapes every "/"
    first = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", grid)
    side = Image.open(io.BytesIO(base64.b64decode(first.group(1)))).size[0]  # the crop's pixels
    assert dumped.returncode == 0 and console_errors(dumped.stderr) == []
    assert _attribute(dumped.stdout, "data-errors") == []
    fit, one, diff = (_attribute(dumped.stdout, f"data-{name}") for name in ("fit", "one", "diff"))
    assert len(fit) >= 4 and len(one) == len(fit) == len(diff), (fit, one, diff)
    assert {width for width, _ in one} == {side}, (side, fit, one, diff)  # one image pixel per screen pixel
    assert [source for _, source in diff] != [source for _, source in one]  # other pictures: the differences
    assert {width for width, _ in diff} == {side}
