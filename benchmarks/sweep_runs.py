"""The sweeps the benchmarks run through ``sweeps/run.py``: checked before the first starts, run in their own
process, kept under ``--storage`` or in a temporary folder removed at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable

from restore_core.errors import UserError
from sweeps import cli
from sweeps.driver.runner import check_sweep, plan_sweep
from sweeps.settings.plan import SweepPlan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SweepFailed(Exception):
    """A sweep ended with an error (its own output, above, says which)."""

    def __init__(self, name: str, returncode: int):
        super().__init__(f"the {name} sweep failed (sweeps/run.py exit status {returncode}; its output is above)")
        self.returncode = returncode


def free_port() -> int:
    """A TCP port free on loopback now, for a sweep's own Ray dashboard (8265 may be another Ray's on a shared
    machine)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check_sweep_argv(name: str, argv: list[str]) -> SweepPlan:
    """Every check of ``sweeps/run.py --dry-run`` (options, space, configs, storage, data folders) for one sweep,
    before anything runs. Returns its plan: its run directory, base config and grid trials.

    Raises:
        UserError: naming the sweep whose command would be refused (e.g. a bad argument passed through).
    """
    args, unknown = cli.build_parser().parse_known_args(argv)
    if unknown:
        raise UserError(f"the {name} sweep: sweeps/run.py has no argument {' '.join(unknown)} "
                        "(see sweeps/run.py --help)")
    try:
        plan = plan_sweep(cli.options_from_args(args))
        if os.path.exists(plan.run_dir):
            raise UserError(f"{plan.run_dir} already exists; pass another --storage")
        check_sweep(plan)
        return plan
    except UserError as err:
        raise UserError(f"the {name} sweep: {err}") from err


def run_sweep(name: str, argv: list[str]) -> None:
    """Run one sweep in its own process (its output goes to stderr as it comes; stdout is dropped)."""
    done = subprocess.run([sys.executable, os.path.join(ROOT, "sweeps/run.py"), *argv], cwd=ROOT,
                          stdout=subprocess.DEVNULL)
    if done.returncode:
        raise SweepFailed(name, done.returncode)


def in_storage(storage: str | None, prefix: str, work: Callable[[str], int]) -> int:
    """``work(storage)``, or ``work`` in a temporary folder named ``prefix...`` that is removed afterwards (also on
    an error or Ctrl-C). A folder is given as an absolute path: the sweeps run in the repository, while the
    benchmark reads their runs from where it was started."""
    if storage:
        return work(storage if "://" in storage else os.path.abspath(storage))
    with tempfile.TemporaryDirectory(prefix=prefix, ignore_cleanup_errors=True) as folder:
        return work(os.path.abspath(folder))
