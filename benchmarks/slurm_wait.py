#!/usr/bin/env python
"""How soon ``sweeps/submit.py slurm --wait`` comes back after the job ends: ``sbatch --wait`` against the platform's
wait (``sweeps/launch/slurm_wait.py``: ``scontrol show job`` every 2 s), on jobs of the same length, taking turns.

    python benchmarks/slurm_wait.py                       # jobs of 3 and 11 s, 2 rounds each way
    python benchmarks/slurm_wait.py --seconds 3 11 40 --rounds 3

Needs a SLURM with a free CPU (``bash .ci/slurm-setup.sh`` starts a one-node one). Each job is a batch script that
sleeps; each wait is timed from the submission to its return, and the job's own run time (``scontrol``'s StartTime
to EndTime, whole seconds) is read after it. Prints, for each job length and each way, the median wait and the
median time it came back after the job ended, and the ratio of the two waits.
"""

from __future__ import annotations

import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from restore_core import cli  # noqa: E402
from restore_core.errors import UserError  # noqa: E402
from sweeps.launch.slurm import scontrol_beside_sbatch, submit_script  # noqa: E402
from sweeps.launch.slurm_wait import job_fields, wait_for_job  # noqa: E402


def job_seconds(job_id: str) -> float:
    """The job's run time from SLURM's record (StartTime to EndTime)."""
    fields = job_fields(scontrol_beside_sbatch(), job_id) or {}
    start, end = (datetime.datetime.fromisoformat(fields[key]) for key in ("StartTime", "EndTime"))
    return (end - start).total_seconds()


def one_wait(way: str, script: str, folder: str) -> tuple[float, float]:
    """(seconds from submission to the wait's return, seconds of the job's own run)."""
    started = time.monotonic()
    if way == "sbatch --wait":
        proc = subprocess.run(["sbatch", "--parsable", "--wait", script], capture_output=True, text=True)
        job_id = proc.stdout.strip().split(";")[0]
    else:
        job_id = submit_script(script, folder)
        with open(os.devnull, "w", encoding="utf-8") as quiet:
            stdout, sys.stdout = sys.stdout, quiet
            try:
                wait_for_job(scontrol_beside_sbatch(), job_id)
            finally:
                sys.stdout = stdout
    return time.monotonic() - started, job_seconds(job_id)


def main(argv: list[str] | None = None) -> int:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--seconds", type=cli.whole_number(1), nargs="+", default=[3, 11],
                        help="how long each job sleeps")
    parser.add_argument("--rounds", type=cli.whole_number(1), default=2, help="jobs of each length each way")
    args = parser.parse_args(argv)
    return cli.run_user_facing(lambda: measure(args.seconds, args.rounds))


def measure(lengths: list[int], rounds: int) -> int:
    if shutil.which("sbatch") is None:
        raise UserError("no sbatch on this machine: start a SLURM first (bash .ci/slurm-setup.sh)")
    ways = ("sbatch --wait", "the platform's wait")
    print(f"{'job':>6}  {'way':<20} {'wait (median)':>14} {'after the job':>14}")
    with tempfile.TemporaryDirectory() as folder:
        for seconds in lengths:
            script = os.path.join(folder, f"sleep{seconds}.sbatch")
            with open(script, "w", encoding="utf-8") as handle:
                handle.write(f"#!/bin/bash\n#SBATCH --output={folder}/%j.out\n#SBATCH --cpus-per-task=1\n"
                             f"sleep {seconds}\n")
            waits = {way: [] for way in ways}
            for round_ in range(rounds):
                for way in ways if round_ % 2 == 0 else ways[::-1]:
                    waits[way].append(one_wait(way, script, folder))
            for way in ways:
                wait = statistics.median(w for w, _ in waits[way])
                late = statistics.median(w - run for w, run in waits[way])
                print(f"{seconds:>5}s  {way:<20} {wait:>12.1f} s {late:>12.1f} s")
            ratio = statistics.median(w for w, _ in waits[ways[1]]) / statistics.median(w for w, _ in waits[ways[0]])
            print(f"{'':>6}  the platform's wait / sbatch --wait: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
