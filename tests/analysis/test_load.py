"""Loading finished, partial and resumed run directories, and writing every output from one."""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

import analysis
from analysis.__main__ import main as cli
from restore_core.errors import UserError


def report(step: int, psnr: float, ssim: float, stop: str = "running", **extra) -> dict:
    """One evaluation report as the loop writes it (the reference metrics and cost are constant)."""
    return {"step": step, "progress": step / 4, "lr": 1e-4, "train/loss": 0.5, "val/psnr": psnr, "val/ssim": ssim,
            "val/ref_psnr": 20.0, "val/delta_psnr": psnr - 20.0, "cost/params": 121816, "cost/macs": 3129344,
            "cost/latency_ms": 0.9, "stop_reason": stop, "label": "x", **extra}


BASE = "default (1e-4→1e-5 @50%)"


def trials() -> list[dict]:
    def done(label, seed, psnr, **extra):
        return {"id": f"{label[:4]}-{seed}", "params": {"row": label, "seed": seed}, "status": "terminated",
                "results": [report(2, psnr - 1, 0.5), report(4, psnr, 0.6, "completed", **extra)]}

    return [
        done(BASE, 0, 30.0, **{"baseline/bm3d/psnr": 27.0}), done(BASE, 1, 30.5, **{"baseline/bm3d/psnr": 27.5}),
        done("1e-3", 0, 31.0), done("1e-3", 1, 31.0),
        # resumed: the reports after the last checkpoint (step 2) repeat; the latest of each step wins
        {"id": "1e-4-0", "params": {"row": "1e-4", "seed": 0}, "status": "terminated",
         "results": [report(2, 25.0, 0.4), report(4, 26.0, 0.4, "completed"), report(2, 28.0, 0.5),
                     report(4, 29.0, 0.55, "completed")]},
        # partial: never ended (no status.json), and never reported (no result.json)
        {"id": "1e-4-1", "params": {"row": "1e-4", "seed": 1}, "results": [report(2, 28.5, 0.5)]},
        {"id": "1e-5-0", "params": {"row": "1e-5", "seed": 0}, "results": None},
        {"id": "1e-5-1", "params": {"row": "1e-5", "seed": 1}, "status": "error", "error": "RuntimeError: boom",
         "results": [report(2, 20.0, 0.1)]},
        {"id": "1e-6-0", "params": {"row": "1e-6", "seed": 0}, "status": "terminated",
         "results": [report(2, 22.0, 0.2), report(4, math.nan, math.nan, "nan")]},
    ]


def test_load_run_finished_partial_and_resumed(make_run):
    frame = analysis.load_run(make_run(trials())).set_index("trial_id")
    assert len(frame) == 9
    assert frame.loc["1e-3-0", "label"] == "1e-3" and frame.loc["1e-3-1", "seed"] == 1
    assert frame.loc["1e-4-0", "steps"] == 4 and frame.loc["1e-4-0", "best/val/psnr"] == 29.0  # latest report wins
    assert frame.loc["1e-4-0", "last/val/ssim"] == 0.55
    assert (frame.loc["1e-4-1", "status"], frame.loc["1e-4-1", "best/val/psnr"]) == ("unfinished", 28.5)
    assert frame.loc["1e-5-0", "status"] == "unfinished" and frame.loc["1e-5-0", "steps"] == 0
    assert math.isnan(frame.loc["1e-5-0", "cost/params"])
    assert (frame.loc["1e-5-1", "status"], frame.loc["1e-5-1", "reason"]) == ("error", "RuntimeError: boom")
    assert frame.loc["1e-6-0", "status"] == "nan" and frame.loc["1e-6-0", "best/val/psnr"] == 22.0
    assert frame.loc[f"{BASE[:4]}-0", "cost/macs"] == 3129344 and frame.loc["1e-3-0", "cost/latency_ms"] == 0.9
    assert frame.loc["1e-3-0", "config/optim.lr"] == 1e-3 and frame.loc["1e-3-0", "param/row"] == "1e-3"
    curves = analysis.load_curves(make_run(trials()))
    assert list(curves[curves["trial_id"] == "1e-4-0"]["val/psnr"]) == [28.0, 29.0]


