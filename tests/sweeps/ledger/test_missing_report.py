"""Which checkpoint a resumed trial goes on from, and whether its report must be made again: a driver killed after
a trial kept a checkpoint and before the driver recorded its report leaves a checkpoint that ``result.json`` does
not name (tests/sweeps/ledger/test_crash.py kills drivers at such moments)."""

from __future__ import annotations

import json
import os

from restore_core.loop import CHECKPOINT_FILE
from sweeps.ledger.recover import newest_checkpoint, report_missing


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

