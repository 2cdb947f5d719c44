"""A run directory with a corrupt file: one line naming the file, exit code 2, and the tables already written stay as
they were. What a live or interrupted sweep leaves (a report line cut short, a trial that never reported) still loads.
"""

from __future__ import annotations

import json
import os

import pytest

import analysis
from analysis.__main__ import main as cli
from analysis.outputs import FORMATS, output_names

BASE = "default (1e-4→1e-5 @50%)"
STALE = b"\n(an earlier analysis)\n"  # appended to every output, so that a rewrite shows even with the same numbers


def report(step: int, psnr: float, stop: str = "running") -> dict:
    return {"step": step, "progress": step / 4, "val/psnr": psnr, "val/ssim": 0.5, "cost/params": 10,
            "stop_reason": stop}


def trials() -> list[dict]:
    return [{"id": f"{label[:4]}-{seed}", "params": {"row": label, "seed": seed}, "status": "terminated",
             "results": [report(2, psnr - 1), report(4, psnr + seed, "completed")]}
            for label, psnr in ((BASE, 30.0), ("1e-3", 31.0)) for seed in (0, 1)]


def outputs(run_dir: str) -> dict[str, bytes]:
    """Every file the analysis writes, by name, as bytes."""
    return {name: open(os.path.join(run_dir, name), "rb").read() for name in sorted(os.listdir(run_dir))
            if name.endswith((".md", ".csv", ".tex", ".html"))}


def mark_stale(run_dir: str) -> dict[str, bytes]:
    """Append :data:`STALE` to every output of the run directory; returns the outputs as they now are."""
    for name in outputs(run_dir):
        with open(os.path.join(run_dir, name), "ab") as handle:
            handle.write(STALE)
    return outputs(run_dir)


def assert_not_rewritten(run_dir: str, before: dict[str, bytes]) -> None:
    """Every output is as it was, down to the STALE mark (the analysis writes no timestamp: a rewrite with the same
    numbers would have the same bytes)."""
    after = outputs(run_dir)
    assert after == before
    assert all(text.endswith(STALE) for text in after.values()), [n for n, t in after.items() if not t.endswith(STALE)]


def one_error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def manifest_without(key: str):
    def edit(text: bytes) -> bytes:
        manifest = json.loads(text)
        del manifest[key]
        return json.dumps(manifest).encode()

    return edit


CUT = b'{"step": 3, "val/psnr": 4'  # a report cut short
CORRUPT = {  # file -> (new bytes, or a function of the old ones; None: a folder in its place), words of the message
    "manifest-array": ("manifest.json", b"[]", "manifest.json holds a JSON array, not an object"),
    "manifest-empty": ("manifest.json", b"{}", "manifest.json has no 'space' (the search space's name)"),
    "manifest-no-base": ("manifest.json", manifest_without("base_config"), "manifest.json has no 'base_config'"),
    "manifest-not-utf8": ("manifest.json", b'{"space": "\xff"}', "manifest.json is not UTF-8 text (byte 11)"),
    "manifest-folder": ("manifest.json", None, "manifest.json is a folder, not a file"),
    "result-not-utf8": ("1e-3-0/result.json", lambda old: old + b"\xff\xfe\n", "result.json is not UTF-8 text"),
    "result-bad-step": ("1e-3-0/result.json", lambda old: old + b'{"step": "abc"}\n',
                        'result.json line 3: step "abc" is not a whole number'),
    "result-garbage": ("1e-3-0/result.json", b"garbage\n", "result.json line 1 is not a JSON report"),
    "result-folder": ("1e-3-0/result.json", None, "result.json is a folder, not a file"),
    "params-array": ("1e-3-0/params.json", b"[1, 2]", "params.json holds a JSON array, not an object"),
    "params-garbage": ("1e-3-0/params.json", b"garbage", "params.json is not valid JSON"),
    "params-unknown-row": ("1e-3-0/params.json", b'{"row": "nope", "seed": 0}',
                           "params.json: unknown row 'nope' of space 'lsid_lr'; known: "),
    "params-unknown-key": ("1e-3-0/params.json", b'{"row": "1e-3", "seed": 0, "optim.gamma": 0.9}',
                           "params.json: \"optim.gamma\" is not a parameter of space 'lsid_lr', so its value would "
                           "be ignored; a trial of it records row, optim.lr, optim.milestones, seed"),
    "params-bad-seed": ("1e-3-0/params.json", b'{"row": "1e-3", "seed": "abc"}',
                        "params.json: seed 'abc' is not a whole number"),
    "status-array": ("1e-3-0/status.json", b"[]", "status.json holds a JSON array, not an object"),
    "status-not-utf8": ("1e-3-0/status.json", b"\xff", "status.json is not UTF-8 text"),
    "status-no-status": ("1e-3-0/status.json", b"{}", "status.json has status null"),
}


