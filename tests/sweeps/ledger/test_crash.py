"""Crash safety under repetition: one sweep whose driver is SIGKILLed at five moments (right after planning, while
its trials start, mid-trial, while a checkpoint is written, while the tables are written) and resumed after each.
Each kill point is found by watching the run directory and the driver's log, never by waiting a fixed time. At the
end every trial is counted once, none went back to its start after it had a checkpoint, and results.csv and the
tables hold the same trials, with the same numbers, as the same sweep run without a kill."""

from __future__ import annotations

import glob
import json
import os
import shutil

import pandas as pd
import pytest
import torch

from restore_core.loop import CHECKPOINT_FILE
from sweeps.run import main
from tests.sweeps import spaces
from tests.sweeps.trial_reports import kill_when, lives, reports, trial_dirs
from tests.worker_forks import rays_own_workers

pytestmark = pytest.mark.slow
SWEEP = ["--space", "ops_crash", "--profile", "smoke", "--max-concurrent", "2"]
TRIALS, STEPS, EVAL_EVERY = 4, 12, 2  # tests/sweeps/spaces.py's ops_crash


def planned(run_dir: str, log: str) -> bool:
    """The plan is written (manifest.json) and Ray has saved nothing yet: no snapshot, no trial."""
    return (os.path.exists(os.path.join(run_dir, "manifest.json")) and not trial_dirs(run_dir)
            and not glob.glob(os.path.join(run_dir, "experiment_state-*")))


def trials_starting(run_dir: str, log: str) -> bool:
    """A trial has started (its params.json) and none has reported yet."""
    return bool(trial_dirs(run_dir)) and not any(reports(t) for t in trial_dirs(run_dir))


def mid_trial(run_dir: str, log: str) -> bool:
    """A trial has reported (with a checkpoint) and has not ended."""
    return any(reports(t) and not os.path.exists(os.path.join(t, "status.json")) for t in trial_dirs(run_dir))


def checkpoint_being_written(run_dir: str, log: str) -> bool:
    """A trial has a checkpoint folder newer than any its reports name: the checkpoint is being copied, or its report
    is on its way to the driver."""
    for trial in trial_dirs(run_dir):
        named = [r.get("checkpoint_dir_name") or "" for r in reports(trial)]
        folders = [os.path.basename(p) for p in glob.glob(os.path.join(trial, "checkpoint_*"))]
        if named and folders and max(folders) > max(named):
            return True
    return False


def writing_tables(run_dir: str, log: str) -> bool:
    """Every trial ended and the driver says it is writing the tables."""
    return "writing the tables and the report of" in log


def test_a_driver_killed_at_five_moments_loses_no_trial_and_no_checkpoint(ray_session, tmp_path):
    spaces.register()
    address = ["--address", ray_session.get_runtime_context().gcs_address, "--verbose", "0"]
    assert main([*SWEEP, "--storage", str(tmp_path / "whole"), "--name", "c", *address]) == 0  # no kill
    reference = pd.read_csv(tmp_path / "whole" / "ops_crash" / "c" / "results.csv").set_index("label")

    storage, run_dir = str(tmp_path / "killed"), str(tmp_path / "killed" / "ops_crash" / "c")
    states = {}
    for number, moment in enumerate((planned, trials_starting, mid_trial, checkpoint_being_written, writing_tables)):
        if moment is mid_trial:  # the run moved after a kill that left trials still to come: it goes on where it is
            shutil.move(storage, tmp_path / "moved")
            storage, run_dir = str(tmp_path / "moved"), str(tmp_path / "moved" / "ops_crash" / "c")
        resume = ["--resume", "--name", "c", "--storage", storage, *address]
        args = [*SWEEP, "--name", "c", "--storage", storage, *address] if number == 0 else resume
        # while its trials start, workers started by Ray itself: a forked one (tests/worker_forks.py) reports so
        # soon after its trial starts that the moment between can pass unseen
        env = rays_own_workers() if moment is trials_starting else None
        states[moment.__name__] = kill_when(args, moment, run_dir, str(tmp_path / f"driver{number}.log"), env=env)
    assert states["planned"] == {}
    assert {ended for _, ended, _ in states["trials_starting"].values()} == {False}
    assert states["writing_tables"] and all(ended for _, ended, _ in states["writing_tables"].values())
    assert not os.path.exists(os.path.join(run_dir, "table.md"))  # killed before the tables were written whole

    assert main(resume) == 0
    assert not os.path.exists(tmp_path / "killed")  # nothing written where the run was before it moved
    results = pd.read_csv(os.path.join(run_dir, "results.csv"))
    # every trial counted once: the same configurations as the run without a kill, each in one folder
    assert sorted(results["label"]) == sorted(reference.index) and len(trial_dirs(run_dir)) == TRIALS
    results = results.set_index("label")
    assert (results["status"] == "completed").all() and (results["steps"] == STEPS).all()
    # a resumed trial goes on from its last checkpoint, so it ends with the numbers of the run without a kill
    pd.testing.assert_series_equal(results["best/val/psnr"], reference.loc[results.index, "best/val/psnr"],
                                   rtol=1e-5)
    for trial in trial_dirs(run_dir):
        attempts = lives(trial)
        for number, life in enumerate(attempts[1:], start=1):
            if any(attempts[:number]):  # it had reported (with a checkpoint): never from its start again
                assert life[0]["step"] > EVAL_EVERY, (trial, [[r["step"] for r in a] for a in attempts])
        steps = [r["step"] for r in reports(trial)]
        assert steps[-1] == STEPS and sorted(set(steps)) == list(range(EVAL_EVERY, STEPS + 1, EVAL_EVERY))
    # the table: the same rows and numbers (all but the latency, which is timed anew in each run)
    table, whole = (pd.read_csv(os.path.join(folder, "table.csv")).set_index("label").drop(columns="cost/latency_ms")
                    for folder in (run_dir, tmp_path / "whole" / "ops_crash" / "c"))
    pd.testing.assert_frame_equal(table, whole.loc[table.index], rtol=1e-5)
    assert_nothing_half_written(run_dir)


def assert_nothing_half_written(run_dir: str) -> None:
    """No partial or temporary file is left, every JSON file and report line is whole, and every checkpoint state
    file loads."""
    for folder, _, files in os.walk(run_dir):
        for name in files:
            path = os.path.join(folder, name)
            assert not name.endswith(".partial") and not name.startswith(".tmp-"), path
            if name == "result.json":
                reports(folder)  # each line whole JSON
            elif name.endswith(".json") and name.startswith(("experiment_state-", "params", "status", "manifest")):
                with open(path, encoding="utf-8") as handle:
                    json.load(handle)
            elif name == CHECKPOINT_FILE:
                assert torch.load(path, weights_only=False)["step"] > 0
