"""``--objective``: parsed and checked before anything runs, recorded for a resume, in the manifest and the dry run,
and a multi-objective Optuna searcher that Ray's run metric does not replace (told the mean over seeds of each)."""

from __future__ import annotations

import json
import os

import optuna
import pytest

from restore_core.errors import UserError
from search_spaces import get_space
from sweeps.driver.domains import sampled_param_space
from sweeps.driver.objectives_check import RAY_MISSING, RAY_RESULT_KEY
from sweeps.driver.runner import plan_sweep
from sweeps.driver.tuner import build_searcher
from sweeps.run import main
from sweeps.settings.manifest import build_manifest
from sweeps.settings.objectives import Objective, missing_objectives, parse_objectives
from sweeps.settings.options import SweepOptions
from sweeps.settings.recorded import recorded_settings
from sweeps.settings.resolve import resolve_settings
from tests.conftest import free_port

TWO = ("val/psnr:max", "cost/latency_ms:min")


@pytest.mark.parametrize("objectives, words", [
    (["val/psnr:up"], ["unknown direction 'up'", "known: max, min"]),
    (["val/psnr"], ["expected METRIC:DIRECTION", "max or min"]),
    (["psnr:max"], ["unknown metric 'psnr'", "val/<a metric the trials report>", "cost/latency_ms"]),
    (["val/psnr:max", "cost/flops:min"], ["unknown metric 'cost/flops'", "cost/params, cost/macs, cost/latency_ms"]),
    (["cost/latency_ms:min", "val/psnr:max"], ["first objective must be a validation metric", "ASHA"]),
    (["val/psnr:max", "val/ssim:max", "val/psnr:min"], ["--objective val/psnr is given twice"]),
])
def test_bad_objectives_stop_the_command_in_one_line_with_exit_2(objectives, words, tmp_path, capsys):
    argv = ["--space", "lsid_lr", "--profile", "smoke", "--dry-run", "--dashboard-port", str(free_port()),
            "--storage", str(tmp_path / "runs")]
    assert main(argv + [arg for o in objectives for arg in ("--objective", o)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --objective "), lines
    assert all(word in lines[0] for word in words), lines[0]
    assert not (tmp_path / "runs").exists()


def test_the_first_objective_is_the_runs_metric_and_the_manifest_records_them_all():
    plan = plan_sweep(SweepOptions(space="lsid_lr", profile="smoke", objectives=("val/ssim:max", "cost/macs:min")))
    assert plan.objectives == [Objective("val/ssim", "max"), Objective("cost/macs", "min")]
    assert (plan.metric, plan.mode) == ("val/ssim", "max")
    manifest = build_manifest(plan, [])
    assert (manifest["metric"], manifest["mode"]) == ("val/ssim", "max")
    assert manifest["objectives"] == [{"metric": "val/ssim", "mode": "max"}, {"metric": "cost/macs", "mode": "min"}]
    default = plan_sweep(SweepOptions(space="lsid_lr", profile="smoke"))
    assert default.objectives == [Objective("val/psnr", "max")] and default.settings.objectives is None


def test_the_dry_run_names_the_objectives(tmp_path, capsys):
    argv = ["--space", "lsid_lr", "--profile", "smoke", "--dry-run", "--search", "optuna", "--storage",
            str(tmp_path), "--dashboard-port", str(free_port()), "--objective", TWO[0], "--objective", TWO[1]]
    assert main(argv) == 0
    assert ("search optuna, scheduler asha, objectives val/psnr:max, cost/latency_ms:min (a Pareto front; ASHA and "
            "checkpoints on the first)") in capsys.readouterr().out


def test_a_resume_keeps_the_objectives_and_refuses_others():
    space = get_space("lsid_lr")
    settings = resolve_settings(SweepOptions(space="lsid_lr", search="optuna", objectives=TWO), space)
    manifest = json.loads(json.dumps({"space": "lsid_lr", "options": settings.record()}))
    recorded = recorded_settings(manifest, "manifest.json")
    resumed = resolve_settings(SweepOptions(name=settings.name, resume=True), space, recorded)
    assert resumed.objectives == TWO
    same = resolve_settings(SweepOptions(name=settings.name, resume=True, objectives=TWO), space, recorded)
    assert same.objectives == TWO
    with pytest.raises(UserError, match="--objectives differs"):
        resolve_settings(SweepOptions(name=settings.name, resume=True, objectives=TWO[:1]), space, recorded)
    manifest["options"]["objectives"] = ["val/psnr:sideways"]
    with pytest.raises(UserError, match='options.objectives is .*expected null .* "METRIC:DIRECTION"'):
        recorded_settings(manifest, "manifest.json")


@pytest.mark.parametrize("search", ["random", "optuna", "gp"])
def test_the_multi_objective_study_is_told_the_mean_over_seeds_of_every_objective(search):
    plan = plan_sweep(SweepOptions(space="lsid_lr", search=search, num_samples=3, seeds=2, objectives=TWO))
    repeater = build_searcher(plan)
    # Ray passes the run's metric (the first objective); the study keeps both
    assert repeater.set_search_properties(plan.metric, plan.mode, sampled_param_space(plan.space))
    assert (repeater.searcher.metric, repeater.searcher.mode) == (["val/psnr", "cost/latency_ms"], ["max", "min"])
    for i in range(4):
        repeater.suggest(f"t{i}")
    for i, (psnr, latency) in enumerate([(20.0, 4.0), (22.0, 6.0), (25.0, 1.0), (27.0, 3.0)]):
        repeater.on_trial_complete(f"t{i}", {"val/psnr": psnr, "cost/latency_ms": latency})
    study = repeater.searcher._ot_study
    assert study.directions == [optuna.study.StudyDirection.MAXIMIZE, optuna.study.StudyDirection.MINIMIZE]
    assert [t.values for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE] == [[21.0, 5.0],
                                                                                            [26.0, 2.0]]


def test_a_missing_objective_is_named_with_what_the_trials_report():
    objectives = parse_objectives(list(TWO) + ["val/nope:min"])
    assert missing_objectives(objectives, {"val/psnr", "cost/latency_ms", "val/ssim", "train/loss"}) == (
        "--objective val/nope:min: the trials report no metric 'val/nope'; they report cost/latency_ms, val/psnr, "
        "val/ssim")
    assert missing_objectives(objectives, {"val/psnr", "cost/latency_ms", "val/nope"}) is None
    # what Ray says of a result without a metric it expects, as the driver reads it
    text = ("ValueError: Trial returned a result which did not include the specified metric(s) `val/nope` that "
            "`SearchGenerator` expects. Result: {'step': 2, 'val/psnr': 6.4, 'cost/params': 121816, 'lr': 1e-05}")
    assert RAY_MISSING.search(text).group(1) == "val/nope"
    assert RAY_RESULT_KEY.findall(text) == ["val/psnr", "cost/params"]


@pytest.mark.parametrize("given", ["val/psnr:up", ["val/psnr:max", "val/psnr:up"]])
def test_run_sweep_takes_one_objective_or_a_list_and_checks_them_before_anything_runs(given, tmp_path):
    from sweeps import run_sweep

    with pytest.raises(UserError, match=r"^--objective val/psnr:up: unknown direction 'up'"):
        run_sweep("lsid_lr", profile="smoke", storage=str(tmp_path), objectives=given)
    assert not os.listdir(tmp_path)
