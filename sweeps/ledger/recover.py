"""What a driver killed at any moment leaves, and how ``--resume`` goes on from it without counting a trial twice.

Ray Tune knows a run by its last save: the snapshot of the experiment (``experiment_state-*.json``) and the
searcher's state beside it, saved every few seconds and after every checkpoint into the driver's staging folder and
then uploaded file by file into the run directory. A driver killed

- before the first save (while it planned, loaded the data or started Ray) leaves only the run's ``manifest.json``:
  the resume starts the sweep afresh under the same name;
- during an upload could leave a snapshot of one save beside a searcher state of another, which would lose trials or
  create one twice. :class:`SnapshotBundle` keeps each save whole inside Ray's callback states (one file, saved last),
  and :func:`restore_snapshot` puts the newest whole save back in place before the restore;
- between a trial's start and the next save leaves that trial's folder behind, unknown to the snapshot: the resume
  creates the trial again (the searcher proposes it again from its saved state), so the old folder is moved out of
  the run's trials into ``unrecorded/``, where nothing counts it and nothing is lost;
- after a trial wrote a checkpoint that the last save does not know: the trial goes on from the newest checkpoint in
  its folder (:func:`newest_checkpoint`), not from an older one or its start.
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import shutil
import sys

from ray import tune

from analysis.remote import is_uri, list_files, local_run
from restore_core.io import write_bytes_atomic
from restore_core.loop import CHECKPOINT_FILE
from sweeps.cluster.atomic_fs import remove_partial_files
from sweeps.ledger.retry import clear_failed
from sweeps.ray_private import (
    SNAPSHOT_FILES,
    experiment_trial_states,
    newest_callback_states,
    snapshot_checkpoints,
    snapshot_files,
    snapshot_session,
)

UNRECORDED_DIR = "unrecorded"  # trial folders and saves Ray's last whole save does not know, set aside by a resume
BUNDLE_KEY = "restore_sweeps_whole_save"


class SnapshotBundle(tune.Callback):
    """Keeps Ray's newest save (snapshot and searcher state, as Ray just wrote them into its staging folder) in this
    callback's state, which Ray saves right after them into a single file."""

    def __init__(self):
        self._staging: str | None = None

    def on_step_begin(self, iteration, trials, **info):
        if self._staging is None and trials and trials[0].local_path:
            self._staging = os.path.dirname(trials[0].local_path)  # the experiment's staging folder

    def get_state(self):
        files = snapshot_files(self._staging) if self._staging else {}
        return {BUNDLE_KEY: files} if files else None

    def set_state(self, state):
        pass  # the bundle was put back in place before the restore (restore_snapshot)


def restore_snapshot(run_dir: str) -> str | None:
    """Put the newest whole save of the run (from :class:`SnapshotBundle`) in place of the loose files of that save,
    and move the files of any later save (one whose upload a killed driver left unfinished) into ``unrecorded/``;
    returns the save's session (None: the run has no bundle, its files are left as they are)."""
    states = newest_callback_states(run_dir).values()
    bundle = next((state[BUNDLE_KEY] for state in states if isinstance(state, dict) and BUNDLE_KEY in state), None)
    if not bundle:
        return None
    session = max(filter(None, map(snapshot_session, bundle)))
    for name in os.listdir(run_dir):
        later = snapshot_session(name)
        if later is not None and later > session:
            _set_aside(run_dir, name)
    for name, data in bundle.items():
        write_bytes_atomic(os.path.join(run_dir, name), data)
    return session


def experiment_saved(run_dir: str) -> bool:
    """Whether Ray saved the experiment at least once (its Tuner and a snapshot), so that ``Tuner.restore`` can
    continue it; a run without is started afresh. ``run_dir`` may be a URI."""
    names = list_files(run_dir, recursive=False) if is_uri(run_dir) else os.listdir(run_dir)
    return "tuner.pkl" in names and any(fnmatch.fnmatch(name, SNAPSHOT_FILES) for name in names)


def prepare_run_to_resume(run_dir: str, retry_failed: bool) -> None:
    """Before a resume: recover what a killed driver left (:func:`recover_run`) and, with ``--retry-failed``, forget
    the ends of the failed trials; a run in object storage is changed there. Says what it did on stderr."""
    with local_run(run_dir, write_back=True) as records:
        set_aside = recover_run(records)
        cleared = clear_failed(records) if retry_failed else None
    if set_aside:  # started just before the driver died, after Ray's last save: Ray starts them again
        print(f"{len(set_aside)} trial folder(s) Ray's last save did not know moved to "
              f"{run_dir.rstrip('/')}/{UNRECORDED_DIR}; Ray starts those trials again", file=sys.stderr)
    if cleared is not None:
        print(f"retrying {len(cleared)} failed trial(s) from their last checkpoint", file=sys.stderr)


