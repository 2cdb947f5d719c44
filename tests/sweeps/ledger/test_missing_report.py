"""Which checkpoint a resumed trial goes on from, and whether its report must be made again: a driver killed after
a trial kept a checkpoint and before the driver recorded its report leaves a checkpoint that ``result.json`` does
not name (tests/sweeps/ledger/test_crash.py kills drivers at such moments)."""

from __future__ import annotations

import json
import os
import tempfile

from ray import tune
from ray.tune.logger import JsonLoggerCallback

from restore_core.loop import CHECKPOINT_FILE
from sweeps.ledger.recover import newest_checkpoint, report_missing, unreported_checkpoints


def trial(tmp_path, checkpoints: list[int], reported: list[int]) -> str:
    folder = tmp_path / "trial"
    folder.mkdir()
    for index in checkpoints:
        (folder / f"checkpoint_{index:06d}").mkdir()
        (folder / f"checkpoint_{index:06d}" / CHECKPOINT_FILE).write_bytes(b"state")
    lines = [json.dumps({"step": 2 * (index + 1), "checkpoint_dir_name": f"checkpoint_{index:06d}"})
             for index in reported]
    (folder / "result.json").write_text("".join(line + "\n" for line in lines) + '{"step": 99, "checkp')
    return str(folder)


def test_a_recorded_checkpoint_comes_before_a_newer_unrecorded_one(tmp_path):
    folder = trial(tmp_path, checkpoints=[0, 1], reported=[0])
    chosen = newest_checkpoint(folder, None)
    assert os.path.basename(chosen) == "checkpoint_000000" and not report_missing(folder, chosen, None)
    assert report_missing(folder, os.path.join(folder, "checkpoint_000001"), None)


def test_with_no_recorded_checkpoint_the_newest_is_taken_and_its_report_is_missing(tmp_path):
    folder = trial(tmp_path, checkpoints=[0, 1], reported=[])  # the only line is cut short
    chosen = newest_checkpoint(folder, None)
    assert os.path.basename(chosen) == "checkpoint_000001" and report_missing(folder, chosen, None)


def test_the_checkpoint_rays_snapshot_holds_counts_as_recorded(tmp_path):
    """Ray keeps a checkpoint after it recorded its report; a line not yet copied into the run is not missing."""
    folder = trial(tmp_path, checkpoints=[0, 1, 2], reported=[0])
    known = os.path.join(folder, "checkpoint_000001")
    chosen = newest_checkpoint(folder, known)
    assert chosen == known and not report_missing(folder, chosen, known)
    assert report_missing(folder, os.path.join(folder, "checkpoint_000002"), known)


def test_a_trial_without_checkpoints_starts_afresh(tmp_path):
    assert newest_checkpoint(trial(tmp_path, checkpoints=[], reported=[]), None) is None


def _checkpointing(config):
    with tempfile.TemporaryDirectory() as folder:
        tune.report({"step": 2}, checkpoint=tune.Checkpoint.from_directory(folder))


def test_a_snapshot_checkpoint_without_its_report_is_found_for_the_resume(ray_session, tmp_path):
    """In object storage Ray's snapshot can reach the bucket before the result file that records the checkpoint's
    report; a resume finds such a checkpoint from the records (on a real snapshot of Ray's) and names it."""
    run_config = tune.RunConfig(name="gap", storage_path=str(tmp_path), verbose=0,
                                callbacks=[JsonLoggerCallback()])  # the result files, as the driver writes them
    trials = {"x": tune.grid_search([1, 2])}
    assert not tune.Tuner(_checkpointing, param_space=trials, run_config=run_config).fit().errors
    run_dir = tmp_path / "gap"
    assert unreported_checkpoints(str(run_dir)) == {}  # every report recorded
    folders = sorted(params.parent.name for params in run_dir.glob("*/params.json"))
    (run_dir / folders[0] / "result.json").write_text("")  # the bucket's copy from before the report
    assert unreported_checkpoints(str(run_dir)) == {folders[0]: "checkpoint_000000"}
    (run_dir / folders[1] / "result.json").unlink()  # or none yet
    assert unreported_checkpoints(str(run_dir)) == {folders[0]: "checkpoint_000000", folders[1]: "checkpoint_000000"}
