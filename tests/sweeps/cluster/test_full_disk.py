"""A sweep whose storage fills up (a 3 MiB tmpfs mounted by the test): it stops with one line naming the disk,
leaves nothing half-written that looks complete, and ``--resume`` finishes it once the disk has room again."""

from __future__ import annotations

import contextlib
import os
import subprocess

import pandas as pd
import pytest

from tests.sweeps.driver_forks import run_driver
from tests.sweeps.ledger.test_crash import SWEEP, TRIALS, assert_nothing_half_written

pytestmark = pytest.mark.slow


@contextlib.contextmanager
def tmpfs(folder: str, size: str):
    """A tmpfs of ``size`` mounted at ``folder`` (root only), unmounted again however the test ends."""
    os.makedirs(folder)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", folder], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root only): {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", folder], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", folder], capture_output=True)  # a process still holds a file there


def test_a_full_disk_stops_the_sweep_in_one_line_and_resume_finishes_it(ray_session, tmp_path):
    address = ["--address", ray_session.get_runtime_context().gcs_address, "--verbose", "0"]
    with tmpfs(str(tmp_path / "disk"), "3m") as disk:
        run_dir = os.path.join(disk, "ops_crash", "full")
        driver = run_driver([*SWEEP, "--storage", disk, "--name", "full", *address], str(tmp_path))
        lines = driver.stderr.strip().splitlines()
        assert driver.returncode == 2, driver.stderr[-3000:]
        assert lines[-1].startswith(f"error: no space left on the disk of the run directory {run_dir}: tmpfs at "
                                    f"{disk} (3.0 MiB, ")
        assert lines[-1].endswith(f"free space there, then continue with --resume --name full --storage {disk}")
        assert [line for line in lines if line.startswith("error:")] == [lines[-1]]
        assert not os.path.exists(os.path.join(run_dir, "results.csv"))  # no tables of a sweep that did not end
        assert_nothing_half_written(run_dir)

        subprocess.run(["mount", "-o", "remount,size=64m", disk], check=True)  # room again
        resumed = run_driver(["--resume", "--name", "full", "--storage", disk, *address], str(tmp_path))
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        results = pd.read_csv(os.path.join(run_dir, "results.csv"))
        assert len(results) == TRIALS and (results["status"] == "completed").all()
        assert_nothing_half_written(run_dir)