def test_write_outputs_writes_every_table(make_run):
    run_dir = make_run(trials(), pairs=[{"a": "1e-3", "b": BASE, "kind": "schedule"}])
    table = analysis.write_outputs(run_dir)
    for name in ("results.csv", "curves.csv", "table.md", "table.csv", "table.tex", "pairs.md", "pairs.csv",
                 "vs_baseline.md", "reported_vs_measured.md", "reported_vs_measured.tex", "report.html"):
        assert os.path.getsize(os.path.join(run_dir, name)) > 0, name
    assert table.iloc[0]["label"] == "1e-3" and table.iloc[0]["best/val/psnr/mean"] == 31.0
    markdown = open(os.path.join(run_dir, "table.md"), encoding="utf-8").read()
    assert "| — | baseline: bm3d |  | 27.25 ± 3.18 (n=2) |" in markdown  # 12.706 · 0.3536 / √2
    # a diverged trial is not counted: its configuration has no value, and shows as infeasible
    assert "| — | 1e-6 | nan at step 4 | — | — | — | — | 122 k | 3.13 M | 0.9000 | 0/1 | 1/1 | nan 1 |" in markdown
    # the resumed trial completed (29.0); the unfinished one (28.5 at step 2) is a row of its own, not ranked
    assert "| 3 | 1e-4 | completed (4 steps) | 29.00 (n=1) |" in markdown
    assert "| — | 1e-4 | unfinished at step 2 | unfinished at step 2: 28.50 (n=1) at that step |" in markdown
    assert "| — | 1e-5 | unfinished at step 0 | — |" in markdown and "| 0/2 | 1/2 | unfinished 1, error 1 |" in markdown
    pairs = open(os.path.join(run_dir, "pairs.md"), encoding="utf-8").read()
    # the verdict's comparison is the declared pair: one test in the family, so Holm leaves its p as it is
    assert f"| schedule | 1e-3 − {BASE} | 0.75 ± 3.18 (n=2) | 0.205 | 0.205 |" in pairs
    html = open(os.path.join(run_dir, "report.html"), encoding="utf-8").read()
    assert html.count("plotly-graph-div") >= 5
    assert "<script src" not in html and html.count("* plotly.js v") == 1  # inline, once


def test_formats_and_explicit_baseline(make_run):
    run_dir = make_run(trials())
    analysis.write_outputs(run_dir, baseline="1e-3", formats=["md"])
    written = sorted(f for f in os.listdir(run_dir) if "." in f and not f.startswith("."))
    assert written == ["best.json", "curves.csv", "manifest.json", "reported_vs_measured.md", "reproduce.md",
                       "results.csv", "table.md", "vs_baseline.md"]
    text = open(os.path.join(run_dir, "vs_baseline.md"), encoding="utf-8").read()
    assert f"| vs baseline | {BASE} − 1e-3 | -0.75 ± 3.18 (n=2) | 0.205 | 0.205 |" in text
    with pytest.raises(UserError, match="unknown format 'pdf'; known: md, csv, tex, html"):
        analysis.write_outputs(run_dir, formats=["pdf"])


