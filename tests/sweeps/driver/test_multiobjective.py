"""A real multi-objective sweep through Ray Tune (--objective val/psnr:max --objective cost/params:min, Optuna's
TPE): the study in the run directory has both directions and every trial's two values; the tables mark the Pareto
front of the ranked rows, as a brute-force comparison of the trials' own numbers finds it; the report draws it. With
ASHA and seeds, the study gets each objective's mean over seeds and stopped rows are not compared. An objective the
trials do not report stops the sweep at the first result with one line and exit code 2."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest

from analysis.load import read_results, trial_dirs
from analysis.objectives import nondominated
from analysis.optuna_study import LIVE_JOURNAL, export_study, journal_storage
from sweeps.run import main
from tests.analysis.test_report_browser import CHROMIUM, chromium, console_errors, figure_chunks
from tests.conftest import free_port
from tests.sweeps import spaces

SWEEP = ["--space", "ops_pareto", "--profile", "smoke", "--verbose", "0"]


@pytest.fixture(scope="module")
def pareto_sweep(ray_session, tmp_path_factory) -> str:
    spaces.register()
    storage = tmp_path_factory.mktemp("pareto")
    code = main([*SWEEP, "--num-samples", "4", "--objective", "val/psnr:max", "--objective", "cost/params:min",
                 "--storage", str(storage), "--name", "front", "--dashboard-port", str(free_port())])
    assert code == 0
    return str(storage / "ops_pareto" / "front")


def test_the_study_has_both_objectives_and_every_trials_values(pareto_sweep):
    study = optuna.load_study(study_name="front", storage=journal_storage(os.path.join(pareto_sweep, LIVE_JOURNAL)))
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    told = sorted((t.params["optim.lr"], t.params["model.width"], *t.values) for t in study.trials
                  if t.state == optuna.trial.TrialState.COMPLETE)
    reported = []
    for folder in trial_dirs(pareto_sweep):
        with open(os.path.join(folder, "params.json"), encoding="utf-8") as handle:
            params = json.load(handle)
        last = read_results(folder)[-1]
        reported.append((params["optim.lr"], params["model.width"], last["val/psnr"], last["cost/params"]))
    assert len(told) == 4 and told == sorted(reported)  # the same numbers, through JSON on both sides
    # Optuna's own Pareto front of the study is the one the analysis' nondominated() finds on the same values
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    mine = nondominated(np.array([t.values for t in complete]), [False, True])
    assert {t.number for t in study.best_trials} == {t.number for t, kept in zip(complete, mine) if kept}


def test_the_export_of_the_run_is_a_study_of_both_objectives(pareto_sweep, tmp_path):
    run_dir = str(tmp_path / "front")
    shutil.copytree(pareto_sweep, run_dir)
    study = optuna.load_study(study_name="front", storage=journal_storage(export_study(run_dir)))
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    assert study.metric_names == ["val/psnr", "cost/params"]
    exported = {}
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        exported[trial.user_attrs["trial_id"]] = trial.values
    expected = {}
    for folder in trial_dirs(pareto_sweep):
        results = read_results(folder)
        best = max(results, key=lambda r: r["val/psnr"])  # the first objective's best evaluation
        expected[os.path.basename(folder)] = [float(best["val/psnr"]), float(best["cost/params"])]
    assert len(exported) == 4 and exported == expected  # the same numbers, through JSON on both sides


def brute_force_front(rows: pd.DataFrame) -> list[bool]:
    """Whether each row of ``table.csv`` is beaten by no other on PSNR (higher) and parameters (lower)."""
    psnr, params = rows["test/psnr/mean"].to_numpy(), rows["cost/params"].to_numpy()
    return [not any(psnr[j] >= psnr[i] and params[j] <= params[i] and (psnr[j] > psnr[i] or params[j] < params[i])
                    for j in range(len(rows))) for i in range(len(rows))]


def test_the_table_marks_the_front_a_brute_force_comparison_finds(pareto_sweep):
    table = pd.read_csv(os.path.join(pareto_sweep, "table.csv"))
    rows = table[(table["kind"] == "configuration") & table["rank"].notna()]
    assert len(rows) == 4  # FIFO: every configuration completed its 4 steps, so all are compared
    assert rows["pareto"].astype(bool).tolist() == brute_force_front(rows)
    assert bool(rows["pareto"].iloc[0])  # the best PSNR is never dominated
    results = pd.read_csv(os.path.join(pareto_sweep, "results.csv")).set_index("label")
    assert rows.set_index("label")["cost/params"].to_dict() == results["cost/params"].to_dict()
    markdown = open(os.path.join(pareto_sweep, "table.md"), encoding="utf-8").read()
    assert "| rank | Pareto | configuration |" in markdown and "(val/psnr ↑, cost/params ↓;" in markdown


def test_the_report_draws_the_front_of_the_objectives(pareto_sweep, tmp_path):
    page = open(os.path.join(pareto_sweep, "report.html"), encoding="utf-8").read()
    # the figure's title, as plotly writes it in the figure's JSON (with "/" and non-ASCII characters escaped)
    titles = [json.loads(f'"{text}"') for text in re.findall(r'"text":"(Pareto front of [^"]*)"', page)]
    assert 'id="fig-pareto"' in page and titles == ["Pareto front of val/psnr ↑, cost/params ↓"]
    assert "objectives val/psnr ↑, cost/params ↓ (ranked on the first; Pareto-optimal rows marked)" in page
    if CHROMIUM is None and not os.environ.get("REQUIRE_BROWSER"):
        pytest.skip("chromium is not on PATH: install it with apt-get install -y chromium")
    dumped = chromium(tmp_path, "--dump-dom", Path(pareto_sweep, "report.html").as_uri())
    assert dumped.returncode == 0 and console_errors(dumped.stderr) == [], dumped.stderr[-2000:]
    figures = re.findall(r'<div id="(fig-[^"]+)" class="plotly-graph-div"', page)
    drawn = figure_chunks(dumped.stdout)[figures.index("fig-pareto")]
    table = pd.read_csv(os.path.join(pareto_sweep, "table.csv"))
    ranked = table[(table["kind"] == "configuration") & table["rank"].notna()]
    assert "main-svg" in drawn and drawn.count('class="point"') == len(ranked)  # every ranked configuration


@pytest.mark.parametrize("search, objectives", [
    ("grid", ["val/psnr:max", "val/nope:min"]),  # no Ray object uses the second: the driver's callback checks it
    ("optuna", ["val/nope:max"]),  # Ray checks its run metric itself, and fails fit() with a traceback
])
def test_an_objective_the_trials_do_not_report_stops_the_sweep_in_one_line(ray_session, tmp_path, capsys, search,
                                                                            objectives):
    spaces.register()
    argv = [*SWEEP, "--search", search, "--storage", str(tmp_path), "--name", "bad",
            "--dashboard-port", str(free_port()), *[arg for o in objectives for arg in ("--objective", o)]]
    if search != "grid":
        argv += ["--num-samples", "1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err, err[-3000:]
    missing = objectives[-1]
    assert err.splitlines()[-1] == (
        f"error: --objective {missing}: the trials report no metric '{missing[:-4]}'; they report cost/latency_ms, "
        "cost/macs, cost/params, val/delta_psnr, val/delta_ssim, val/psnr, val/ref_psnr, val/ref_ssim, val/ssim")
    assert os.path.isfile(tmp_path / "ops_pareto" / "bad" / "manifest.json")  # the run that started is kept


def test_with_asha_and_seeds_the_study_gets_each_objectives_mean_and_stopped_rows_are_not_compared(ray_session,
                                                                                                   tmp_path):
    """ASHA stops trials on the first objective; the study is told, per configuration, the mean over its 2 seeds of
    each objective at the trial's end (the last report, at the step ASHA stopped it)."""
    spaces.register()
    code = main([*SWEEP, "--scheduler", "asha", "--num-samples", "6", "--seeds", "2", "--objective", "val/psnr:max",
                 "--objective", "cost/params:min", "--storage", str(tmp_path), "--name", "asha",
                 "--dashboard-port", str(free_port())])
    assert code == 0
    run_dir = os.path.join(tmp_path, "ops_pareto", "asha")
    study = optuna.load_study(study_name="asha", storage=journal_storage(os.path.join(run_dir, LIVE_JOURNAL)))
    seeds: dict[tuple, list] = {}
    for folder in trial_dirs(run_dir):
        with open(os.path.join(folder, "params.json"), encoding="utf-8") as handle:
            params = json.load(handle)
        last = read_results(folder)[-1]
        seeds.setdefault((params["model.width"], params["optim.lr"]), []).append(
            (last["val/psnr"], last["cost/params"]))
    assert sorted(len(v) for v in seeds.values()) == [2] * 6
    expected = sorted((width, lr, *np.mean(values, axis=0)) for (width, lr), values in seeds.items())
    told = sorted((t.params["model.width"], t.params["optim.lr"], *t.values) for t in study.trials
                  if t.state == optuna.trial.TrialState.COMPLETE)
    np.testing.assert_allclose(np.array(told), np.array(expected), rtol=1e-12)
    table = pd.read_csv(os.path.join(run_dir, "table.csv"))
    rows = table[table["kind"] == "configuration"]
    assert rows.loc[rows["rank"].isna(), "pareto"].isna().all()  # a row ASHA stopped is never compared
    ranked = rows[rows["rank"].notna()]
    assert rows["pareto"].notna().sum() == len(ranked) >= 1
    assert ranked["pareto"].astype(bool).tolist() == brute_force_front(ranked)
