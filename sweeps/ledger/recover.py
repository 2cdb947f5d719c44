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
- after a trial wrote a checkpoint that the last save does not know: on a path, the trial goes on from the newest
  checkpoint in its folder (:func:`newest_checkpoint`), not from an older one or its start, and names its next ones
  after it (``sweeps.ray_private.worker_checkpoints_after_existing``); in object storage it goes
  on from the save's checkpoint, or starts over where the save holds none, and its result file is then replaced by
  the new attempt's reports (the work since the save is done again; no report is counted twice);
- in object storage, after Ray's save reached the bucket and before the result files that record its reports did:
  the save's own copy of each unfinished trial's result file takes the place of a shorter one (:class:`SnapshotBundle`,
  :func:`restore_snapshot`), and a trial whose restored checkpoint no record reports even so (a save without that
  copy) reports it again (:func:`unreported_checkpoints`); after Ray deleted the checkpoint that save restores a
  trial from (a newer one arrived): it is put back as a copy of another (:func:`put_back_deleted_remote`), as on a
  path (:func:`put_back_deleted_checkpoints`).
"""

from __future__ import annotations

import fnmatch
import glob
import json
import os
import shutil
import sys

from ray import tune
from ray.tune.experiment import Trial

from analysis.remote import filesystem, is_uri, list_files, local_run
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
RECORDS_KEY = "restore_sweeps_result_files"  # beside the bundle: the result files of the trials not ended then


class SnapshotBundle(tune.Callback):
    """Keeps Ray's newest save (snapshot and searcher state, as Ray just wrote them into its staging folder) in this
    callback's state, which Ray saves right after them into a single file, with the result file of each trial that
    has not ended as it was then: one upload of the run's folder can carry a save while a trial's result file in
    object storage is still older, and several reports behind it."""

    def __init__(self):
        self._staging: str | None = None
        self._trials: list[Trial] = []  # the experiment's trials, as the last step saw them

    def on_step_begin(self, iteration, trials, **info):
        if self._staging is None and trials and trials[0].local_path:
            self._staging = os.path.dirname(trials[0].local_path)  # the experiment's staging folder
        self._trials = trials

    def get_state(self):
        files = snapshot_files(self._staging) if self._staging else {}
        if not files:
            return None
        live = [trial.local_path for trial in self._trials
                if trial.local_path and trial.status not in (Trial.TERMINATED, Trial.ERROR)]
        return {BUNDLE_KEY: files, RECORDS_KEY: result_files(live)}

    def set_state(self, state):
        pass  # the bundle was put back in place before the restore (restore_snapshot)


def restore_snapshot(run_dir: str) -> str | None:
    """Put the newest whole save of the run (from :class:`SnapshotBundle`) in place of the loose files of that save,
    and move the files of any later save (one whose upload a killed driver left unfinished) into ``unrecorded/``; a
    trial's result file that is shorter than the save's (an upload to object storage behind it) becomes the save's.
    Returns the save's session (None: the run has no bundle, its files are left as they are)."""
    states = newest_callback_states(run_dir).values()
    saved = next((state for state in states if isinstance(state, dict) and BUNDLE_KEY in state), {})
    bundle = saved.get(BUNDLE_KEY)
    if not bundle:
        return None
    session = max(filter(None, map(snapshot_session, bundle)))
    for name in os.listdir(run_dir):
        later = snapshot_session(name)
        if later is not None and later > session:
            _set_aside(run_dir, name)
    for name, data in bundle.items():
        write_bytes_atomic(os.path.join(run_dir, name), data)
    for name, data in (saved.get(RECORDS_KEY) or {}).items():  # a result file of the run's behind the save's
        path = os.path.join(run_dir, name)
        if len(data) > (os.path.getsize(path) if os.path.isfile(path) else 0):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_bytes_atomic(path, data)
    return session


def result_files(trial_dirs: list[str]) -> dict[str, bytes]:
    """The result file of each of ``trial_dirs`` that has one, by its path relative to the experiment folder."""
    files = {}
    for folder in trial_dirs:
        try:
            with open(os.path.join(folder, "result.json"), "rb") as handle:
                files[f"{os.path.basename(folder)}/result.json"] = handle.read()
        except OSError:  # no report yet
            continue
    return files


def experiment_saved(run_dir: str) -> bool:
    """Whether Ray saved the experiment at least once (its Tuner and a snapshot), so that ``Tuner.restore`` can
    continue it; a run without is started afresh. ``run_dir`` may be a URI."""
    names = list_files(run_dir, recursive=False) if is_uri(run_dir) else os.listdir(run_dir)
    return "tuner.pkl" in names and any(fnmatch.fnmatch(name, SNAPSHOT_FILES) for name in names)


