"""Connect the driver to Ray: a local Ray with its dashboard on loopback, or an existing cluster; GPU checks."""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass
from typing import Any

from restore_core.errors import UserError
from restore_core.sweep.options import SweepOptions
from restore_core.sweep.security import is_loopback, port_is_free, read_auth_token


@dataclass
class ClusterInfo:
    """What the driver found after connecting."""

    dashboard_url: str | None
    nodes: int
    gpus_per_node: float  # the most GPUs any node has
    token_auth: bool


def ray_address(options: SweepOptions) -> str | None:
    """``--address``, or ``RAY_ADDRESS`` (set by Ray inside a submitted job and by users of a cluster)."""
    return options.address or os.environ.get("RAY_ADDRESS") or None


def check_gpus(options: SweepOptions, gpus_per_node: float, where: str) -> None:
    """Refuse a ``--gpus-per-trial`` no node can satisfy (Ray would wait for ever); without any GPU, the sweep runs on
    CPU instead (see :func:`fit_gpus`)."""
    wanted = options.gpus_per_trial
    if 0 < gpus_per_node < wanted:
        raise UserError(f"--gpus-per-trial {wanted:g} is more than the {gpus_per_node:g} GPU(s) {where}; use a "
                        f"value in (0, {gpus_per_node:g}] (0.25 packs four trials on one GPU)")


def fit_gpus(options: SweepOptions, gpus_per_node: float, where: str) -> None:
    """Check ``--gpus-per-trial`` against the GPUs there are. Without any GPU the sweep runs on CPU (one notice);
    a request no node can satisfy is an error (Ray would wait for ever)."""
    check_gpus(options, gpus_per_node, where)
    if options.gpus_per_trial > 0 and gpus_per_node <= 0:
        print(f"notice: no GPU {where}; --gpus-per-trial {options.gpus_per_trial:g} ignored, trials run on CPU",
              file=sys.stderr)
        options.gpus_per_trial = 0.0


def local_gpus() -> float:
    import torch

    return float(torch.cuda.device_count())


def check_local_start(options: SweepOptions, cuda_wanted_by: str | None = None) -> None:
    """Everything about starting a local Ray that can fail, checked before anything is written: the GPUs asked for
    (by ``--gpus-per-trial``, or by ``train.device=cuda`` in ``cuda_wanted_by``, e.g. "the base config") and the
    dashboard's port. On a cluster (``--address``) its nodes decide, after connecting."""
    if ray_address(options) is not None:
        return
    gpus = local_gpus()
    if cuda_wanted_by and gpus <= 0:
        raise UserError(f"train.device=cuda in {cuda_wanted_by}, but this machine has no GPU that torch can use; set "
                        "train.device=auto (a GPU where there is one) or cpu, or pass --address to run on a cluster "
                        "with GPUs")
    check_gpus(options, gpus, "on this machine")
    import ray

    if ray.is_initialized():
        return
    if not port_is_free(options.dashboard_host, options.dashboard_port):
        raise UserError(f"port {options.dashboard_port} on {options.dashboard_host} is in use (another Ray "
                        "dashboard?); pass --dashboard-port with a free port, or --address to run on that Ray")


def start_ray(options: SweepOptions) -> ClusterInfo:
    """Connect to ``--address``/``RAY_ADDRESS`` or start a local Ray with its dashboard on ``--dashboard-host``
    (loopback by default); print the dashboard URL and check the GPU request against the cluster."""
    import ray

    address = ray_address(options)
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"log_to_driver": options.verbose > 1, "configure_logging": True,
                                  "logging_level": "ERROR"}
        if address:
            check_reachable(address)
            use_token_if_any()
            try:
                ray.init(address=address, **kwargs)
            except (ConnectionError, RuntimeError) as err:  # wrong address, cluster down, token refused
                first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
                raise UserError(f"cannot connect to the Ray cluster at {address}: {first}") from None
        else:
            if not is_loopback(options.dashboard_host):
                print(f"warning: the Ray dashboard listens on {options.dashboard_host}: anyone who reaches that "
                      "interface can run code unless token authentication is on (RAY_AUTH_MODE=token)",
                      file=sys.stderr)
            ray.init(include_dashboard=True, dashboard_host=options.dashboard_host,
                     dashboard_port=options.dashboard_port, **kwargs)
    info = cluster_info()
    if info.dashboard_url:
        login = " (token login: `ray get-auth-token`)" if info.token_auth else ""
        print(f"Ray dashboard: {info.dashboard_url}{login}", flush=True)
    if address or info.nodes > 1:
        fit_gpus(options, info.gpus_per_node, f"on any node of the cluster at {address or 'this address'}")
    else:  # the machine's own GPUs, as check_local_start saw them
        fit_gpus(options, local_gpus(), "on this machine")
    return info


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing answers at a ``host:port`` address (Ray itself retries for minutes)."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UserError(f"--address {address}: expected host:port of the Ray head, e.g. 10.0.0.5:6379, or auto")
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
    try:
        from ray._raylet import Config

        Config.initialize("")  # Ray caches its config; make this process see the new mode
    except (ImportError, AttributeError):
        pass


def cluster_info() -> ClusterInfo:
    import ray
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    try:
        url = ray._private.worker.get_dashboard_url()
    except Exception:  # no dashboard (ray[default] missing, or include_dashboard=False)
        url = None
    if url and "://" not in url:
        url = f"http://{url}"
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    gpus = max((float(n.get("Resources", {}).get("GPU", 0)) for n in nodes), default=0.0)
    return ClusterInfo(url or None, len(nodes), gpus, bool(is_token_auth_enabled()))
