"""Shared fixtures: one small local Ray for each test session (each pytest-xdist worker is one), and single-threaded
torch; the workers' share of the suite is in tests/scheduling.py."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def pytest_configure(config):
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        _ray_token_before_the_workers()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    from tests.scheduling import group_and_order, name_groups_in_node_ids

    group_and_order(items)
    name_groups_in_node_ids(config, items)


def _ray_token_before_the_workers() -> None:
    """Write Ray's token file (``~/.ray/auth_token``) once, before the workers start their Rays.

    A local ``ray.init`` checks tokens and writes a new token there when there is none (a fresh machine): workers
    starting their Rays at the same moment would each write their own, and the file would then hold another
    cluster's token than the one a worker's dashboard requests are checked against. Written as Ray writes it.
    """
    import secrets
    from pathlib import Path

    from sweeps.cluster.security import read_auth_token

    path = Path.home() / ".ray" / "auth_token"
    if read_auth_token() is None and os.environ.get("RAY_AUTH_MODE") is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="utf-8")


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (engineers and CI may run several Rays at once), and that
    this process has not handed out before: the kernel may offer a port again once its socket is closed, and a Ray
    given the same port for two of its parts does not start."""
    import socket

    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


@pytest.fixture(autouse=True, scope="session")
def _single_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def forked_workers():
    """The worker fork server of this test session (tests/worker_forks.py): it has imported torch, and every Ray
    driver the tests start from here on (in this process, forked, run as a command, submitted to a Ray head they
    start or to SLURM) forks its trial workers from it, through the hook named in this process's environment.
    Yields the executable that runs as its client (``worker_forks.write_executable``), for a Ray node started here."""
    import secrets

    from tests import worker_forks

    path = f"/tmp/rs-workers-{secrets.token_hex(4)}.sock"
    server = worker_forks.start_server(path)
    os.environ.update(worker_forks.hooked({worker_forks.SOCKET_VARIABLE: path}))
    yield worker_forks.write_executable(path)
    for name in (worker_forks.SOCKET_VARIABLE, worker_forks.HOOK_VARIABLE):
        os.environ.pop(name, None)
    worker_forks.stop_server(server, path)
    shutil.rmtree(os.path.dirname(worker_forks.executable_path(path)), ignore_errors=True)


@pytest.fixture(scope="session")
def ray_session(forked_workers):
    """A 1-CPU local Ray started once per test session (with its dashboard on loopback), shut down at the end.

    One CPU: the suite runs in two pytest-xdist workers, each with its own session Ray, so one trial at a time on
    each fills the machine's two cores, and a sweep's trials take turns on one Ray worker process (Tune reuses it)
    instead of starting a second that pays torch's, Ray's and torchmetrics' imports again (about 5 CPU-s each).
    A sweep that needs two trials at once asks for ``--cpus-per-trial 0.5``. Its workers, agents and dashboard are
    forked (``forked_workers``): the node starts them through the fork server's client.
    """
    import ray

    from sweeps.ray_private import dashboard_beside_raylet
    from tests.worker_forks import node_forks

    if not ray.is_initialized():
        port = free_port()
        with node_forks(forked_workers), dashboard_beside_raylet(port):  # as sweeps/run.py starts its Ray
            ray.init(num_cpus=1, include_dashboard=True, dashboard_host="127.0.0.1", dashboard_port=port,
                     log_to_driver=False, configure_logging=True, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def smoke_run(ray_session, tmp_path_factory) -> str:
    """A real Optuna sweep of ``lsid_lr`` (smoke profile): 2 sampled configurations × 2 seeds through Ray, run once
    per session for every test that asserts on a finished run (the sweep itself, analysis, reproduce, compare)."""
    import sweeps.run

    storage = tmp_path_factory.mktemp("runs")
    code = sweeps.run.main(["--space", "lsid_lr", "--profile", "smoke", "--seeds", "2", "--search", "optuna",
                            "--num-samples", "2", "--scheduler", "fifo", "--storage", str(storage), "--name", "e2e",
                            "--verbose", "0"], own_process=True)
    assert code == 0
    assert ray_session.is_initialized()  # a driver stops only the Ray it started, not the session's
    return str(storage / "lsid_lr" / "e2e")
