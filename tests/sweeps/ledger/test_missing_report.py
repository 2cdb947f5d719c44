"""Which checkpoint a resumed trial goes on from, and whether its report must be made again: a driver killed after
a trial kept a checkpoint and before the driver recorded its report leaves a checkpoint that ``result.json`` does
not name (tests/sweeps/ledger/test_crash.py kills drivers at such moments)."""

from __future__ import annotations

import json
import os

import cloudpickle

from restore_core.loop import CHECKPOINT_FILE
from sweeps.ledger.recover import BUNDLE_KEY, RECORDS_KEY, newest_checkpoint, report_missing, restore_snapshot
from sweeps.ray_private import CALLBACK_STATES, SNAPSHOT


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


def test_a_result_file_behind_rays_save_is_taken_from_the_save(tmp_path):
    """Ray's save keeps each unfinished trial's result file as it was then (SnapshotBundle): a resume takes a shorter
    one of the run's (an upload to object storage behind the save) from it, and keeps a longer one."""
    session = "2026-01-02_03-04-05"
    (tmp_path / "behind").mkdir()
    (tmp_path / "behind" / "result.json").write_bytes(b'{"step": 2}\n')
    (tmp_path / "ahead").mkdir()
    (tmp_path / "ahead" / "result.json").write_bytes(b'{"step": 2}\n{"step": 4}\n{"step": 6}\n')
    save = {BUNDLE_KEY: {f"{SNAPSHOT}{session}.json": b'{"trial_data": []}'},
            RECORDS_KEY: {"behind/result.json": b'{"step": 2}\n{"step": 4}\n',
                          "ahead/result.json": b'{"step": 2}\n{"step": 4}\n',
                          "never/result.json": b'{"step": 2}\n'}}
    (tmp_path / f"{CALLBACK_STATES}{session}.pkl").write_bytes(cloudpickle.dumps({0: {"other": 1}, 1: save}))
    assert restore_snapshot(str(tmp_path)) == session
    assert (tmp_path / f"{SNAPSHOT}{session}.json").read_bytes() == b'{"trial_data": []}'
    assert (tmp_path / "behind" / "result.json").read_bytes() == b'{"step": 2}\n{"step": 4}\n'
    assert (tmp_path / "ahead" / "result.json").read_bytes() == b'{"step": 2}\n{"step": 4}\n{"step": 6}\n'
    assert (tmp_path / "never" / "result.json").read_bytes() == b'{"step": 2}\n'
