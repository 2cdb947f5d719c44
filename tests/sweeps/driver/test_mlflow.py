"""``--mlflow URI``: a real smoke sweep logged to a real ``mlflow server`` (SQLite backend) started on loopback, read
back through MLflow's REST API and compared with the trials' own files."""

from __future__ import annotations

import json
import os
import sys
import urllib.parse

import pytest

import sweeps.run
from analysis.load import read_results, trial_dirs
from tests.conftest import free_port
from tests.servers import http_json, loopback_server, venv_script


@pytest.fixture(scope="module")
def mlflow_sweep(ray_session, tmp_path_factory):
    """(server URL, run directory) of a 2-trial random-search sweep of lsid_lr (smoke) logged with --mlflow."""
    root = tmp_path_factory.mktemp("mlflow")
    command = [venv_script("mlflow"), "server", "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
               "--default-artifact-root", str(root / "artifacts"), "--host", "127.0.0.1", "--port", "{port}",
               "--workers", "1"]
    # no job runner: the server's background jobs (a process and eight queue consumers) are not what is tested here
    no_jobs = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with loopback_server(command, "/health", str(root / "server.log"), env=no_jobs) as base:
        code = sweeps.run.main(["--space", "lsid_lr", "--profile", "smoke", "--search", "random", "--num-samples", "2",
                                "--scheduler", "fifo", "--storage", str(root / "runs"), "--name", "logged",
                                "--no-analysis", "--verbose", "0", "--mlflow", base])
        assert code == 0
        yield base, str(root / "runs" / "lsid_lr" / "logged")


def reports_steps(folder: str) -> int:
    return read_results(folder)[-1]["step"]


def _runs(base: str) -> list[dict]:
    experiment = http_json(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name="
                           + urllib.parse.quote("lsid_lr/logged"))["experiment"]
    return http_json(f"{base}/api/2.0/mlflow/runs/search",
                     {"experiment_ids": [experiment["experiment_id"]], "max_results": 100})["runs"]


def test_every_trial_is_an_mlflow_run_with_its_config_and_tags(mlflow_sweep):
    base, run_dir = mlflow_sweep
    runs = _runs(base)
    folders = {os.path.basename(f): f for f in trial_dirs(run_dir)}
    assert len(runs) == len(folders) == 2
    for run in runs:
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        folder = folders[tags["restore.trial_id"]]
        with open(os.path.join(folder, "params.json"), encoding="utf-8") as handle:
            sampled = json.load(handle)
        assert tags["space"] == "lsid_lr" and tags["run_dir"] == run_dir and tags["seed"] == "0"
        assert tags["label"] == read_results(folder)[-1]["label"]
        assert tags["mlflow.runName"] == f"{tags['label']} seed 0"
        assert float(params["optim.lr"]) == sampled["optim.lr"]
        assert params["model.name"] == "sid_unet" and int(params["train.steps"]) == reports_steps(folder)
        assert run["info"]["status"] == "FINISHED"


def test_every_evaluation_is_logged_at_its_step(mlflow_sweep):
    base, run_dir = mlflow_sweep
    folders = {os.path.basename(f): f for f in trial_dirs(run_dir)}
    for run in _runs(base):
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        reports = read_results(folders[tags["restore.trial_id"]])
        for key in ("val/psnr", "train/loss", "cost/params"):
            history = http_json(f"{base}/api/2.0/mlflow/metrics/get-history?run_id={run['info']['run_id']}"
                                f"&metric_key={urllib.parse.quote(key)}")["metrics"]
            assert len(history) == len(reports)  # one value per evaluation, none twice
            assert {m["step"]: m["value"] for m in history} == pytest.approx({r["step"]: r[key] for r in reports})
        assert len(reports) >= 2


def test_an_mlflow_uri_where_no_server_answers_is_refused_before_anything_runs(tmp_path, capsys):
    uri = f"http://127.0.0.1:{free_port()}"
    code = sweeps.run.main(["--space", "lsid_lr", "--profile", "smoke", "--storage", str(tmp_path), "--mlflow", uri])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith(f"error: --mlflow {uri}: no MLflow tracking server answers there")
    assert os.listdir(tmp_path) == []


def test_a_missing_mlflow_client_is_refused_in_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    # None in sys.modules is how Python marks a module as not importable: MLflow's client is absent for this call
    monkeypatch.setitem(sys.modules, "mlflow", None)
    code = sweeps.run.main(["--space", "lsid_lr", "--profile", "smoke", "--storage", str(tmp_path), "--mlflow",
                            "sqlite:///mlflow.db"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["error: --mlflow needs MLflow's client, which is not installed; "
                   "pip install 'restore-sweeps[mlflow]'"]
    assert os.listdir(tmp_path) == []
