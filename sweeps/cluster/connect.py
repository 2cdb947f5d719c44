"""Connect the driver to Ray: a local Ray with its dashboard on loopback, or an existing cluster; GPU checks."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from dataclasses import dataclass
from typing import Any

import ray
import torch

from restore_core.errors import UserError
from restore_core.timeline import mark
from sweeps.cluster.code import driver_runtime_env
from sweeps.cluster.security import is_loopback, port_is_free, read_auth_token
from sweeps.ray_private import (
    cpus_ray_would_count,
    dashboard_beside_raylet,
    dashboard_url,
    reread_auth_mode,
    token_auth_enabled,
)
from sweeps.settings.options import AUTO_GPU_SHARE, check_address
from sweeps.settings.resolve import RunSettings


@dataclass
class ClusterInfo:
    """What the driver found after connecting."""

    dashboard_url: str | None
    nodes: int
    cpus_per_node: float  # the most CPUs any node has
    gpus_per_node: float  # the most GPUs any node has
    token_auth: bool


def ray_address(settings: RunSettings) -> str | None:
    """``--address``, or ``RAY_ADDRESS`` (set by Ray inside a submitted job and by users of a cluster)."""
    return settings.address or os.environ.get("RAY_ADDRESS") or None


def check_gpus(wanted: float | None, gpus_per_node: float, where: str) -> None:
    """Refuse a ``--gpus-per-trial`` no node can satisfy (Ray would wait for ever); without any GPU, the sweep runs on
    CPU instead (see :func:`fit_gpus`)."""
    if wanted is not None and 0 < gpus_per_node < wanted:
        raise UserError(f"--gpus-per-trial {wanted:g} is more than the {gpus_per_node:g} GPU(s) {where}; use a "
                        f"value in (0, {gpus_per_node:g}] (0.25 packs four trials on one GPU)")


def check_cpus(wanted: float, cpus_per_node: float, where: str) -> None:
    """Refuse a ``--cpus-per-trial`` no node can satisfy (Ray would leave every trial pending for ever). Nodes
    without CPUs (a head that runs no trials, before its workers join) are not judged."""
    if 0 < cpus_per_node < wanted:
        raise UserError(f"--cpus-per-trial {wanted:g} is more than the {cpus_per_node:g} CPUs {where}; use a value in "
                        f"(0, {cpus_per_node:g}]")


def no_gpu_notice(wanted: float, where: str) -> str:
    return f"notice: no GPU {where}; --gpus-per-trial {wanted:g} ignored, trials run on CPU"


def fit_gpus(wanted: float | None, gpus_per_node: float, where: str) -> float:
    """The GPU share each trial takes: ``--gpus-per-trial`` checked against the GPUs there are. Without any GPU the
    sweep runs on CPU (one notice); a request no node can satisfy is an error (Ray would wait for ever). ``auto``
    (None) is :data:`~sweeps.settings.options.AUTO_GPU_SHARE` where a node has a GPU (one notice), until a probe
    trial decides the share when the sweep starts (:mod:`sweeps.cluster.gpu_share`), else 0."""
    if wanted is None:
        share = AUTO_GPU_SHARE if gpus_per_node > 0 else 0.0
        if share:
            print(f"GPU {where}: a probe trial measures how many trials share one when the sweep starts "
                  "(--gpus-per-trial sets the share; 0 runs the trials on CPU)", file=sys.stderr)
        return share
    check_gpus(wanted, gpus_per_node, where)
    if wanted > 0 and gpus_per_node <= 0:
        print(no_gpu_notice(wanted, where), file=sys.stderr)
        return 0.0
    return wanted


def local_gpus() -> float:
    return float(torch.cuda.device_count())


def local_cpus() -> float:
    """The CPUs of the local Ray: those of the Ray this process already runs, else what Ray would count when it
    starts here (``RAY_OVERRIDE_RESOURCES``'s ``CPU``, else the machine's, within its container's limit)."""
    if ray.is_initialized():
        return most_per_node(ray.nodes(), "CPU")
    try:
        override = json.loads(os.environ.get("RAY_OVERRIDE_RESOURCES") or "{}").get("CPU")
    except (ValueError, AttributeError):  # Ray itself refuses it when it starts
        override = None
    if isinstance(override, (int, float)):
        return float(override)
    return cpus_ray_would_count()  # Ray's own start warns about a container's limit, if at all


def check_local_start(settings: RunSettings, wanted: float | None, cuda_wanted_by: str | None = None) -> float | None:
    """Everything about starting a local Ray that can fail, checked before anything is written: the GPUs asked for
    (``wanted``, by ``--gpus-per-trial``, or by ``train.device=cuda`` in ``cuda_wanted_by``, e.g. "the base config"),
    the CPUs asked for and the dashboard's address and port. Returns the GPU share each trial will take here (auto
    decided against this machine's GPUs); None on a cluster (``--address`` or ``RAY_ADDRESS``), where only the
    address's form is checked here and its nodes decide the rest, after connecting. With ``--dry-run``, the notice
    the sweep would print about running on CPU comes last."""
    address = ray_address(settings)
    if address is not None:
        check_address(address, f"--address {address}" if settings.address else f"RAY_ADDRESS={address}")
        return None
    gpus = local_gpus()
    if cuda_wanted_by and gpus <= 0:
        raise UserError(f"train.device=cuda in {cuda_wanted_by}, but this machine has no GPU that torch can use; set "
                        "train.device=auto (a GPU where there is one) or cpu, or pass --address to run on a cluster "
                        "with GPUs")
    share = fit_gpus(None, gpus, "on this machine") if wanted is None else wanted  # a number is fitted at start
    check_gpus(share, gpus, "on this machine")
    check_cpus(settings.cpus_per_trial, local_cpus(), "on this machine")
    if not ray.is_initialized() and not port_is_free(settings.dashboard_host, settings.dashboard_port):
        raise UserError(f"port {settings.dashboard_port} on {settings.dashboard_host} is in use (another Ray "
                        "dashboard?); pass --dashboard-port with a free port, or --address to run on that Ray")
    if settings.dry_run and share > 0 and gpus <= 0:
        print(no_gpu_notice(share, "on this machine"), file=sys.stderr)  # the sweep fits the request at start
    return share


def start_ray(settings: RunSettings, wanted: float | None) -> tuple[ClusterInfo, float]:
    """Connect to ``--address``/``RAY_ADDRESS`` or start a local Ray with its dashboard on ``--dashboard-host``
    (loopback by default); print the dashboard URL and check the request of ``wanted`` GPUs per trial (None: auto)
    against the cluster. Returns what was found and the GPU share each trial takes."""
    address = ray_address(settings)
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": settings.verbose > 1, "configure_logging": True,
                                  "logging_level": "ERROR"}
        # the user's plugins, importable in every worker (also when it unpickles their data)
        runtime, override_job = driver_runtime_env(settings.plugins)
        if runtime:
            kwargs["runtime_env"] = runtime
        if override_job:  # Ray's switch to let the driver's py_modules (the job's and more) replace the job's
            os.environ["RAY_OVERRIDE_JOB_RUNTIME_ENV"] = "1"
        if address:
            check_reachable(address)
            use_token_if_any()
            try:
                ray.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError) as err:  # wrong address, cluster down, token refused
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise UserError(f"cannot connect to the Ray cluster at {address}: {first}") from None
        else:
            if not is_loopback(settings.dashboard_host):
                print(f"warning: the Ray dashboard listens on {settings.dashboard_host}: anyone who reaches that "
                      "interface can run code unless token authentication is on (RAY_AUTH_MODE=token)",
                      file=sys.stderr)
            with dashboard_beside_raylet(settings.dashboard_port):  # its start beside the raylet's: ~1 s sooner
                ray.init(include_dashboard=True, dashboard_host=settings.dashboard_host,
                         dashboard_port=settings.dashboard_port, **kwargs)
    info = cluster_info()
    if info.dashboard_url:
        login = " (token login: `ray get-auth-token`)" if info.token_auth else ""
        print(f"Ray dashboard: {info.dashboard_url}{login}", flush=True)
    if address or info.nodes > 1:
        where = f"on any node of the cluster at {address or 'this address'}"
        check_cpus(settings.cpus_per_trial, info.cpus_per_node, where)
        return info, fit_gpus(wanted, info.gpus_per_node, where)
    # the machine's own GPUs, as check_local_start saw them
    check_cpus(settings.cpus_per_trial, info.cpus_per_node, "on this machine")
    return info, fit_gpus(wanted, local_gpus(), "on this machine")


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing answers at a ``host:port`` address (Ray itself retries for minutes)."""
    if address == "auto" or "://" in address:
        return
    check_address(address, f"--address {address}")
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as err:
        raise UserError(f"cannot reach the Ray cluster at {address}: {err.strerror or err}") from None


def use_token_if_any() -> None:
    """Connect to a cluster with Ray's token when this user has one (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or
    ``~/.ray/auth_token``) and ``RAY_AUTH_MODE`` is unset: Ray itself does so only for a local ``auto`` address."""
    if os.environ.get("RAY_AUTH_MODE") is not None or read_auth_token() is None:
        return
    os.environ["RAY_AUTH_MODE"] = "token"
    reread_auth_mode()


def cluster_info() -> ClusterInfo:
    nodes = ray.nodes()
    alive = sum(1 for node in nodes if node.get("Alive"))
    return ClusterInfo(dashboard_url(), alive, most_per_node(nodes, "CPU"), most_per_node(nodes, "GPU"),
                       token_auth_enabled())


def most_per_node(nodes: list[dict[str, Any]], resource: str) -> float:
    """The most of ``resource`` (``CPU``, ``GPU``) that any live node of ``ray.nodes()`` has (0: none has any)."""
    return max((float(n.get("Resources", {}).get(resource, 0)) for n in nodes if n.get("Alive")), default=0.0)


def stop_in_background() -> threading.Thread:
    """Stop the local Ray this process started (its GCS, raylet, dashboard and workers) in a thread, while the
    driver goes on with work that needs no Ray (the test evaluation, the tables); join the thread before exiting.
    Stopping takes about 1-2 s of waiting on Ray's processes, which would otherwise come after that work."""
    def stop() -> None:
        ray.shutdown()
        mark("driver: ray stopped")

    thread = threading.Thread(target=stop, name="ray-shutdown")
    thread.start()
    return thread
