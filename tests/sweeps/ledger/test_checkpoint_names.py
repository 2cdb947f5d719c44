"""A trial resumed from a checkpoint newer than the save the resume restores keeps every checkpoint as its report
names it. A driver killed while Ray uploaded a save can leave the run with a trial's ``result.json`` of that save
beside the bundle of the one before (the files of a save go up one by one): the resume restores the earlier save,
and the trial goes on from its newest recorded checkpoint (:func:`sweeps.ledger.recover.newest_checkpoint`). Ray
names the trial's next checkpoints from the earlier save's index: without ``worker_checkpoints_after_existing`` the
next one took the name of a checkpoint whose report is on record, and that record then named another step's
weights."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time

import torch

from restore_core.loop import CHECKPOINT_FILE
from sweeps.ledger.recover import restore_snapshot
from sweeps.ray_private import CALLBACK_STATES, SNAPSHOT, snapshot_checkpoints
from sweeps.run import main
from tests.sweeps import spaces
from tests.sweeps.driver_forks import start_driver
from tests.sweeps.ledger.test_resume import _read, _trial


def test_a_trial_resumed_from_a_checkpoint_newer_than_the_save_writes_no_checkpoint_over_a_recorded_one(
        ray_session, tmp_path):
    spaces.register()
    run_dir = str(tmp_path / "ops_resume" / "n")
    address = ["--address", ray_session.get_runtime_context().gcs_address, "--verbose", "0"]
    driver = start_driver(["--space", "ops_resume", "--profile", "smoke", "--storage", str(tmp_path), "--name", "n",
                           "--max-concurrent", "1", *address], str(tmp_path / "driver.log"))
    try:
        earlier = _kill_two_checkpoints_after_a_save(driver, run_dir, str(tmp_path / "earlier"))
    finally:
        if driver.poll() is None:
            driver.kill()
    for name in os.listdir(run_dir):  # the bundle of the save before, as a kill during the next upload leaves it
        if name.startswith(CALLBACK_STATES):
            os.unlink(os.path.join(run_dir, name))
    shutil.copy(earlier, run_dir)

    assert main(["--resume", "--name", "n", "--storage", str(tmp_path), *address]) == 0
    slow = _trial(run_dir, "slow")
    reports = [json.loads(line) for line in _read(os.path.join(slow, "result.json")).splitlines()]
    named: dict[str, set[int]] = {}
    for report in reports:
        if report.get("checkpoint_dir_name"):
            named.setdefault(report["checkpoint_dir_name"], set()).add(report["step"])
    assert all(len(steps) == 1 for steps in named.values()), named  # one checkpoint name, one step
    kept = [name for name in named if os.path.exists(os.path.join(slow, name, CHECKPOINT_FILE))]
    assert kept and all(torch.load(os.path.join(slow, name, CHECKPOINT_FILE), weights_only=False)["step"]
                        == next(iter(named[name])) for name in kept)
    assert reports[-1]["step"] == 120 and [r["step"] for r in reports] == sorted({r["step"] for r in reports})


def _kill_two_checkpoints_after_a_save(driver, run_dir: str, keep: str, limit: float = 120) -> str:
    """Copy Ray's save (its bundle) into ``keep`` once it holds a checkpoint of the slow trial, then SIGKILL the
    driver once the trial's ``result.json`` in the run names two checkpoints after that one; returns the copy."""
    deadline, copy, held = time.time() + limit, None, None
    os.makedirs(keep)
    while time.time() < deadline and driver.poll() is None:
        slow = _trial(run_dir, "slow")
        if slow is not None and copy is None:
            copy, held = _save_holding(run_dir, os.path.basename(slow), keep)
        if copy is not None and os.path.exists(os.path.join(slow, "result.json")):
            names = {json.loads(line).get("checkpoint_dir_name") or "" for line in _read(
                os.path.join(slow, "result.json")).splitlines() if line.endswith("}")}
            if max(names) >= f"checkpoint_{held + 2:06d}" and not os.path.exists(os.path.join(slow, "status.json")):
                driver.kill()
                driver.wait(timeout=30)
                return copy
        time.sleep(0.02)
    raise AssertionError(f"the slow trial wrote no two checkpoints after a save (driver exit code {driver.poll()})")


def _save_holding(run_dir: str, trial: str, keep: str) -> tuple[str | None, int | None]:
    """The run's bundle copied into ``keep``, and the index of the checkpoint of ``trial`` that the save it holds
    restores; ``(None, None)`` while it holds none."""
    bundles = [name for name in os.listdir(run_dir) if name.startswith(CALLBACK_STATES)]
    with tempfile.TemporaryDirectory() as folder:
        try:
            for name in bundles + [n for n in os.listdir(run_dir) if n.startswith(SNAPSHOT)]:
                shutil.copy(os.path.join(run_dir, name), folder)
            if not bundles or restore_snapshot(folder) is None:
                return None, None
            held = snapshot_checkpoints(folder).get(trial)
        except (OSError, ValueError):  # read while Ray replaced it: the next poll reads it whole
            return None, None
        if held is None:
            return None, None
        shutil.copy(os.path.join(folder, bundles[0]), keep)
        return os.path.join(keep, bundles[0]), int(os.path.basename(os.path.normpath(held)).split("_")[1])
