"""Every Python process the tests start, forked from one process that has already imported torch, torchmetrics,
pandas, OpenCV and the rest, instead of a fresh interpreter that imports them again (about 4.5 of the 5.5 CPU-s a
trial worker takes before its first step on this machine, and most of a driver's start).

The client, ``python tests/worker_forks.py --client SOCKET ARGV`` (a few imports), stands for ``python ARGV``: it
hands its arguments, environment, folder and standard streams to the session's server over a Unix socket; the server
forks a child that runs the script (or ``-m``, ``-c``, ``-``; ``-u`` first) as ``__main__`` with them, in a session
of its own. The client stays the process its caller started: a signal sent to it goes on to the child, it ends with
the child's exit status, and the child ends when the client does.

Ray and Ray Tune are imported before the fork too (about 1 CPU-s a worker or a driver would spend), but not by the
server: Ray's native library reads a worker's job and raylet (:data:`LOAD_TIME_VARIABLES`) from the environment once,
as it loads. The server hands each client to a forker of its own values of those, forked from the server and
importing Ray with them (:data:`FORKER_AFTER`: a worker's job and raylet get one from their third worker on); a forker
ends once its raylet has, and so have its children. A child then reads Ray's settings (``RAY_<name>``, the
authentication mode) and its token again from its own environment.

The server imports no code of the project, and a child's Python path is the one a fresh interpreter would have (the
script's folder, then ``PYTHONPATH``, then the interpreter's own): a worker imports the project and the user's plugins
from where Ray put them, the folders of a job's ``working_dir`` and ``py_modules`` included, as Ray's own worker
would. Without the server's socket the client runs ``python ARGV``.

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
import io
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
# what a trial worker or a driver imports but the project; from fsspec on, what Ray imports (0.5 CPU-s);
# from mlflow on, what a sweep's driver imports later (1.4 CPU-s: Ray Tune imports MLflow's callback where MLflow is
# installed, to count the callbacks it is given; the report's Plotly, Optuna, Ray's dashboard's web stack); last, Ray
# and Ray Tune (about 1 CPU-s), which each forker imports (serve)
PRELOAD = ("numpy", "torch", "torch._dynamo", "torchmetrics", "pandas", "pyarrow", "cv2", "PIL.Image", "rawpy",
           "skimage.data", "fsspec", "pydantic.main", "pydantic.fields", "google.protobuf.message", "requests", "yaml",
           "jsonschema", "click", "filelock", "psutil", "msgpack", "attr", "colorful",
           "mlflow", "plotly.graph_objects", "plotly.io", "optuna", "narwhals", "aiohttp", "aiohttp_cors", "fastapi",
           "starlette", "skimage.io", "imageio", "opentelemetry.sdk", "prometheus_client", "sqlparse", "tqdm",
           "colorlog", "ray", "ray.tune")
# what Ray's native library reads from the environment once, as it loads: a worker's job and raylet. Each set of
# their values gets a forker of its own, which imports Ray with them (the server imports everything else)
LOAD_TIME_VARIABLES = ("RAY_JOB_ID", "RAY_RAYLET_PID", "RAY_RAYLET_NODE_ID")
# a worker's job and raylet get a forker from their third worker on (a forker's imports cost about one worker's):
# the server forks the first two itself, and they import Ray; everything else (drivers, commands, Ray's own
# processes: none of the values set) goes to one forker from the start
FORKER_AFTER = 2
FORMS = ("-m", "-c", "-")  # the interpreter's options a forked command takes (and a script's path)
UNBUFFERED = "-u"  # taken before any of them: Ray starts its own processes with it
RAY_FOLDER = f"{os.sep}site-packages{os.sep}ray{os.sep}"  # where Ray's own scripts are
AS = "--as"  # the client's first arguments, from write_executable's script: the path it was run as
_BASE_PATH: list[str] = []  # the server's interpreter's own paths (stdlib, site-packages), set by serve()
_ENDED_FORKERS: set[int] = set()  # in the server: the forkers that have ended, reaped


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


def _child(listener: socket.socket, connection: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked process: the command of ``request``, with the client's streams; never returns."""
    import traceback

    from tests.sweeps.cli_forks import run_as_main

    try:
        listener.close()
        os.setsid()  # Ray stops a worker's process group
        with open("/proc/self/comm", "w", encoding="utf-8") as comm:  # its name for benchmarks/process_cpu.py
            comm.write(_name(request["argv"]))
        os.environ.clear()
        os.environ.update(request["env"])
        if "ray._raylet" in sys.modules:  # the forker's Ray: what its native library read as it loaded, read again
            from ray._raylet import AuthenticationTokenLoader, Config

            Config.initialize("")  # its settings (RAY_<name>: the authentication mode and the rest) from here
            AuthenticationTokenLoader.instance().reset_cache()  # and the token, once one is needed
        os.chdir(request["cwd"])
        for fd, stream in zip(fds, (0, 1, 2)):
            os.dup2(fd, stream)
            os.close(fd)
        if request.get("executable") and not request["argv"][0].endswith("default_worker.py"):
            # what it starts with sys.executable goes through the client too, as it went through Python; but not
            # multiprocessing's children, nor a trial's (torch.compile's workers): they take descriptors along
            import multiprocessing.spawn  # noqa: F401 (it keeps this interpreter, as it was imported with it)

            sys.executable = request["executable"]
        if request.get("unbuffered"):  # python -u
            sys.stdout, sys.stderr = (io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding=old.encoding,
                                                       errors=old.errors, write_through=True)
                                      for fd, old in ((1, sys.stdout), (2, sys.stderr)))
        # the path a fresh interpreter would have, and none of the server's own modules of the tests
        paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [_first_path(request["argv"]), *paths, *(p for p in _BASE_PATH if p not in paths)]
        for name in [name for name in sys.modules if name == "tests" or name.startswith("tests.")]:
            del sys.modules[name]

        def end_with_the_client() -> None:
            try:
                while connection.recv(1):
                    pass
            finally:
                os._exit(1)

        threading.Thread(target=end_with_the_client, daemon=True).start()
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    run_as_main(request["argv"])


