"""Every Python process the tests start, forked from one process that has already imported torch, torchmetrics,
pandas, OpenCV and the rest, instead of a fresh interpreter that imports them again (about 4.5 of the 5.5 CPU-s a
trial worker takes before its first step on this machine, and most of a driver's start).

The client, ``python tests/worker_forks.py --client SOCKET ARGV`` (a few imports), stands for ``python ARGV``: it
hands its arguments, environment, folder and standard streams to the session's server over a Unix socket; the server
forks a child that runs the script (or ``-m``, ``-c``, ``-``; ``-u`` first) as ``__main__`` with them, in a session
of its own. The client stays the process its caller started: a signal sent to it goes on to the child, it ends with
the child's exit status, and the child ends when the client does.

Ray and Ray Tune are imported before the fork too (about 1 CPU-s a worker or a driver would spend), but not by the
server: Ray's native library reads a worker's job and raylet from the environment once, as it loads. The server
(tests/fork_server.py) hands each client to a forker of its own values of those, forked from the server and importing
Ray with them; a forker ends once its raylet has, and so have its children. A child (tests/fork_child.py) then reads
Ray's settings (``RAY_<name>``, the authentication mode) and its token again from its own environment.

This file is the client and what the tests use; it runs the server too, and imports neither's modules itself.

A child's Python path is the one a fresh interpreter would have (the script's folder, then ``PYTHONPATH``, then the
interpreter's own): a worker imports the project and the user's plugins from where Ray put them, the folders of a
job's ``working_dir`` and ``py_modules`` included, as Ray's own worker would. Of the project the server imports only
``restore_core`` (no Ray there), and a child whose path would find another copy of it forgets the server's and
imports that one. Without the server's socket the client runs ``python ARGV``.

How the tests' processes reach it:

- :func:`write_executable` writes the client as an executable ``python`` that reads the socket from its environment.
  A command run with it has it as ``sys.executable``, so a Ray node started there (``ray start`` run with it, the
  session's ``ray.init`` under :func:`node_forks`, a SLURM job given it as ``--python``) starts its workers, agents,
  monitors and dashboard through it too (Ray's ``setup_worker.py`` step included, which every worker with a runtime
  env takes: Ray Tune gives each trainable one).
- :func:`python_command` is that executable for a test's command; :class:`Forked` lets the test itself be the client
  of a driver it kills (tests/sweeps/driver_forks.py); :func:`python_first_on_path` puts it on ``PATH`` for a Ray
  job's ``python``.
- Every Ray driver the tests start takes the hook ``RAY_RUNTIME_ENV_HOOK`` from the environment, which adds the
  client as the job's ``py_executable`` for a node that was not started through it; a runtime env that changes the
  interpreter or its packages (``pip``, ``conda``, ``py_executable`` and the like) keeps Ray's own worker start, and
  so does a driver given :func:`rays_own_workers`.

    python tests/worker_forks.py SOCKET MODULE,...    # the server, having imported the modules
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time

SOCKET_VARIABLE = "RESTORE_SWEEPS_WORKER_FORKS"  # the server's socket, for the drivers and commands the tests start
HOOK_VARIABLE, HOOK = "RAY_RUNTIME_ENV_HOOK", "tests.worker_forks.runtime_env_hook"  # applied in every ray.init
OWN_INTERPRETER = ("pip", "uv", "conda", "container", "image_uri", "py_executable")  # runtime envs Ray starts itself
# what a trial worker or a driver imports; from fsspec on, what Ray imports (0.5 CPU-s); from mlflow on, what a
# sweep's driver imports later (1.4 CPU-s: Ray Tune imports MLflow's callback where MLflow is installed, to count the
# callbacks it is given; the report's Plotly, Optuna, Ray's dashboard's web stack); restore_core, the project's core
# (0.1 CPU-s; it imports no Ray). From Ray on, what each forker imports (tests/fork_server.py): Ray and Ray Tune (about
# 1 CPU-s), then the trainable of a sweep and the driver's package (0.1 CPU-s). A child whose path would find another
# copy of the project imports that one (tests/fork_child.py)
PRELOAD = ("numpy", "torch", "torch._dynamo", "torchmetrics", "pandas", "pyarrow", "cv2", "PIL.Image", "rawpy",
           "skimage.data", "fsspec", "pydantic.main", "pydantic.fields", "google.protobuf.message", "requests", "yaml",
           "jsonschema", "click", "filelock", "psutil", "msgpack", "attr", "colorful",
           "mlflow", "plotly.graph_objects", "plotly.io", "optuna", "narwhals", "aiohttp", "aiohttp_cors", "fastapi",
           "starlette", "skimage.io", "imageio", "opentelemetry.sdk", "prometheus_client", "sqlparse", "tqdm",
           "colorlog", "restore_core", "ray", "ray.tune", "sweeps.driver.trainable")
FORMS = ("-m", "-c", "-")  # the interpreter's options a forked command takes (and a script's path)
UNBUFFERED = "-u"  # taken before any of them: Ray starts its own processes with it
AS = "--as"  # the client's first arguments, from write_executable's script: the path it was run as



def _client_command(path: str) -> list[str]:
    """This file as a client of the server listening on ``path``."""
    return [sys.executable, os.path.abspath(__file__), "--client", path]


def py_executable(path: str) -> str:
    """The ``py_executable`` that starts workers through the server listening on ``path``."""
    return shlex.join(_client_command(path))


def executable_path(path: str) -> str:
    """Where :func:`write_executable` puts the executable of the server on ``path``: ``python`` in a folder beside
    its socket (there whether or not it was written)."""
    return os.path.join(path + ".bin", "python")


def write_executable(path: str) -> str:
    """An executable ``python`` in a folder beside the socket ``path``: the client of the server whose socket its
    environment names (``$SOCKET_VARIABLE``; Python itself where that is empty or unset). A command it runs has it as
    ``sys.executable``, as an interpreter would, so what that command starts with ``sys.executable`` is forked too: a
    Ray node's workers, agents and dashboard (a ``ray start`` run with it, or a ``ray.init`` in
    :func:`node_forks`)."""
    target = executable_path(path)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    client = shlex.join(_client_command("")[:-1])  # the socket is the environment's, read as the script runs
    with open(target + ".new", "w", encoding="utf-8") as script:
        script.write(f'#!/bin/sh\nexec {client} "${{{SOCKET_VARIABLE}:-}}" {AS} "$0" "$@"\n')
    os.chmod(target + ".new", 0o755)
    os.rename(target + ".new", target)
    return target


@contextlib.contextmanager
def node_forks(executable: str):
    """While a Ray node starts in this process (``ray.init``): ``executable`` (:func:`write_executable`) in place of
    ``sys.executable``, from which Ray builds the node's commands, so the raylet starts every worker through the
    server and so do its agents and the dashboard; and no hook, so that the session's job has no runtime env: a task
    of its own starts without Ray's ``setup_worker.py`` step (about 0.7 CPU-s unforked; a trial takes it, forked,
    with the runtime env Ray Tune gives every trainable)."""
    real, hook = sys.executable, os.environ.pop(HOOK_VARIABLE, None)
    sys.executable = executable
    try:
        yield
    finally:
        sys.executable = real
        if hook is not None:
            os.environ[HOOK_VARIABLE] = hook


def python_command() -> list[str]:
    """What stands for ``python`` in a test's command (``[*python_command(), "-m", "analysis", ...]``): a client of
    the session's server while it runs, whose command runs forked from it with torch imported (its arguments,
    environment, folder, streams, exit code and Python path as ``python`` would give them); else this interpreter.
    For a script, ``-m``, ``-c`` or ``-``; a command that starts with another option of the interpreter runs in it.
    It is the session's :func:`write_executable`, so a Ray node that the command starts has its processes forked
    too."""
    path = os.environ.get(SOCKET_VARIABLE)
    if not path or not os.path.exists(path):
        return [sys.executable]
    executable = executable_path(path)
    return [executable] if os.path.exists(executable) else _client_command(path)


def python_first_on_path(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the session's :func:`write_executable` first on ``PATH`` as ``python``, so that a command run
    there as ``python`` (a Ray job's entrypoint) is forked too; ``env`` itself without the session's server."""
    path = os.environ.get(SOCKET_VARIABLE)
    executable = executable_path(path) if path else ""
    if not os.path.exists(executable):
        return env
    return {**env, "PATH": os.pathsep.join([os.path.dirname(executable), env.get("PATH", "")])}