def recover_run(run_dir: str) -> list[str]:
    """Make a run whose driver was killed ready to resume: put its newest whole save in place, remove the files
    whose copy the kill cut short (never complete, never read) and set aside the trial folders the save does not
    know; returns their names."""
    restore_snapshot(run_dir)
    remove_partial_files(run_dir)
    put_back_deleted_checkpoints(run_dir)
    return set_aside_unrecorded(run_dir)


def put_back_deleted_checkpoints(run_dir: str) -> list[str]:
    """Put back, as a copy of the newest whole checkpoint of its trial, a checkpoint that Ray's snapshot restores a
    trial from but that Ray deleted after the snapshot (it keeps the best and the latest; a driver killed after a
    newer one arrived, before its next snapshot). Ray's restore refuses a missing checkpoint, and the trial goes on
    from the newest one in its folder anyway (:func:`newest_checkpoint`). Returns the paths put back."""
    run_dir = os.path.abspath(run_dir)
    restored = []
    for name, path in snapshot_checkpoints(run_dir).items():
        trial_dir = os.path.join(run_dir, name)
        # a path of this run's folder (a run in object storage, read through a copy, keeps its paths there)
        if os.path.dirname(os.path.normpath(path)) != trial_dir or os.path.isdir(path):
            continue
        newest = newest_checkpoint(trial_dir, None)
        if newest is not None:
            shutil.copytree(newest, path)
            restored.append(path)
    return restored


def set_aside_unrecorded(run_dir: str) -> list[str]:
    """Move the trial folders that Ray's newest snapshot does not know (started after it, by a driver killed before
    the next one) into ``<run_dir>/unrecorded/``; returns their names. Without any snapshot every trial folder is
    unrecorded: the sweep starts afresh.

    Raises:
        DataError: the snapshot is not what Ray writes.
    """
    known = experiment_trial_states(run_dir) if experiment_saved(run_dir) else {}
    moved = []
    for params in sorted(glob.glob(os.path.join(run_dir, "*", "params.json"))):
        name = os.path.basename(os.path.dirname(params))
        if name not in known:
            _set_aside(run_dir, name)
            moved.append(name)
    return moved


def _set_aside(run_dir: str, name: str) -> None:
    target, copies = os.path.join(run_dir, UNRECORDED_DIR, name), 0
    while os.path.exists(target):  # set aside by an earlier resume too
        copies += 1
        target = os.path.join(run_dir, UNRECORDED_DIR, f"{name}.{copies}")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.move(os.path.join(run_dir, name), target)


def newest_checkpoint(trial_dir: str, known: str | None) -> str | None:
    """The checkpoint a trial should go on from: ``known`` (the one Ray's snapshot holds, None: none) or a newer one
    in the trial's folder that the snapshot missed (a driver killed after the trial wrote it, before Ray's next
    save; without this the trial would go back to an older checkpoint, or to its start).

    Checkpoints are written whole or not at all (:mod:`sweeps.cluster.atomic_fs`), so one with its state file is
    complete. One whose report the run recorded (``result.json`` names it, or Ray's snapshot holds it: Ray recorded
    its report before it kept it) comes first, so that the trial's reports go on without a gap; a newer one without
    its report only when no recorded one is left, and the trial then reports it again
    (:func:`report_missing`).
    """
    found = {os.path.basename(os.path.dirname(path)): os.path.dirname(path)
             for path in glob.glob(os.path.join(trial_dir, "checkpoint_*", CHECKPOINT_FILE))}
    if known is not None:
        found[os.path.basename(os.path.normpath(known))] = known
    recorded = recorded_checkpoints(trial_dir, known) & set(found)
    return found[max(recorded or found)] if found else None


def report_missing(trial_dir: str, checkpoint: str, known: str | None) -> bool:
    """Whether the report of ``checkpoint`` (a folder of the trial's) is missing from the run's records (a driver
    killed after the trial kept the checkpoint, before it recorded the report)."""
    return os.path.basename(os.path.normpath(checkpoint)) not in recorded_checkpoints(trial_dir, known)


def recorded_checkpoints(trial_dir: str, known: str | None) -> set[str]:
    """The checkpoints (folder names) whose reports the run recorded: those ``result.json`` names, and ``known``, the
    one Ray's snapshot holds (Ray records a report before it keeps its checkpoint)."""
    names = reported_checkpoints(trial_dir)
    return names | {os.path.basename(os.path.normpath(known))} if known is not None else names


def reported_checkpoints(trial_dir: str) -> set[str]:
    """The checkpoints (folder names) whose reports the trial's ``result.json`` holds."""
    try:
        with open(os.path.join(trial_dir, "result.json"), encoding="utf-8", errors="replace") as handle:
            lines = handle.read().split("\n")
    except OSError:
        return set()
    names = set()
    for line in lines:
        try:
            name = json.loads(line).get("checkpoint_dir_name")
        except (ValueError, AttributeError):  # a line cut short, or blank
            continue
        if isinstance(name, str):
            names.add(name)
    return names