def prepare_run_to_resume(run_dir: str, retry_failed: bool) -> dict[str, tuple[str, int]]:
    """Before a resume: recover what a killed driver left (:func:`recover_run`) and, with ``--retry-failed``, forget
    the ends of the failed trials; a run in object storage is changed there. Says what it did on stderr.

    Returns:
        for a run in object storage, :func:`unreported_checkpoints` (empty for a path, where each trial finds its
        own in its folder: :func:`report_missing`).
    """
    with local_run(run_dir, write_back=True) as records:
        set_aside = recover_run(records)
        cleared = clear_failed(records) if retry_failed else None
        # in object storage the trials restore Ray's checkpoint as it is (a folder's newer one is not looked for)
        unreported = unreported_checkpoints(records, put_back_deleted_remote(run_dir, records)) if is_uri(run_dir) \
            else {}
    if set_aside:  # started just before the driver died, after Ray's last save: Ray starts them again
        print(f"{len(set_aside)} trial folder(s) Ray's last save did not know moved to "
              f"{run_dir.rstrip('/')}/{UNRECORDED_DIR}; Ray starts those trials again", file=sys.stderr)
    if cleared is not None:
        print(f"retrying {len(cleared)} failed trial(s) from their last checkpoint", file=sys.stderr)
    if unreported:
        print(f"{len(unreported)} trial(s) kept a checkpoint whose report the records in {run_dir} lack; each "
              "reports it again as it goes on from it", file=sys.stderr)
    return unreported


def put_back_deleted_remote(run_uri: str, records: str) -> dict[str, str]:
    """:func:`put_back_deleted_checkpoints` for a run in object storage (``records``: its records' local copy): a
    checkpoint that Ray's snapshot restores a trial from but that Ray deleted from the bucket after the snapshot is
    put back as a copy of the trial's newest checkpoint there whose report the run recorded, else of its oldest one
    (whose report the trial makes again, and every later one as it trains on: no report is left out). Returns the
    checkpoint (folder name) each copy was made from, by trial folder."""
    filesystem_, root = filesystem(run_uri)
    listed = list_files(run_uri)
    copied = {}
    for trial, path in snapshot_checkpoints(records).items():
        name = os.path.basename(os.path.normpath(path))
        if os.path.basename(os.path.dirname(os.path.normpath(path))) != trial:  # not one of the trial's checkpoints
            continue
        # a checkpoint's state file is written last, and an object appears whole or not at all
        whole = {rel.split("/")[1] for rel in listed
                 if rel.startswith(f"{trial}/checkpoint_") and rel.count("/") == 2 and rel.endswith(CHECKPOINT_FILE)}
        if name in whole or not whole:
            continue
        recorded = reported_checkpoints(os.path.join(records, trial)) & whole
        source = max(recorded) if recorded else min(whole)
        for rel in listed:
            if rel.startswith(f"{trial}/{source}/"):
                filesystem_.copy_file(f"{root}/{rel}", f"{root}/{trial}/{name}/{rel[len(trial) + len(source) + 2:]}")
        copied[trial] = source
    return copied


def unreported_checkpoints(run_dir: str, copied: dict[str, str] | None = None) -> dict[str, tuple[str, int]]:
    """The checkpoint Ray's snapshot restores each trial from whose report the trial's ``result.json`` lacks, by the
    trial's folder name (the checkpoint's folder name, and the step of the last report the file holds): in object
    storage the snapshot can reach the bucket before the result file that records the report does, and a driver
    killed in between leaves that report in no record. The restored trial reports it again, with the reports before
    it that the file lacks (:func:`sweeps.driver.trainable.run_trial`). Only a resume may ask this: while the driver
    lives, the bucket's result file lags its own records, which hold every report.

    ``copied``: the checkpoint each put-back copy was made from, by trial (:func:`put_back_deleted_remote`); its
    report is the one the restored trial's records must hold.
    """
    unreported = {}
    for name, path in snapshot_checkpoints(run_dir).items():
        checkpoint = os.path.basename(os.path.normpath(path))
        trial_dir = os.path.join(run_dir, name)
        if (copied or {}).get(name, checkpoint) not in reported_checkpoints(trial_dir):
            unreported[name] = (checkpoint, last_recorded_step(trial_dir))
    return unreported


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
    for name, recorded in snapshot_checkpoints(run_dir).items():
        trial_dir = os.path.join(run_dir, name)
        # where Ray restores it from: the trial's folder in the run as it is now (Ray's snapshot keeps the paths of
        # where the run was written, which a run moved or copied elsewhere, or read through a copy, no longer is)
        if os.path.basename(os.path.dirname(os.path.normpath(recorded))) != name:
            continue
        path = os.path.join(trial_dir, os.path.basename(os.path.normpath(recorded)))
        if os.path.isdir(path):
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
    return {name for report in recorded_reports(trial_dir)
            if isinstance(name := report.get("checkpoint_dir_name"), str)}


def last_recorded_step(trial_dir: str) -> int:
    """The step of the last report the trial's ``result.json`` holds (0: none): a resumed trial makes again the
    reports its checkpoint carries after it (:func:`restore_core.loop.train`'s ``recorded_up_to``)."""
    steps = [step for report in recorded_reports(trial_dir) if isinstance(step := report.get("step"), int)]
    return max(steps, default=0)


def recorded_reports(trial_dir: str) -> list[dict]:
    """The whole reports in the trial's ``result.json`` (a line cut short, or blank, is skipped)."""
    try:
        with open(os.path.join(trial_dir, "result.json"), encoding="utf-8", errors="replace") as handle:
            lines = handle.read().split("\n")
    except OSError:
        return []
    reports = []
    for line in lines:
        try:
            report = json.loads(line)
        except ValueError:
            continue
        if isinstance(report, dict):
            reports.append(report)
    return reports
