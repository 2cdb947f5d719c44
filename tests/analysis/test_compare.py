"""``python -m analysis compare``: runs of one space side by side, configurations matched by label, paired
differences by seed; a real run against its copy (the same sweep on two machines) differs by exactly zero."""

from __future__ import annotations

import json
import os
import shutil

import pandas as pd
import pytest

from analysis.__main__ import main as cli
from analysis.compare import compare_runs
from tests.analysis.test_load import BASE, trials


def _shifted(run_dir: str, target: str, shifts: dict[str, float]) -> str:
    """A copy of ``run_dir`` whose trials (by folder) report val/psnr higher by ``shifts[folder]``."""
    shutil.copytree(run_dir, target)
    for folder, shift in shifts.items():
        path = os.path.join(target, folder, "result.json")
        with open(path, encoding="utf-8") as handle:
            reports = [json.loads(line) for line in handle if line.strip()]
        with open(path, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps({**r, "val/psnr": r["val/psnr"] + shift}) + "\n" for r in reports)
    return target


def test_configurations_are_matched_by_label_with_paired_differences(make_run, tmp_path):
    first = make_run(trials())
    second = _shifted(first, str(tmp_path / "lsid_lr" / "second"),
                      {"1e-3-0": 0.5, "1e-3-1": 0.5, "defa-0": 1.0, "defa-1": 0.0})
    table, numbers, figure = compare_runs([first, second])
    numbers = numbers.set_index("label")
    assert table.columns == ["configuration", "handmade", "second", "second − handmade", "p"]
    assert table.title == "lsid_lr, psnr (val, dB) ↑: handmade vs second"  # the runs' metric, unit and direction
    assert numbers.loc["1e-3", "handmade/mean"] == 31.0 and numbers.loc["1e-3", "second/mean"] == 31.5
    assert numbers.loc["1e-3", "second-handmade/mean"] == pytest.approx(0.5)
    assert numbers.loc["1e-3", "second-handmade/n"] == 2 and numbers.loc["1e-3", "second-handmade/ci"] == 0
    assert numbers.loc[BASE, "second-handmade/mean"] == pytest.approx(0.5)  # seeds +1 and +0
    assert numbers.loc[BASE, "second-handmade/ci"] > 6  # two seeds that disagree: a wide interval
    assert numbers.loc["1e-4", "handmade/n"] == 1  # its second seed never finished
    assert numbers.loc["1e-5", "handmade/n"] == 0  # crashed and never reported
    row = next(r for r in table.rows if r[0] == "1e-3")
    assert row[1:4] == ["31.00 ± 0.00 (n=2)", "31.50 ± 0.00 (n=2)", "0.5000 ± 0.0000 (n=2)"]
    assert [trace.name for trace in figure.data] == ["handmade", "second"]


def test_the_command_writes_one_table_and_one_report(make_run, tmp_path, capsys):
    first = make_run(trials())
    second = _shifted(first, str(tmp_path / "lsid_lr" / "second"), {"1e-3-0": 0.5})
    out = str(tmp_path / "cmp")
    assert cli(["compare", first, second, "--out", out]) == 0
    assert capsys.readouterr().out.split() == [os.path.join(out, n) for n in ("compare.md", "compare.csv",
                                                                                "compare.html")]
    with open(os.path.join(out, "compare.md"), encoding="utf-8") as handle:
        markdown = handle.read()
    assert "| 1e-3 | 31.00 ± 0.00 (n=2) | 31.25 ± 3.18 (n=2) | 0.25 ± 3.18 (n=2) |" in markdown
    assert set(pd.read_csv(os.path.join(out, "compare.csv"))["label"]) == {BASE, "1e-3", "1e-4", "1e-5", "1e-6"}
    with open(os.path.join(out, "compare.html"), encoding="utf-8") as handle:
        html = handle.read()
    assert "<table" in html and "plotly" in html and "1e-3" in html


def test_runs_of_different_spaces_or_a_single_run_are_refused(make_run, tmp_path, capsys):
    first = make_run(trials())
    other = str(tmp_path / "lamba" / "other")
    shutil.copytree(first, other)
    path = os.path.join(other, "manifest.json")
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({**manifest, "space": "lamba_rdb"}, handle)
    assert cli(["compare", first, other, "--out", str(tmp_path / "cmp")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "compare matches configurations of one space, but these runs are of 2" in err[0]
    assert cli(["compare", first]) == 2
    assert capsys.readouterr().err.strip() == "error: compare needs two or more run directories; got 1"
    assert not os.path.exists(tmp_path / "cmp")


def test_a_real_run_against_its_copy_differs_by_exactly_zero(smoke_run, tmp_path):
    copy = str(tmp_path / "machine_b" / "e2e")
    shutil.copytree(smoke_run, copy)
    table, numbers, _ = compare_runs([smoke_run, copy])
    assert table.columns[1:3] == ["lsid_lr/e2e", "machine_b/e2e"]  # two runs named e2e: their parents tell apart
    assert len(numbers) == 2
    assert (numbers["machine_b/e2e-lsid_lr/e2e/mean"] == 0).all()
    assert (numbers["machine_b/e2e-lsid_lr/e2e/n"] == 2).all()
