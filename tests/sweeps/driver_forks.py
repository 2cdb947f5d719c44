"""Sweep drivers that a test can kill or signal: ``python tests/sweeps/spaces.py ARGS``, each a process of its own
forked from the session's fork server (tests/worker_forks.py), which has imported torch and the driver's other
libraries, instead of a fresh interpreter that imports Python's, torch's, Ray's and SciPy's modules again (about 5 s
of CPU a driver on this machine's cores, taken from the sweep beside it). The driver imports Ray after the fork, with
the environment it is given, as a fresh one would.

A test gets a :class:`ForkedDriver` that answers ``pid``, ``poll``, ``wait``, ``kill`` and ``send_signal`` as
``subprocess.Popen`` does; ``pid`` is the driver's own process, so a SIGKILL stops it as it would stop any driver:
nothing of it runs any more. The child runs the script as ``__main__`` (tests/sweeps/cli_forks.py's
``run_as_main``: exit codes, tracebacks and ``atexit`` handlers as from the interpreter) with its stdout and stderr
in the files given. Without the session's server (``forked_workers``), the driver is a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

from tests import worker_forks

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPACES = os.path.join(ROOT, "tests", "sweeps", "spaces.py")  # sweeps/run.py plus the operations test spaces

ForkedDriver = worker_forks.Forked | subprocess.Popen


def start_driver(args: list[str], stdout: str, stderr: str | None = None,
                 env: dict[str, str] | None = None) -> ForkedDriver:
    """``python tests/sweeps/spaces.py ARGS`` from the repository root, in the environment ``env`` (None: this
    process's) with the session's hook (its workers forked too), its stdout in the file ``stdout`` and its stderr in
    ``stderr`` (None: in ``stdout`` too)."""
    env = worker_forks.hooked(dict(os.environ if env is None else env))
    path = os.environ.get(worker_forks.SOCKET_VARIABLE)
    if path and os.path.exists(path):
        return worker_forks.Forked(path, [SPACES, *args], ROOT, env, stdout, stderr or stdout)
    with open(stdout, "wb") as out, (open(stderr, "wb") if stderr else contextlib.nullcontext(out)) as err:
        return subprocess.Popen([sys.executable, SPACES, *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err)


def run_driver(args: list[str], folder: str, timeout: float = 600,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python tests/sweeps/spaces.py ARGS`` run to its end as :func:`start_driver` runs it, its output kept in
    ``folder/driver.out`` and ``driver.err``; returns its exit code and output as ``subprocess.run`` does."""
    out, err = os.path.join(folder, "driver.out"), os.path.join(folder, "driver.err")
    driver = start_driver(args, out, err, env)
    try:
        driver.wait(timeout)
    finally:
        if driver.poll() is None:  # past the time-out
            driver.kill()
    with open(out, encoding="utf-8") as stdout, open(err, encoding="utf-8") as stderr:
        return subprocess.CompletedProcess([SPACES, *args], driver.returncode, stdout.read(), stderr.read())
