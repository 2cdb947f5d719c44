"""Sweep drivers that a test can kill or signal, each a process of its own forked from one that has already imported
the driver's modules, instead of a fresh ``python tests/sweeps/spaces.py ARGS`` that imports Python's, torch's, Ray's
and SciPy's modules again (about 5 s of CPU a driver on this machine's cores, taken from the sweep beside it).

One server process per test session and environment (started on first use, ended with the session) forks the
drivers; a test gets
a :class:`ForkedDriver` that answers ``pid``, ``poll``, ``wait``, ``kill`` and ``send_signal`` as ``subprocess.Popen``
does. The child runs the script as ``__main__`` (tests/sweeps/cli_forks.py's child: exit codes, tracebacks and
``atexit`` handlers as from the interpreter) with its stdout and stderr in the files given, so a SIGKILL stops it as
it would stop any driver: nothing of it runs any more.

    python tests/sweeps/driver_forks.py SCRIPT      # the server: JSON requests on stdin, one answer a line
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import signal
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)  # run as the server's script, this folder is first on the path, not the repository

from tests import worker_forks  # noqa: E402
from tests.sweeps.cli_forks import run_child  # noqa: E402

SPACES = os.path.join(ROOT, "tests", "sweeps", "spaces.py")  # sweeps/run.py plus the operations test spaces


class ForkServer:
    """The server process: asks it to fork a driver or to say whether one has ended."""

    def __init__(self, script: str = SPACES, env: dict[str, str] | None = None):
        env = worker_forks.hooked(dict(os.environ if env is None else env))  # workers forked as the session's are
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__), script], cwd=ROOT, env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lock = threading.Lock()  # one request and its answer at a time
        assert self._read() == {"ready": True}

    def _read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"the driver fork server ended (exit code {self.process.wait()})")
        return json.loads(line)

    def ask(self, **request) -> dict:
        with self.lock:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.stdin.close()
            self.process.wait(timeout=30)


class ForkedDriver:
    """A driver forked by the server, as far as a test uses ``subprocess.Popen``."""

    def __init__(self, server: ForkServer, pid: int):
        self.server, self.pid, self.returncode = server, pid, None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self.server.ask(op="poll", pid=self.pid)["code"]
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"driver {self.pid}", timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:  # not yet waited for by the server: the pid is still this driver's
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


_servers: dict[frozenset, ForkServer] = {}  # by environment: Ray and others read some variables on import
# Variables that change under the tests without a test asking: pytest sets PYTEST_CURRENT_TEST anew for each phase of
# each test, and torch sets TORCHINDUCTOR_CACHE_DIR to its default on first use. In the key, either gave a test a
# server of its own (a fresh interpreter importing torch, Ray and SciPy again); no driver reads them.
UNKEYED = frozenset({"PYTEST_CURRENT_TEST", "TORCHINDUCTOR_CACHE_DIR"})


def start_driver(args: list[str], stdout: str, stderr: str | None = None,
                 env: dict[str, str] | None = None) -> ForkedDriver:
    """``python tests/sweeps/spaces.py ARGS`` from the repository root, forked from the session's server for the
    environment ``env`` (None: this process's), with its stdout in the file ``stdout`` and its stderr in ``stderr``
    (None: in ``stdout`` too)."""
    key = frozenset((name, value) for name, value in (env if env is not None else os.environ).items()
                    if name not in UNKEYED)
    server = _servers.get(key)
    if server is None or server.process.poll() is not None:
        server = _servers[key] = ForkServer(env=env)
        atexit.register(server.close)
    for path in {stdout, stderr or stdout}:  # there from the start, as a shell's redirection would make them
        open(path, "w").close()
    return ForkedDriver(server, server.ask(op="start", args=args, out=stdout, err=stderr or stdout)["pid"])


def run_driver(args: list[str], folder: str, timeout: float = 600,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python tests/sweeps/spaces.py ARGS`` run to its end as :func:`start_driver` runs it, its output kept in
    ``folder/driver.out`` and ``driver.err``; returns its exit code and output as ``subprocess.run`` does."""
    out, err = os.path.join(folder, "driver.out"), os.path.join(folder, "driver.err")
    driver = start_driver(args, out, err, env)
    try:
        driver.wait(timeout)
    finally:
        driver.kill()  # only if it is still running: past the time-out
    with open(out, encoding="utf-8") as stdout, open(err, encoding="utf-8") as stderr:
        return subprocess.CompletedProcess([SPACES, *args], driver.returncode, stdout.read(), stderr.read())


def main() -> int:
    (script,) = sys.argv[1:]
    runpy.run_path(script, run_name="preload")  # the script's imports, not its __main__ block
    import sweeps.run  # noqa: F401 (what tests/sweeps/spaces.py's __main__ block imports, loaded once for all)

    answer = sys.stdout
    answer.write(json.dumps({"ready": True}) + "\n")
    answer.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "start":
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                devnull = os.open(os.devnull, os.O_RDONLY)
                os.dup2(devnull, 0)  # the requests are the server's, not the driver's
                run_child(script, request["args"], request["out"], request["err"])
            answer.write(json.dumps({"pid": pid}) + "\n")
        else:
            done, status = os.waitpid(request["pid"], os.WNOHANG)
            answer.write(json.dumps({"code": os.waitstatus_to_exitcode(status) if done else None}) + "\n")
        answer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
