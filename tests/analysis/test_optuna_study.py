"""The run as an Optuna study: the live journal of an Optuna sweep, the export of any run, and optuna-dashboard
serving both (the real server on loopback, read back through its HTTP API)."""

from __future__ import annotations

import json
import math
import os
import shutil

import optuna
import pytest

from analysis.__main__ import main as analysis_main
from analysis.load import read_results, trial_dirs
from analysis.optuna_study import EXPORT_JOURNAL, LIVE_JOURNAL, export_study, journal_storage
from tests.servers import http_json, loopback_server, venv_script


def _reports(run_dir: str) -> dict[str, dict]:
    """Per trial folder: its params and its val/psnr by step."""
    out = {}
    for folder in trial_dirs(run_dir):
        with open(os.path.join(folder, "params.json"), encoding="utf-8") as handle:
            params = json.load(handle)
        out[os.path.basename(folder)] = {"params": params,
                                         "psnr": {r["step"]: r["val/psnr"] for r in read_results(folder)}}
    return out


def test_an_optuna_sweep_keeps_its_study_in_the_run_directory(smoke_run):
    study = optuna.load_study(study_name="e2e", storage=journal_storage(os.path.join(smoke_run, LIVE_JOURNAL)))
    reports = _reports(smoke_run)
    assert len(study.trials) == 2  # two sampled configurations, each run with seeds 0 and 1
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        seeds = [r for r in reports.values() if all(r["params"][k] == v for k, v in trial.params.items())]
        assert len(seeds) == 2
        # the sampler is told the mean over seeds of each seed's last evaluation
        assert trial.value == pytest.approx(sum(r["psnr"][max(r["psnr"])] for r in seeds) / 2, rel=1e-9)
        # intermediate values: the first seed's evaluations, at its training steps
        first = next(r for r in seeds if r["params"]["__trial_index__"] == 0)
        assert trial.intermediate_values == pytest.approx(first["psnr"])
        assert max(trial.intermediate_values) > 1  # steps, not Ray's report count


def test_any_run_exports_a_study_with_every_trial(smoke_run, tmp_path):
    run_dir = str(tmp_path / "e2e")
    shutil.copytree(smoke_run, run_dir)
    path = export_study(run_dir)
    assert path == os.path.join(run_dir, EXPORT_JOURNAL)
    study = optuna.load_study(study_name="e2e", storage=journal_storage(path))
    reports = _reports(run_dir)
    assert len(study.trials) == 4
    for trial in study.trials:
        report = reports[trial.user_attrs["trial_id"]]
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert trial.params["seed"] == report["params"]["__trial_index__"]
        assert trial.params["optim.lr"] == report["params"]["optim.lr"]
        assert trial.intermediate_values == pytest.approx(report["psnr"])
        assert trial.value == pytest.approx(max(report["psnr"].values()))
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE


def test_a_grid_run_exports_through_the_command_line_with_failed_and_stopped_trials(make_run, capsys):
    results = [{"step": 10, "val/psnr": 20.0}, {"step": 20, "val/psnr": 21.5, "stop_reason": "completed"}]
    run_dir = make_run([
        {"id": "t0", "params": {"row": "1e-4", "seed": 0}, "results": results, "status": "terminated"},
        {"id": "t1", "params": {"row": "1e-3", "seed": 0}, "results": results[:1], "status": "terminated"},
        {"id": "t2", "params": {"row": "1e-5", "seed": 0}, "results": [{"step": 10, "val/psnr": math.nan}],
         "status": "error", "error": "RuntimeError: boom"},
    ])
    assert analysis_main([run_dir, "--format", "md", "--optuna"]) == 0
    assert f"optuna study: {os.path.join(run_dir, EXPORT_JOURNAL)}" in capsys.readouterr().out
    study = optuna.load_study(study_name="handmade", storage=journal_storage(os.path.join(run_dir, EXPORT_JOURNAL)))
    by_id = {t.user_attrs["trial_id"]: t for t in study.trials}
    assert by_id["t0"].state == optuna.trial.TrialState.COMPLETE and by_id["t0"].value == 21.5
    assert by_id["t0"].params == {"row": "1e-4", "label": "1e-4", "seed": 0}
    assert by_id["t1"].state == optuna.trial.TrialState.PRUNED and by_id["t1"].intermediate_values == {10: 20.0}
    assert by_id["t2"].state == optuna.trial.TrialState.FAIL and by_id["t2"].user_attrs["status"] == "error"


@pytest.mark.parametrize("journal", [LIVE_JOURNAL, EXPORT_JOURNAL])
def test_optuna_dashboard_serves_the_study(smoke_run, tmp_path, journal):
    run_dir = str(tmp_path / "e2e")
    shutil.copytree(smoke_run, run_dir)
    if journal == EXPORT_JOURNAL:
        export_study(run_dir)
    expected = optuna.load_study(study_name="e2e", storage=journal_storage(os.path.join(run_dir, journal)))
    command = [venv_script("optuna-dashboard"), "--host", "127.0.0.1", "--port", "{port}", "--quiet",
               os.path.join(run_dir, journal)]
    with loopback_server(command, "/api/meta", str(tmp_path / "dashboard.log")) as base:
        studies = http_json(base + "/api/studies")["study_summaries"]
        assert [s["study_name"] for s in studies] == ["e2e"]
        assert studies[0]["directions"] == ["maximize"]
        detail = http_json(f"{base}/api/studies/{studies[0]['study_id']}")
    served = sorted(detail["trials"], key=lambda t: t["number"])
    assert len(served) == len(expected.trials)
    for trial, want in zip(served, expected.trials):
        assert trial["state"] == "Complete"
        assert trial["values"] == [pytest.approx(want.value)]
        assert {p["name"] for p in trial["params"]} == set(want.params)
        assert {v["step"]: v["value"] for v in trial["intermediate_values"]} == pytest.approx(want.intermediate_values)