def test_cli_bad_input_is_one_line_and_exit_code_2(make_run, tmp_path, capsys):
    assert cli([str(tmp_path / "missing")]) == 2
    assert cli([str(tmp_path)]) == 2
    run_dir = make_run(trials())
    assert cli([run_dir, "--baseline", "nope"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3 and all(line.startswith("error: ") for line in lines)
    assert "is not a run directory" in lines[0] and "no manifest.json" in lines[1]
    assert lines[2] == f"error: unknown baseline label 'nope'; known: 1e-3, 1e-4, 1e-5, 1e-6, {BASE}"
    capsys.readouterr()
    assert cli([run_dir, "--format", "md,csv"]) == 0
    assert os.path.exists(os.path.join(run_dir, "table.csv"))
    assert not os.path.exists(os.path.join(run_dir, "report.html"))
    assert "left from an earlier analysis" not in capsys.readouterr().out
    assert cli([run_dir, "--format", "html"]) == 0  # the tables of md and csv stay, and are named as older
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"{run_dir}: best.json, curves.csv, report.html, reproduce.md, results.csv"
    assert out[1] == ("left from an earlier analysis (not rewritten): reported_vs_measured.csv, "
                      "reported_vs_measured.md, table.csv, table.md, vs_baseline.csv, vs_baseline.md")


def test_a_run_without_trials_still_gets_its_files(make_run):
    run_dir = make_run([{"id": "1e-3-0", "params": {"row": "1e-3", "seed": 0}, "results": None}])
    table = analysis.write_outputs(run_dir)
    assert list(table["label"]) == ["1e-3"] and table.iloc[0]["trials"] == 1
    empty = make_run([])
    analysis.write_outputs(empty)
    assert open(os.path.join(empty, "table.md"), encoding="utf-8").read().startswith(
        "Verdict: no trial has reported a value yet; there is nothing to compare.\n\n| rank | configuration |")
    html = open(os.path.join(empty, "report.html"), encoding="utf-8").read()
    assert "<h1>lsid_lr / handmade</h1>" in html
    # a manifest from before it recorded the space's note: the space's current one
    assert "<th>how to read it</th><td>Grid search runs the study&#x27;s ten schedules;" in html


@pytest.mark.parametrize("search, flagged", [("grid", False), ("random", True)])
def test_only_a_sampled_search_is_told_to_widen_its_range(make_run, search, flagged):
    best_at_the_edge = [
        {"id": f"{label}-{seed}", "params": {"row": label, "seed": seed}, "status": "terminated",
         "results": [report(4, psnr + seed, 0.5, "completed")]}
        for label, psnr in (("1e-7", 30.0), ("1e-4", 25.0)) for seed in (0, 1)
    ]
    result = analysis.analyse(make_run(best_at_the_edge, search=search))
    assert result.boundary["flag"].tolist() == ([True] if flagged else [])
    notes = " ".join(result.tables["table"][0].notes)
    assert ("boundary: the best optim.lr = 1e-07 lies in the lower 10 %" in notes) is flagged


def test_close_sampled_values_are_two_configurations_not_one(make_run):
    def trial(name: str, lr: float, seed: int, psnr: float) -> dict:
        return {"id": name, "params": {"optim.lr": lr, "optim.milestones": "none", "seed": seed},
                "status": "terminated", "results": [report(4, psnr, 0.5, "completed")]}

    # 7.471e-4 and 7.474e-4 print alike with three digits; the same rate with two seeds is one configuration
    run = make_run([trial("a", 7.471e-4, 0, 30.0), trial("b", 7.474e-4, 0, 20.0), trial("c", 1e-4, 0, 25.0),
                    trial("d", 1e-4, 1, 26.0)], search="optuna")
    frame = analysis.load_run(run).set_index("trial_id")
    assert frame.loc["a", "label"] == "lr=0.0007471, decay=none"
    assert frame.loc["b", "label"] == "lr=0.0007474, decay=none"
    assert frame.loc["c", "label"] == frame.loc["d", "label"] == "lr=0.0001, decay=none"
    curves = analysis.load_curves(run).drop_duplicates("trial_id").set_index("trial_id")["label"]
    assert curves.to_dict() == frame["label"].to_dict()
    table = analysis.analyse(run).tables["table"][0]
    assert [[row[1], row[3]] for row in table.rows] == [["lr=0.0007471, decay=none", "30.00 (n=1)"],
                                                      ["lr=0.0001, decay=none", "25.50 ± 6.35 (n=2)"],
                                                      ["lr=0.0007474, decay=none", "20.00 (n=1)"]]


def test_an_infinite_value_is_never_a_trials_best(make_run):
    # psnr() is inf where output and target are equal: the best is the finite evaluation, SSIM taken there too
    finite_then_inf = {"id": "inf", "params": {"row": "1e-3", "seed": 0}, "status": "terminated",
                       "results": [report(2, 29.0, 0.6), report(4, math.inf, 0.99, "completed")]}
    frame = analysis.load_run(make_run([finite_then_inf])).set_index("trial_id")
    assert (frame.loc["inf", "best/val/psnr"], frame.loc["inf", "best/val/ssim"]) == (29.0, 0.6)


def test_a_resumed_life_replaces_the_earlier_ones_reports_from_its_step_on(make_run):
    # the first life reported steps 2, 4, 6; the second resumed from step 2 and has reported step 4 so far
    resumed = {"id": "res", "params": {"row": "1e-3", "seed": 0},
               "results": [report(2, 25.0, 0.4), report(4, 26.0, 0.5), report(6, 28.0, 0.6), report(4, 27.0, 0.55)]}
    run = make_run([resumed])
    frame = analysis.load_run(run).set_index("trial_id")
    assert (frame.loc["res", "steps"], frame.loc["res", "best/val/psnr"]) == (4, 27.0)
    assert list(analysis.load_curves(run)["step"]) == [2, 4]


def test_the_image_grid_never_shows_a_trial_the_tables_leave_out(make_run):
    from analysis.images import pick_trials
    from analysis.rows import build_rows

    def trial(name, seed, psnr, status="terminated", error=None):
        return {"id": name, "params": {"row": "1e-3", "seed": seed}, "status": status, "error": error,
                "results": [report(4, psnr, 0.5, "completed")]}

    frame = analysis.load_run(make_run([trial("ok", 0, 25.0), trial("crashed", 1, 40.0, "error", "RuntimeError: x"),
                                        trial("exact", 2, math.inf)]))
    picks = pick_trials(build_rows(frame, "val/psnr", "max"), "best/val/psnr", None)
    assert [(row.label, trial["trial_id"]) for row, trial in picks] == [("1e-3", "ok")]


def test_each_trial_names_the_node_of_its_last_report(make_run):
    moved = {"id": "moved", "params": {"row": BASE, "seed": 0}, "status": "terminated",  # its first node died
             "results": [report(2, 28.0, 0.5, node_id="n-lost"), report(4, 29.0, 0.6, "completed", node_id="n-head")]}
    older = {"id": "older", "params": {"row": BASE, "seed": 1}, "status": "terminated",  # a run from before node ids
             "results": [report(4, 29.0, 0.6, "completed")]}
    frame = analysis.load_run(make_run([moved, older])).set_index("trial_id")
    assert frame.loc["moved", "node_id"] == "n-head" and pd.isna(frame.loc["older", "node_id"])
