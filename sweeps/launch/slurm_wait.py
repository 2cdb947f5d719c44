"""``sweeps/submit.py slurm --wait``: block until the submitted job ends, asking SLURM for its state every
:data:`POLL_S` seconds, and give its exit status as ``sbatch --wait`` gives it.

``sbatch --wait`` sleeps 2, 8, 32, 128... seconds between its questions (while the sleep is under a quarter of the
cluster's ``MinJobAge``): an 11-s job came back after 42 s. Asking every few seconds ends the wait within
:data:`POLL_S` of the job's end, and shows each change of the job's state (pending, running, ended) as it happens.
"""

from __future__ import annotations

import signal
import subprocess
import time

from restore_core.cli import Interrupted
from restore_core.errors import UserError

POLL_S = 2.0  # seconds between two questions to SLURM (scontrol reads slurmctld's memory: cheap)
# states in which SLURM has finished with the job (scontrol's JobState)
ENDED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE",
         "OUT_OF_MEMORY"}


def job_fields(scontrol: str, job_id: str) -> dict[str, str] | None:
    """The job's fields as ``scontrol show job -o`` prints them (None: slurmctld does not know the job, or no longer
    does: its record is kept ``MinJobAge`` seconds after it ends)."""
    proc = subprocess.run([scontrol, "show", "job", "-o", job_id], capture_output=True, text=True)
    if proc.returncode != 0:
        return None
    return dict(word.split("=", 1) for word in proc.stdout.split() if "=" in word)


def exit_status(fields: dict[str, str]) -> int:
    """The job's exit status from its ``ExitCode=<status>:<signal>`` as a shell gives it: the status, else 128 +
    the signal that ended it, else 0 for a completed job and 1 for one that ended otherwise (cancelled, timed out)."""
    status, _, signal = fields.get("ExitCode", "0:0").partition(":")
    if status.isdigit() and int(status):
        return int(status)
    if signal.isdigit() and int(signal):
        return 128 + int(signal)
    return 0 if fields.get("JobState") == "COMPLETED" else 1


def wait_for_job(scontrol: str, job_id: str, poll: float = POLL_S) -> int:
    """Block until the job ends; print each state it goes through; return its exit status (:func:`exit_status`).

    Raises:
        UserError: SLURM lost the job before it was seen to end (its record purged while nobody asked).
        Interrupted: Ctrl-C stopped the wait (exit code 130); the job goes on.
    """
    shown = None
    try:
        while True:
            fields = job_fields(scontrol, job_id)
            if fields is None:
                raise UserError(f"SLURM no longer knows job {job_id}, and it was not seen to end: see its output, "
                                f"or `sacct -j {job_id}` where the cluster keeps accounting")
            state = fields.get("JobState", "?")
            if state != shown:
                where = f" on {fields['NodeList']}" if state == "RUNNING" and fields.get("NodeList") else ""
                reason = fields.get("Reason", "None")
                print(f"SLURM job {job_id}: {state}{where}{f' ({reason})' if reason != 'None' else ''}", flush=True)
                shown = state
            if state in ENDED:
                return exit_status(fields)
            time.sleep(poll)
    except KeyboardInterrupt:  # the job is SLURM's, not this process's: it goes on
        raise Interrupted(signal.SIGINT, f"stopped waiting: SLURM job {job_id} goes on (scancel {job_id} cancels "
                                         "it)") from None
