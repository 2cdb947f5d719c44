"""The child of the tests' fork server (tests/fork_server.py, started by tests/worker_forks.py): :func:`fork` forks the
command of a client's request, and the child runs it as ``python ARGV`` would, with the client's environment, folder,
standard streams and a fresh interpreter's Python path, in a session of its own; the client hears the child's pid and
then its exit status. Used by the server and by each of its forkers."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import socket
import sys
import threading

RAY_FOLDER = f"{os.sep}site-packages{os.sep}ray{os.sep}"  # where Ray's own scripts are
BASE_PATH: list[str] = []  # the server's interpreter's own paths (stdlib, site-packages), set by its serve()
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # the repository's
CHECKOUT_PACKAGES: list[str] = []  # the repository's packages the server or the forker imported (preload below)
# what importing them did to os.environ (setdefault, set, delete: sweeps sets Ray Tune's settings), done again in a
# child that keeps them, as the child's own import would have done it
IMPORT_ENVIRONMENT: list[tuple[str, str, str | None]] = []  # ("setdefault" | "set" | "delete", key, value)


def _child(listener: socket.socket, connection: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked process: the command of ``request``, with the client's streams; never returns."""
    import traceback

    from tests.sweeps.cli_forks import run_as_main

    try:
        listener.close()
        os.setsid()  # Ray stops a worker's process group
        name = _name(request["argv"])
        with open("/proc/self/comm", "w", encoding="utf-8") as comm:  # its name for benchmarks/process_cpu.py
            comm.write(name)
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
        sys.path[:] = [_first_path(request["argv"]), *paths, *(p for p in BASE_PATH if p not in paths)]
        for name in [name for name in sys.modules if name == "tests" or name.startswith("tests.")]:
            del sys.modules[name]
        if _keeps_the_checkout_packages() and name != "rs-fork:ray":  # Ray's own processes never import them
            _replay_the_environment()

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


def preload(name: str) -> None:
    """Import ``name`` (nothing where it is not installed: an optional extra); a package of the repository is added to
    :data:`CHECKOUT_PACKAGES`, and what its import does to ``os.environ`` to :data:`IMPORT_ENVIRONMENT`."""
    checkout = _in_checkout(name)
    try:
        with _recording_the_environment() if checkout else contextlib.nullcontext():
            importlib.import_module(name)
    except ImportError:
        return
    if checkout:  # the packages imported from the repository's root
        CHECKOUT_PACKAGES[:] = sorted(top for top, module in list(sys.modules.items()) if "." not in top
                                      and top != "tests" and getattr(module, "__file__", None) == _init(top))


def _init(top: str) -> str:
    return os.path.join(ROOT, top, "__init__.py")


def _in_checkout(name: str) -> bool:
    top = name.split(".")[0]
    return top != "tests" and os.path.isfile(_init(top))


@contextlib.contextmanager
def _recording_the_environment():
    """``os.environ``'s setdefault, set and delete recorded into :data:`IMPORT_ENVIRONMENT` (the outer call of each:
    setdefault sets through ``__setitem__``)."""
    real = type(os.environ)
    depth = [0]

    def recorded(operation: str):
        method = getattr(real, operation)

        def record(self, key, *value):
            if depth[0] == 0:
                kind = {"__setitem__": "set", "setdefault": "setdefault"}.get(operation, "delete")
                IMPORT_ENVIRONMENT.append((kind, key, value[0] if value and kind != "delete" else None))
            depth[0] += 1
            try:
                return method(self, key, *value)
            finally:
                depth[0] -= 1
        return record

    os.environ.__class__ = type("Recording", (real,), {name: recorded(name) for name in
                                                       ("__setitem__", "setdefault", "__delitem__", "pop")})
    try:
        yield
    finally:
        os.environ.__class__ = real


def _replay_the_environment() -> None:
    """Make the calls :func:`_recording_the_environment` recorded again, on this child's environment."""
    for operation, key, value in IMPORT_ENVIRONMENT:
        if operation == "setdefault":
            os.environ.setdefault(key, value)
        elif operation == "set":
            os.environ[key] = value
        else:
            os.environ.pop(key, None)


def _keeps_the_checkout_packages() -> bool:
    """Keep the imports of the repository's packages (:data:`CHECKOUT_PACKAGES`) unless this child's path would
    import another copy of one (a job's ``working_dir`` or ``py_modules``, a folder that holds a package of the same
    name); then drop them all, and the child imports them from there, as a fresh interpreter would."""
    for top in CHECKOUT_PACKAGES:
        spec = None
        for finder in sys.meta_path:  # as ``import top`` would look: the path first, then the editable install
            find = getattr(finder, "find_spec", None)
            spec = find(top, None) if find is not None else None
            if spec is not None:
                break
        origin = spec.origin if spec is not None and spec.origin else ""
        if os.path.realpath(origin) != os.path.realpath(sys.modules[top].__file__):
            for name in [name for name in sys.modules if name.split(".")[0] in CHECKOUT_PACKAGES]:
                del sys.modules[name]
            return False
    return bool(CHECKOUT_PACKAGES)


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


def fork(listener: socket.socket, connection: socket.socket, request: dict, fds: list[int],
          sockets: list[socket.socket], children: set[int]) -> None:
    """Fork the command of ``request`` (its child closes ``listener`` and ``sockets``), tell the client the child's
    pid, and send it the child's exit status from a thread; the child is in ``children`` until it ends."""
    pid = os.fork()
    if pid == 0:
        for other in sockets:
            other.close()
        _child(listener, connection, request, fds)
    children.add(pid)
    try:
        connection.sendall(json.dumps({"pid": pid}).encode() + b"\n")
    except OSError:  # the client is gone (its node was stopped as it started): so is the child, which sees it
        pass
    threading.Thread(target=_wait, args=(connection, pid, children), daemon=True).start()


def _wait(connection: socket.socket, pid: int, children: set[int]) -> None:
    _, status = os.waitpid(pid, 0)
    children.discard(pid)
    try:
        connection.sendall(json.dumps({"status": status}).encode() + b"\n")
    except OSError:
        pass
    connection.close()


def read_request(connection: socket.socket) -> tuple[dict | None, list[int]]:
    """A client's request and its streams' descriptors; ``None`` (and the descriptors that came) when the client went
    away before its request was whole: a node stopped as it starts its processes kills their clients at any point."""
    fds: list[int] = []
    try:
        head, fds, _, _ = socket.recv_fds(connection, 8, 3)
        size, message = int.from_bytes(head, "big") if len(head) == 8 else 0, b""
        while len(message) < size:
            chunk = connection.recv(size - len(message))
            if not chunk:
                return None, fds
            message += chunk
    except OSError:
        return None, fds
    return (json.loads(message) if message else None), fds
