"""How each trial ended, in its folder: ``status.json`` and the time-out marker (their format: ``analysis.rundir``).

A trial ends once. ``status.json`` is written by the driver when Ray reports the end (completed, stopped by the
scheduler, or failed after its retries) and is never overwritten: a trial folder that has one ended in an earlier
life of the run, and a resumed sweep does not run it again. ``timeout.json`` is written by the trial itself when
``--trial-timeout`` stops it, so that the driver records the time-out as the reason.

Ray keeps a trial's folder in two places: a staging copy on the driver's machine (``/tmp/ray/session_*/...``),
uploaded to ``--storage`` every few seconds, and the folder under ``--storage``. Both are written here.
"""

from __future__ import annotations

import os

import ray
from ray import tune
from ray.tune.experiment import Trial

from analysis.rundir import RETRIED_FILE, STATUS_FILE, TIMEOUT_FILE, read_status, read_timeout
from restore_core.io import write_json_atomic
from sweeps.cluster.atomic_fs import is_local_filesystem
from sweeps.cluster.disk import DiskFull, is_full_disk
from sweeps.cluster.nodes import NODE_LOST, pickled_error, trial_lost_its_node
from sweeps.ray_private import (
    experiment_trial_states,
    outside_the_staging_upload,
    staging_dirs,
    trial_storage_filesystem,
    worker_storage_file,
    worker_storage_filesystem,
)


def ended_before(trial_dir: str) -> bool:
    """Inside a trial: whether it ended in an earlier life of the run (its ``status.json`` under the run's storage,
    whether that is ``trial_dir`` or object storage)."""
    if is_local_filesystem(worker_storage_filesystem()):
        return read_status(trial_dir) is not None
    return worker_storage_file(STATUS_FILE) is not None


def write_timeout(trial_dir: str, message: str) -> None:
    write_json_atomic(os.path.join(trial_dir, TIMEOUT_FILE), {"error": message})


def clear_timeout(trial_dir: str) -> None:
    """A new attempt of a trial (Ray's retry) starts without the previous attempt's time-out."""
    path = os.path.join(trial_dir, TIMEOUT_FILE)
    if os.path.exists(path):
        os.unlink(path)


def record_end(trial_dirs: list[str], status: str, error: str | None) -> str | None:
    """Write ``status.json`` into the trial's folders unless it already has one; a recorded time-out wins over
    Ray's view. Returns the status written (None: none written).

    A trial that ended well after ``--max-failures`` retries keeps the failures of its earlier attempts, but as
    ``retried-errors.txt``: Ray's ``error.txt`` in its folder would read as the trial's own end.

    Args:
        trial_dirs: the trial's folder in the driver's staging area and, for a filesystem ``--storage``, under it
            (written directly, so that a driver killed a second later leaves the end on record).
    """
    folders = [d for d in dict.fromkeys(trial_dirs) if d and os.path.isdir(d)]
    if not folders or any(read_status(d) is not None for d in folders):
        return None
    for folder in folders:
        timeout = read_timeout(folder)
        if timeout is not None:
            status, error = "error", timeout["error"]
    for folder in folders:
        if status == "terminated":
            keep_retried_errors(folder)
        path = os.path.join(folder, STATUS_FILE)
        write_json_atomic(path, {"status": status, "error": error}, outside_the_staging_upload(path))
    return status


def keep_retried_errors(trial_dir: str, recorded: str | None = None) -> None:
    """Move the errors of attempts that were retried out of the trial's way, onto the end of ``retried-errors.txt``:
    Ray's ``error.txt`` as it is, or else ``recorded`` (the end ``status.json`` gave, a time-out for one) as a line.

    Appending, not replacing, keeps every earlier attempt's errors, whichever of ``--max-failures`` and
    ``--retry-failed`` retried it.
    """
    ray_errors = os.path.join(trial_dir, "error.txt")
    if os.path.exists(ray_errors):
        with open(ray_errors, "rb") as handle:
            text = handle.read()
    elif recorded:
        text = recorded.encode("utf-8")
    else:
        return
    with open(os.path.join(trial_dir, RETRIED_FILE), "ab") as handle:
        handle.write(text if text.endswith(b"\n") else text + b"\n")
    if os.path.exists(ray_errors):
        os.unlink(ray_errors)