class Forked:
    """A command forked by the server on ``path`` with this process as its client, as far as a test uses
    ``subprocess.Popen``: ``pid`` is the command's own process (a signal from the test reaches it as it would reach
    ``python ARGV``, SIGKILL included), ``poll``, ``wait``, ``send_signal``, ``kill`` and ``returncode``. Its stdin is
    empty, its stdout and stderr go to the files named (one file for both when they are the same), written anew.
    The command ends if this process does."""

    def __init__(self, path: str, argv: list[str], cwd: str, env: dict[str, str], stdout: str, stderr: str):
        self.args, self.returncode = argv, None
        self._connection = socket.socket(socket.AF_UNIX)
        self._connection.connect(path)
        executable = executable_path(path)  # the command's sys.executable, as if run with it
        request = json.dumps({"argv": argv, "env": env, "cwd": cwd,
                              "executable": executable if os.path.exists(executable) else None}).encode()
        with open(os.devnull, "rb") as stdin, open(stdout, "wb") as out, \
                (open(stderr, "wb") if stderr != stdout else contextlib.nullcontext(out)) as err:
            socket.send_fds(self._connection, [len(request).to_bytes(8, "big")],
                            [stdin.fileno(), out.fileno(), err.fileno()])
        self._connection.sendall(request)
        self._answers = self._connection.makefile("rb")
        self.pid = json.loads(self._answers.readline())["pid"]
        self._ended = threading.Event()
        threading.Thread(target=self._await_end, daemon=True).start()

    def _await_end(self) -> None:
        line = self._answers.readline()
        self.returncode = os.waitstatus_to_exitcode(json.loads(line)["status"]) if line else 1
        self._ended.set()
        self._connection.close()

    def poll(self) -> int | None:
        return self.returncode if self._ended.is_set() else None

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(self.args, timeout)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if not self._ended.is_set():  # not yet waited for by the server: the pid is still the command's
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:  # it has just ended: its status is on its way
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def hooked(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the hook of every Ray driver started in it, when it names the session's server."""
    return {**env, HOOK_VARIABLE: HOOK} if env.get(SOCKET_VARIABLE) else env


def rays_own_workers(env: dict[str, str] | None = None) -> dict[str, str]:
    """This environment (or ``env``) for a driver whose workers Ray starts itself: for a test that needs the time a
    fresh worker takes to start (a driver killed while its trials start). The socket's variable is empty: the hook
    gives the job that empty variable, which a node started through :func:`write_executable` passes to its
    workers' client."""
    return {**(os.environ if env is None else env), SOCKET_VARIABLE: ""}


def runtime_env_hook(runtime_env: dict | None) -> dict | None:
    """Ray's runtime-env hook (``RAY_RUNTIME_ENV_HOOK``): workers through the server of ``$SOCKET_VARIABLE`` unless
    the runtime env changes the interpreter or its packages, or this driver runs with the session's executable (the
    tests start every Ray node through it, and such a node forks its workers by itself)."""
    path = os.environ.get(SOCKET_VARIABLE)
    if path == "":  # rays_own_workers()
        env_vars = {**(runtime_env or {}).get("env_vars", {}), SOCKET_VARIABLE: ""}
        return {**(runtime_env or {}), "env_vars": env_vars}
    if not path or not os.path.exists(path) or any(key in (runtime_env or {}) for key in OWN_INTERPRETER):
        return runtime_env
    if sys.executable == executable_path(path):
        return runtime_env
    return {**(runtime_env or {}), "py_executable": py_executable(path)}


def client(path: str, argv: list[str]) -> None:
    """The process its caller started (Ray, a test, a shell): ``python ARGV`` forked by the server, or Python itself
    when none answers."""
    connection = socket.socket(socket.AF_UNIX)
    executable = None
    if argv[:1] == [AS]:
        executable, argv = argv[1], argv[2:]
    unbuffered = bool(argv) and argv[0] == UNBUFFERED
    command = argv[1:] if unbuffered else argv
    try:
        if not command or command[0].startswith("-") and command[0] not in FORMS:  # another option: Python itself
            raise OSError(f"python {argv[0]}")
        connection.connect(path)
    except OSError:
        os.execv(sys.executable, [sys.executable, *argv])
    request = json.dumps({"argv": command, "env": dict(os.environ), "cwd": os.getcwd(), "unbuffered": unbuffered,
                          "executable": executable}).encode()
    socket.send_fds(connection, [len(request).to_bytes(8, "big")], [0, 1, 2])
    connection.sendall(request)
    answers = connection.makefile("rb")
    pid = json.loads(answers.readline())["pid"]
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(signum, lambda number, _frame: _forward(pid, number))
    line = answers.readline()
    status = json.loads(line)["status"] if line else 1 << 8
    if os.WIFSIGNALED(status):
        signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
        os.kill(os.getpid(), os.WTERMSIG(status))
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


def _forward(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:  # the worker has ended: its status is on its way
        pass



def start_server(path: str, preload: tuple[str, ...] = PRELOAD) -> subprocess.Popen:
    """The server on ``path``, having imported ``preload``, in a process of its own (a session of its own: a test's
    signals to its process group do not reach it); returns once it accepts. What it and its forkers print goes to
    ``path + ".log"`` (a test's captured output would take it otherwise, and lose it)."""
    with open(path + ".log", "wb") as log:
        process = subprocess.Popen([sys.executable, os.path.abspath(__file__), path, ",".join(preload)],
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the worker fork server did not start (exit code {process.poll()}): {_tail(path)}")
        time.sleep(0.1)
    return process


def stop_server(process: subprocess.Popen, path: str) -> None:
    """Stop the server; a server that had already ended is an error, with the end of what it printed."""
    ended = process.poll()
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for leftover in (path, path + ".log"):
        if os.path.exists(leftover) and (ended is None or leftover == path):
            os.unlink(leftover)
    if ended is not None:
        raise RuntimeError(f"the worker fork server ended during the session (exit code {ended}; its output in "
                           f"{path}.log): {_tail(path)}")


def _tail(path: str, size: int = 2000) -> str:
    try:
        with open(path + ".log", "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - size))
            return log.read().decode(errors="replace").strip()
    except OSError:
        return ""



if __name__ == "__main__":
    if sys.argv[1] == "--client":
        client(sys.argv[2], sys.argv[3:])
    else:  # the server (tests/fork_server.py), its modules imported from the repository's root as the tests'
        interpreters_path = sys.path[1:]  # Python's own paths, without this file's folder
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        from tests.fork_server import serve

        serve(sys.argv[1], tuple(name for name in sys.argv[2].split(",") if name), interpreters_path)
