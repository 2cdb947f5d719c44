"""``--retry-failed``: which failed trials a resume runs again, and forgetting how they ended so that they do."""

from __future__ import annotations

import glob
import os
import shutil

from sweeps.ledger.status import (
    RETRIED_FILE,
    STATUS_FILE,
    TIMEOUT_FILE,
    driver_staging_dirs,
    keep_retried_errors,
    ray_trial_states,
    read_status,
)


def clear_failed(run_dir: str) -> list[str]:
    """Forget the end of every failed trial (``--retry-failed``), so that it runs again from its last checkpoint.

    Only a trial that the restore runs again is forgotten (:func:`rerun_by_ray`): ``Tuner.restore(resume_errored=
    True)`` runs the ones Ray holds as ERROR (a time-out included, which the trainable raises), never one it holds
    as TERMINATED. The error it ended with is not lost: it goes onto the end of the trial's ``retried-errors.txt``,
    as the errors of attempts that ``--max-failures`` retried do. A staging copy of the trial's folder that Ray goes
    on using (a resume in the Ray session of the run's earlier driver) is made to match, or Ray would upload the old
    end over the trial's folder again."""
    cleared = []
    held, staging = ray_trial_states(run_dir), None
    for path in sorted(glob.glob(os.path.join(run_dir, "*", STATUS_FILE))):
        trial_dir = os.path.dirname(path)
        status = read_status(trial_dir)
        if status and status.get("status") == "error" and rerun_by_ray(held, os.path.basename(trial_dir)):
            error = status.get("error")
            keep_retried_errors(trial_dir, error if isinstance(error, str) else None)
            for name in TRIAL_END_FILES:
                if os.path.exists(os.path.join(trial_dir, name)):
                    os.unlink(os.path.join(trial_dir, name))
            staging = driver_staging_dirs(run_dir) if staging is None else staging
            copy = staging.get(os.path.basename(trial_dir))
            if copy and os.path.realpath(copy) != os.path.realpath(trial_dir):
                _match_trial_ends(copy, trial_dir)
            cleared.append(os.path.basename(trial_dir))
    return cleared


def rerun_by_ray(held: dict[str, tuple[str, str]], folder: str) -> bool:
    """Whether the restore runs this failed trial again once ``--retry-failed`` has forgotten its end: Ray's snapshot
    holds it as ERROR (``resume_errored``) or as not ended yet (the driver wrote its end, then died before the next
    snapshot), or the run has no snapshot of it. One that Ray holds as TERMINATED is never run again, so it keeps
    its end: the trainable returned although the trial had failed (it found the end already written, or it timed
    out under a sweep that let a timed-out trial return)."""
    return held.get(folder, ("ERROR", ""))[0] != "TERMINATED"


TRIAL_END_FILES = (STATUS_FILE, TIMEOUT_FILE, "error.txt", "error.pkl")  # Ray's error files, moved or cleared


def _match_trial_ends(staging_dir: str, trial_dir: str) -> None:
    """Make the files that tell how a trial ended in its staging copy what they are in its folder."""
    for name in (*TRIAL_END_FILES, RETRIED_FILE):
        source, target = os.path.join(trial_dir, name), os.path.join(staging_dir, name)
        if os.path.exists(source):
            shutil.copyfile(source, target)
        elif os.path.exists(target):
            os.unlink(target)