def driver_trial_dirs(trial: Trial) -> list[str]:
    """Where the driver sees a Ray trial's folder: its staging copy, and the folder under a filesystem storage."""
    dirs = [trial.local_path]
    if is_local_filesystem(trial_storage_filesystem(trial)):
        dirs.append(trial.path)
    return [d for d in dirs if d]


def ray_trial_states(run_dir: str) -> dict[str, tuple[str, str]]:
    """How Ray's newest snapshot of the experiment (the one ``Tuner.restore`` reads) holds each trial, by folder
    name: its status (``TERMINATED``, ``ERROR``, ``PENDING``, ...) and Ray's JSON state of it. A restore with
    ``resume_errored=True`` (``--retry-failed``) runs the ERROR ones again, never the TERMINATED ones. Empty before
    Ray's first snapshot.

    Raises:
        DataError: the snapshot is not what Ray writes.
    """
    return experiment_trial_states(run_dir)


def driver_staging_dirs(run_dir: str) -> dict[str, str]:
    """The staging copy on this machine of each trial folder of the run (by folder name) that a restore of the run
    in the running Ray session goes on using.

    Ray keeps a restored trial's staging folder (``/tmp/ray/session_*/artifacts/<start time>/...``). A run resumed in
    the Ray session its earlier driver ran in (a cluster that outlived that driver, or one process that sweeps
    twice) finds that driver's copies there, and Ray uploads them over the run directory again. Without Ray running:
    none.
    """
    if not ray.is_initialized():
        return {}
    staging = staging_dirs(ray_trial_states(run_dir))
    return {name: path for name, path in staging.items() if name and path and os.path.isdir(path)}


def error_line(trial_dir: str | None, fallback: str | None) -> str:
    """The last line of Ray's ``error.txt`` (the exception and its message), or ``fallback``."""
    candidate = os.path.join(trial_dir or "", "error.txt")
    if os.path.exists(candidate):
        with open(candidate, encoding="utf-8", errors="replace") as handle:
            lines = [line.strip() for line in handle if line.strip()]
        if lines:
            return lines[-1]
    return str(fallback or "error")


def _say_in_the_table(trial, reason: str) -> None:
    """The progress table shows a trial's last report: for one that ended between evaluations, that says "running"
    (or "waiting at <rung>": stopped while paused). Replace it with how the trial ended (the results on disk keep
    what the trial reported)."""
    if str(trial.last_result.get("stop_reason")).startswith(("running", "waiting at")):
        trial.last_result["stop_reason"] = reason


class TrialStatusCallback(tune.Callback):
    """Writes ``status.json`` into each trial folder when the trial ends, so a run directory tells finished,
    early-stopped and failed trials apart (a trial without it never ended: the driver died first), and puts how it
    ended into the progress table, and "waiting at <rung>" for a trial the scheduler paused there
    (``--asha-quorum``: the scheduler's ``waiting_at``)."""

    def __init__(self, scheduler=None):
        self._waiting_at = getattr(scheduler, "waiting_at", None)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        # Ray asked the scheduler first; the loggers before this callback have written the report as it was
        rung = self._waiting_at(trial.trial_id) if self._waiting_at else None
        if rung is not None:
            result["stop_reason"] = f"waiting at {rung}"

    def on_trial_complete(self, iteration, trials, trial, **info):
        status = record_end(driver_trial_dirs(trial), "terminated", None)
        _say_in_the_table(trial, "timed out" if status == "error" else "stopped early")  # or by the scheduler

    def on_trial_error(self, iteration, trials, trial, **info):
        if is_full_disk(pickled_error(trial)):  # every trial would fail the same way: stop, this one unfinished
            raise DiskFull(f"trial {trial.trial_id} could not write its files")
        folders = [d for d in driver_trial_dirs(trial) if os.path.isdir(d)]
        if trial_lost_its_node(trial):  # Ray's error.txt says only that the worker process is gone
            error = NODE_LOST
        else:
            error = error_line(trial.local_path, getattr(trial, "error_msg", None))
        _say_in_the_table(trial, "timed out" if any(read_timeout(d) for d in folders) else
                          NODE_LOST if error == NODE_LOST else "error")
        record_end(folders, "error", error)
