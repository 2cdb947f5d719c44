"""The tests' fork server (started by tests/worker_forks.py's ``start_server``): it imports what a trial worker imports
up to Ray (restore_core last), then hands each client to a forker of the client's :data:`LOAD_TIME_VARIABLES`, a
process forked from it that imports the rest with those values (Ray, Ray Tune, a sweep's trainable) and forks the
client's command (tests/fork_child.py).

Ray's native library reads a worker's job and raylet from the environment once, as it loads, so the server itself
cannot import Ray: a worker forked from a process that loaded Ray without them aborts (``GetProcessJobID``). A
worker's job and raylet get a forker from their third worker on (:data:`FORKER_AFTER`); a forker ends once its raylet
has, and so have its children."""

from __future__ import annotations

import json
import os
import socket
import threading

from tests.fork_child import BASE_PATH, fork, preload, read_request

# what Ray's native library reads from the environment once, as it loads: a worker's job and raylet. Each set of
# their values gets a forker of its own, which imports Ray with them (the server imports what comes before Ray)
LOAD_TIME_VARIABLES = ("RAY_JOB_ID", "RAY_RAYLET_PID", "RAY_RAYLET_NODE_ID")
# a worker's job and raylet get a forker from their third worker on (a forker's imports cost about one worker's):
# the server forks the first two itself, and they import Ray; everything else (drivers, commands, Ray's own
# processes: none of the values set) goes to one forker from the start
FORKER_AFTER = 2
_ENDED_FORKERS: set[int] = set()  # the forkers that have ended, reaped


def serve(path: str, modules: tuple[str, ...], interpreters_path: list[str]) -> None:
    """The server: import ``modules`` up to the first of Ray's (what a trial worker imports), then hand each client to
    the forker of its environment's :data:`LOAD_TIME_VARIABLES`, started on first need, which imports the rest."""
    import gc
    import importlib

    own = {p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    BASE_PATH[:] = [p for p in interpreters_path if p not in own]  # without PYTHONPATH
    ray_from = next((index for index, name in enumerate(modules) if _is_ray(name)), len(modules))
    for name in modules[:ray_from]:
        preload(name)
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
        request, fds = read_request(connection)
        if request is not None:
            key = tuple(request["env"].get(name) for name in LOAD_TIME_VARIABLES)
            seen[key] = seen.get(key, 0) + 1
            _reap(forkers)
            if key in forkers or seen[key] > FORKER_AFTER or not any(key):
                _hand_over(key, request, connection, fds, list(modules[ray_from:]), listener, forkers)
            else:
                fork(listener, connection, request, fds, [channel for _, channel in forkers.values()], set())
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
        fork(channel, connection, json.loads(message), fds, [], children)
        for fd in fds:
            os.close(fd)


def _import_ray(names: list[str]) -> None:
    """Import ``names`` (Ray's, then the repository's that import Ray) without a draw from Ray's native random
    generator: for each class that its modules declare remote as they load, Ray draws the class's ID from it, and
    that seeds it. Each child would then draw what its siblings draw (every forked ``ray start`` would name its node
    alike); unseeded, each child seeds its own. The IDs come from ``os.urandom`` meanwhile."""
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
            preload(name)
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