def _name(argv: list[str]) -> str:
    """A child's process name: a trial worker, one of Ray's own processes (its dashboard, agents, monitors,
    ``setup_worker.py``, ``ray start``), or another command."""
    if argv[0].endswith("default_worker.py"):
        return "rs-fork:worker"
    ray = RAY_FOLDER in argv[0] or argv[0] == "-m" and len(argv) > 1 and argv[1].split(".")[0] == "ray"
    return "rs-fork:ray" if ray else "rs-fork:cmd"


def _first_path(argv: list[str]) -> str:
    """``sys.path[0]`` of ``python ARGV``: the script's folder, the current one for ``-m``, ``""`` for code."""
    if argv[0] == "-m":
        return os.getcwd()
    return "" if argv[0] in ("-c", "-") else os.path.dirname(os.path.abspath(argv[0]))


def _fork(listener: socket.socket, connection: socket.socket, request: dict, fds: list[int],
          sockets: list[socket.socket], children: set[int]) -> None:
    """Fork the command of ``request`` (its child closes ``listener`` and ``sockets``), tell the client the child's
    pid, and send it the child's exit status from a thread; the child is in ``children`` until it ends."""
    pid = os.fork()
    if pid == 0:
        for other in sockets:
            other.close()
        _child(listener, connection, request, fds)
    children.add(pid)
    connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    threading.Thread(target=_wait, args=(connection, pid, children), daemon=True).start()


def _wait(connection: socket.socket, pid: int, children: set[int]) -> None:
    _, status = os.waitpid(pid, 0)
    children.discard(pid)
    try:
        connection.sendall(json.dumps({"status": status}).encode() + b"\n")
    except OSError:
        pass
    connection.close()


def _read_request(connection: socket.socket) -> tuple[dict | None, list[int]]:
    head, fds, _, _ = socket.recv_fds(connection, 8, 3)
    size, message = int.from_bytes(head, "big") if len(head) == 8 else 0, b""
    while len(message) < size:
        chunk = connection.recv(size - len(message))
        if not chunk:
            return None, fds
        message += chunk
    return (json.loads(message) if message else None), fds


def start_server(path: str, preload: tuple[str, ...] = PRELOAD) -> subprocess.Popen:
    """The server on ``path``, having imported ``preload``, in a process of its own (a session of its own: a test's
    signals to its process group do not reach it); returns once it accepts."""
    process = subprocess.Popen([sys.executable, os.path.abspath(__file__), path, ",".join(preload)],
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"the worker fork server did not start (exit code {process.poll()})")
        time.sleep(0.1)
    return process


def stop_server(process: subprocess.Popen, path: str) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if os.path.exists(path):
        os.unlink(path)


