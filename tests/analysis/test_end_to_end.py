"""A real smoke sweep through Ray (Optuna, 2 configurations × 2 seeds), then ``python -m analysis`` on it."""

from __future__ import annotations

import os
import subprocess
from html import escape

import pandas as pd

import analysis
from search_spaces import get_space
from tests.worker_forks import python_command

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*python_command(), "-m", "analysis", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)


def test_sweep_then_cli_writes_every_output(smoke_run):
    frame = analysis.load_run(smoke_run)
    assert len(frame) == 4 and set(frame["seed"]) == {0, 1}
    assert (frame["status"] == "completed").all() and (frame["steps"] == 4).all()
    assert frame["cost/params"].gt(0).all() and frame["cost/macs"].gt(0).all()
    labels = list(dict.fromkeys(frame["label"]))
    assert len(labels) == 2 and all(label.startswith("lr=") for label in labels)

    done = run_cli(smoke_run)
    assert done.returncode == 0, done.stderr
    for name in ("table.md", "table.csv", "table.tex", "report.html", "reported_vs_measured.md"):
        assert os.path.getsize(os.path.join(smoke_run, name)) > 0, name
    # 2 sampled configurations × 2 seeds, each evaluated every eval_every steps of the smoke profile's training
    train_config = get_space("lsid_lr").base_config("smoke")["train"]
    steps = list(range(train_config["eval_every"], train_config["steps"] + 1, train_config["eval_every"]))
    assert steps == [2, 4]
    results = pd.read_csv(os.path.join(smoke_run, "results.csv"))
    assert len(results) == 2 * 2 and sorted(results["trial_id"]) == sorted(frame["trial_id"])
    curves = pd.read_csv(os.path.join(smoke_run, "curves.csv"))
    assert len(curves) == 2 * 2 * len(steps)
    assert all(sorted(group["step"]) == steps for _, group in curves.groupby("trial_id"))
    # the sweep evaluated every trial's selected checkpoint on test; the tables report those values
    assert results["test/psnr"].notna().all() and (results["test/step"] == results["best/step"]).all()
    assert all(os.path.exists(os.path.join(smoke_run, t, "test.json")) for t in results["trial_id"])
    table = open(os.path.join(smoke_run, "table.md"), encoding="utf-8").read().splitlines()
    assert table[0].startswith("Verdict: best lr=") and "| psnr (test, dB) ↑ |" in table[2]
    rows = [line for line in table if line.startswith("| ") and " | lr=" in line]
    assert len(rows) == 2 and all("(n=2)" in line and "completed (4 steps)" in line for line in rows)
    html = open(os.path.join(smoke_run, "report.html"), encoding="utf-8").read()
    assert "Parameter importances" in html and 'id="fig-importance"' in html and 'id="fig-images"' in html
    assert f"<th>how to read it</th><td>{escape(get_space('lsid_lr').reading)}</td>" in html  # the space's note

    # the space's baseline is not among Optuna's samples: compare with one of the sampled configurations instead
    done = run_cli(smoke_run, "--baseline", labels[0], "--format", "md")
    assert done.returncode == 0, done.stderr
    versus = open(os.path.join(smoke_run, "vs_baseline.md"), encoding="utf-8").read()
    assert f"| vs baseline | {labels[1]} − {labels[0]} |" in versus and "(n=2)" in versus


def test_cli_rejects_bad_input_with_one_line(smoke_run, tmp_path):
    done = run_cli(smoke_run, "--baseline", "nope")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: unknown baseline label 'nope'; known: "
                                                f"{', '.join(dict.fromkeys(analysis.load_run(smoke_run)['label']))}"]
    done = run_cli(str(tmp_path))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "is not a run directory (no manifest.json)" in done.stderr
