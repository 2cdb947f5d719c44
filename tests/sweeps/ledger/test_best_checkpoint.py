"""The checkpoint selected on validation survives a second life of its trial: a sweep whose driver is SIGKILLed
after the trial peaked and fell, then resumed (``--resume``), and one whose trial's worker is SIGKILLed there and
retried (``--max-failures 1``). Either way Ray keeps the peak's checkpoint of the first life beside the last one,
and ``test.json`` is that checkpoint evaluated on test, not the best of the last life alone."""

from __future__ import annotations

import os
import threading

import pytest
import torch

from analysis import load_run
from analysis.load import load_space, read_manifest, read_trial
from restore_core.evaluate import evaluate_checkpoint
from restore_core.loop import CHECKPOINT_FILE
from restore_core.run_files import read_test
from sweeps.run import main
from tests.sweeps import spaces
from tests.sweeps.trial_reports import kill_when, kill_worker, lives, reports, trial_dirs

pytestmark = pytest.mark.slow
SWEEP = ["--space", "ops_peak", "--profile", "smoke"]
KILL_AT = spaces.PEAK_STEP + 2  # the first evaluation after the weights started over: the trial has fallen


def fallen(run_dir: str, log: str) -> bool:
    """The trial has reported (with a checkpoint) an evaluation after its fall."""
    return any(r["step"] >= KILL_AT for t in trial_dirs(run_dir) for r in reports(t))


def assert_tested_on_the_first_lifes_peak(run_dir: str) -> None:
    (trial,) = trial_dirs(run_dir)
    first, last = lives(trial)  # killed once, then went on
    # the second life went on after the peak (from a checkpoint after the fall), so its reports do not hold the peak
    assert max(r["step"] for r in first) >= KILL_AT and last[0]["step"] > spaces.PEAK_STEP
    assert last[-1]["step"] == 24 and last[-1]["stop_reason"] == "completed"
    (peak,) = [r for r in first if r["step"] == spaces.PEAK_STEP]
    assert max(r["val/psnr"] for r in reports(trial)) == peak["val/psnr"]
    assert max(r["val/psnr"] for r in last) < peak["val/psnr"] - 1  # the last life's best is another checkpoint

    record = read_test(trial)
    assert (record["step"], record["checkpoint"], record["value"]) == (
        spaces.PEAK_STEP, peak["checkpoint_dir_name"], peak["val/psnr"])
    folder = os.path.join(trial, record["checkpoint"])  # kept by Ray beside the last one, across both lives
    assert torch.load(os.path.join(folder, CHECKPOINT_FILE), weights_only=False)["step"] == spaces.PEAK_STEP
    manifest = read_manifest(run_dir)
    _, config = read_trial(load_space(manifest), manifest, trial)
    at_peak = evaluate_checkpoint(config, folder, "test").evaluation.metrics["test/psnr"]
    at_end = evaluate_checkpoint(config, os.path.join(trial, last[-1]["checkpoint_dir_name"]),
                                 "test").evaluation.metrics["test/psnr"]
    assert record["metrics"]["test/psnr"] == pytest.approx(at_peak, rel=1e-6)
    assert at_peak > at_end + 1  # evaluating the last checkpoint instead would have shown a number 1 dB lower

    row = load_run(run_dir).iloc[0]
    assert (row["status"], row["steps"], row["test/step"], bool(row["degraded"])) == ("completed", 24, 12, True)
    assert row["test/psnr"] == pytest.approx(at_peak, rel=1e-6)


def test_a_resumed_sweep_tests_the_checkpoint_its_killed_driver_selected(ray_session, tmp_path):
    spaces.register()
    run_dir = str(tmp_path / "ops_peak" / "p")
    common = ["--name", "p", "--storage", str(tmp_path), "--no-analysis", "--verbose", "0",
              "--address", ray_session.get_runtime_context().gcs_address]
    state = kill_when([*SWEEP, *common], fallen, run_dir, str(tmp_path / "driver.log"))
    assert [(ended, any(n.startswith("checkpoint_") for n in names)) for _, ended, names in state.values()] == [
        (False, True)]
    assert main(["--resume", *common]) == 0
    assert_tested_on_the_first_lifes_peak(run_dir)


def test_a_retried_trial_tests_the_checkpoint_of_its_killed_worker(ray_session, tmp_path):
    spaces.register()
    run_dir = str(tmp_path / "ops_peak" / "w")
    stop, killed = threading.Event(), []
    thread = threading.Thread(target=kill_worker, args=(run_dir, "peak", KILL_AT, stop, killed), daemon=True)
    thread.start()
    try:
        code = main([*SWEEP, "--name", "w", "--storage", str(tmp_path), "--no-analysis", "--verbose", "0",
                     "--max-failures", "1"])
    finally:
        stop.set()
        thread.join(timeout=5)
    assert code == 0 and len(killed) == 1
    (trial,) = trial_dirs(run_dir)
    first, last = lives(trial)
    assert {r["pid"] for r in first} == {killed[0]} and killed[0] not in {r["pid"] for r in last}
    assert_tested_on_the_first_lifes_peak(run_dir)