@pytest.mark.parametrize("case", CORRUPT)
def test_a_corrupt_file_is_one_line_and_nothing_is_rewritten(analysed, capsys, case):
    name, content, words = CORRUPT[case]
    path = os.path.join(analysed, name)
    if content is None:
        os.unlink(path)
        os.mkdir(path)
    else:
        old = open(path, "rb").read()
        with open(path, "wb") as handle:
            handle.write(content(old) if callable(content) else content)
    before = outputs(analysed)
    capsys.readouterr()
    assert cli([analysed]) == 2
    line = one_error_line(capsys)
    assert line.startswith(f"error: {path}") and words in line
    assert_not_rewritten(analysed, before)


def test_a_live_or_interrupted_sweep_still_loads(make_run):
    """A report line cut short (the last one being written, or one a killed driver cut before a resume appended
    after it) is skipped; an empty result.json is a trial that never reported."""
    run_dir = make_run(trials())
    with open(os.path.join(run_dir, "1e-3-0", "result.json"), "ab") as handle:
        handle.write(CUT)
    with open(os.path.join(run_dir, "1e-3-1", "result.json"), "rb+") as handle:
        lines = handle.read().splitlines(keepends=True)
        handle.seek(0)  # cut while reporting step 4, resumed from step 2: the repeated report follows the cut one
        handle.write(lines[0] + CUT + lines[0] + lines[1])
    open(os.path.join(run_dir, f"{BASE[:4]}-0", "result.json"), "wb").close()
    frame = analysis.load_run(run_dir).set_index("trial_id")
    assert frame.loc["1e-3-0", "steps"] == 4 and frame.loc["1e-3-0", "best/val/psnr"] == 31.0
    assert frame.loc["1e-3-1", "steps"] == 4 and frame.loc["1e-3-1", "best/val/psnr"] == 32.0
    assert frame.loc[f"{BASE[:4]}-0", "steps"] == 0
    assert analysis.write_outputs(run_dir).set_index("label").loc["1e-3", "best/val/psnr/mean"] == 31.5


def test_outputs_of_an_earlier_analysis_do_not_stay_behind(make_run):
    run_dir = make_run([t for t in trials() if t["params"]["row"] == "1e-3"])  # the space's baseline is not run
    analysis.write_outputs(run_dir, baseline="1e-3")
    assert {"vs_baseline.md", "vs_baseline.csv", "vs_baseline.tex", "report.html"} <= set(outputs(run_dir))
    report = mark_stale(run_dir)["report.html"]
    analysis.write_outputs(run_dir, formats=["md", "csv", "tex"])  # no baseline now
    written = outputs(run_dir)
    assert not set(written) & {"vs_baseline.md", "vs_baseline.csv", "vs_baseline.tex"}
    assert written["report.html"] == report and report.endswith(STALE)  # a format not asked for is left as it was
    assert not written["table.md"].endswith(STALE)  # the formats asked for are written again
    assert set(written) <= output_names(FORMATS)  # every file an analysis writes is one it knows to remove


def test_an_empty_format_and_a_file_for_a_run_dir_are_refused(analysed, capsys):
    before = outputs(analysed)
    capsys.readouterr()
    for fmt in ("", ","):
        assert cli([analysed, "--format", fmt]) == 2
        assert one_error_line(capsys) == "error: no format given; known: md, csv, tex, html"
    assert_not_rewritten(analysed, before)
    table = os.path.join(analysed, "table.md")
    assert cli([table]) == 2
    assert one_error_line(capsys) == (f"error: {table} is a file, not a run directory; "
                                      "run directories are runs/<space>/<name>")
    assert_not_rewritten(analysed, before)