def serve(path: str, preload: tuple[str, ...]) -> None:
    """The server: import ``preload`` but Ray (what a trial worker imports), then hand each client to the forker of
    its environment's :data:`LOAD_TIME_VARIABLES`, started on first need, which has imported Ray too."""
    import gc
    import importlib

    own = {p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    _BASE_PATH[:] = [p for p in sys.path[1:] if p not in own]  # without this file's folder and PYTHONPATH
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for name in preload:
        if not _is_ray(name):
            _import(name)
    importlib.import_module("tests.sweeps.cli_forks")  # the children's run_as_main
    # out of the collector's sight: a child's full collections would walk (and so copy) every object imported here
    gc.collect()
    gc.freeze()
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(path + ".new")
    os.rename(path + ".new", path)  # the socket appears once the server accepts
    listener.listen(64)
    forkers: dict[tuple, tuple[int, socket.socket]] = {}  # load-time values -> (pid, channel)
    seen: dict[tuple, int] = {}  # load-time values -> clients that came with them
    while True:
        connection, _ = listener.accept()
        request, fds = _read_request(connection)
        if request is not None:
            key = tuple(request["env"].get(name) for name in LOAD_TIME_VARIABLES)
            seen[key] = seen.get(key, 0) + 1
            _reap(forkers)
            if key in forkers or seen[key] > FORKER_AFTER or not any(key):
                _hand_over(key, request, connection, fds, [n for n in preload if _is_ray(n)], listener, forkers)
            else:
                _fork(listener, connection, request, fds, [channel for _, channel in forkers.values()], set())
                connection = None
        for fd in fds:
            os.close(fd)
        if connection is not None:
            connection.close()


def _hand_over(key: tuple, request: dict, connection: socket.socket, fds: list[int], ray_modules: list[str],
               listener: socket.socket, forkers: dict[tuple, tuple[int, socket.socket]]) -> None:
    """Hand a client to the forker of ``key``, started first where there is none (or it has just ended)."""
    for _attempt in range(2):
        if key not in forkers:
            forkers[key] = _start_forker(key, ray_modules, listener, forkers, [connection.fileno(), *fds])
        try:
            socket.send_fds(forkers[key][1], [json.dumps(request).encode()], [connection.fileno(), *fds])
            return
        except OSError:
            forkers.pop(key)[1].close()


def _is_ray(name: str) -> bool:
    return name.split(".")[0] == "ray"


def _import(name: str) -> None:
    import importlib

    try:
        importlib.import_module(name)
    except ImportError:  # not installed (an optional extra): no child imports it either
        pass


def _reap(forkers: dict[tuple, tuple[int, socket.socket]]) -> None:
    """Forget the forkers that have ended (their Ray node has)."""
    for key, (pid, channel) in list(forkers.items()):
        if pid in _ENDED_FORKERS:
            channel.close()
            del forkers[key]


def _await_forker(pid: int) -> None:
    """Reap a forker as it ends (no zombie left until the next client comes)."""
    os.waitpid(pid, 0)
    _ENDED_FORKERS.add(pid)


def _start_forker(key: tuple, ray_modules: list[str], listener: socket.socket,
                  forkers: dict[tuple, tuple[int, socket.socket]], clients_fds: list[int]) -> tuple[int, socket.socket]:
    """A process forked from the server that imports Ray with the load-time values ``key`` and forks the children of
    the clients handed to it; ``(pid, channel)``. It closes the server's copies of ``clients_fds``: a client's
    connection and streams (a stream's reader waits for every writer's end)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            listener.close()
            ours.close()
            for fd in clients_fds:
                os.close(fd)
            for _, channel in forkers.values():  # each forker sees the server's end as the server's alone
                channel.close()
            for name, value in zip(LOAD_TIME_VARIABLES, key, strict=True):
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
            with open("/proc/self/comm", "w", encoding="utf-8") as comm:
                comm.write("rs-fork:server")
            _forker(theirs, ray_modules, key[LOAD_TIME_VARIABLES.index("RAY_RAYLET_PID")])
        finally:
            os._exit(1)
    theirs.close()
    threading.Thread(target=_await_forker, args=(pid,), daemon=True).start()
    return pid, ours


def _forker(channel: socket.socket, ray_modules: list[str], raylet_pid: str | None) -> None:
    """Import ``ray_modules``, then fork a child for each client the server hands over; end with the server, or once
    the raylet of ``raylet_pid`` has ended and so have the children."""
    import gc
    import select

    _import_ray(ray_modules)
    gc.collect()
    gc.freeze()
    children: set[int] = set()
    while True:
        if not select.select([channel], [], [], 2.0)[0]:
            if raylet_pid and not children and not _alive(int(raylet_pid)):
                os._exit(0)
            continue
        message, fds, _, _ = socket.recv_fds(channel, 1 << 22, 8)
        if not message:  # the server has ended
            os._exit(0)
        connection, fds = socket.socket(fileno=fds[0]), fds[1:]
        _fork(channel, connection, json.loads(message), fds, [], children)
        for fd in fds:
            os.close(fd)


def _import_ray(names: list[str]) -> None:
    """Import Ray's ``names`` without a draw from its native random generator: for each class that its modules declare
    remote as they load, Ray draws the class's ID from it, and that seeds it. Each child would then draw what its
    siblings draw (every forked ``ray start`` would name its node alike); unseeded, each child seeds its own. The IDs
    come from ``os.urandom`` meanwhile."""
    if not names:
        return
    try:
        import ray.actor
    except ImportError:  # no Ray here: none of its modules either
        return
    real = ray.actor.ActorClassID

    class FromUrandom:
        @staticmethod
        def from_random():
            return real(os.urandom(real.size()))

    ray.actor.ActorClassID = FromUrandom
    try:
        for name in names:
            _import(name)
    finally:
        ray.actor.ActorClassID = real


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


if __name__ == "__main__":
    if sys.argv[1] == "--client":
        client(sys.argv[2], sys.argv[3:])
    else:
        serve(sys.argv[1], tuple(name for name in sys.argv[2].split(",") if name))
