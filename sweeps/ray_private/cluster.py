"""Ray's private APIs for the cluster: queries of a local or running Ray, a local Ray's start, what a trial's
worker starts with (see the package's docstring)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from typing import Any

import ray
import ray.util.client
from ray._common.network_utils import build_address as _build_address
from ray._private import node as _ray_node
from ray._private import ray_constants as _ray_constants
from ray._private import services as _ray_services
from ray._private import utils as _ray_utils
from ray._private import worker as _ray_worker
from ray._private.authentication import authentication_utils as _ray_auth
from ray._private.runtime_env.constants import RAY_JOB_CONFIG_JSON_ENV_VAR as _JOB_CONFIG
from ray._raylet import Config as _RayConfig
from ray.tune.execution import class_cache as _class_cache

# Loggers of Ray's Jobs client that log one line per file it uploads (sweeps.launch.jobs quiets them). Missing: a
# public switch for the upload's verbosity.
UPLOAD_LOGGERS = ("ray._private.runtime_env.packaging", "ray.dashboard.modules.dashboard_sdk")

# -- the cluster -----------------------------------------------------------------------------------------------------
def cpus_ray_would_count() -> float:
    """The CPUs a local Ray started here would have (the machine's, within its container's limit). Missing: a public
    way to ask before ``ray.init`` (``ray.available_resources()`` needs a running Ray)."""
    return float(_ray_utils.get_num_cpus(override_docker_cpu_warning=True))


def reread_auth_mode() -> None:
    """Make this process see a ``RAY_AUTH_MODE`` set after Ray was imported. Missing: Ray caches its config at import
    and has no public call to read it again."""
    _RayConfig.initialize("")


def token_auth_enabled() -> bool:
    """Whether the Ray this process runs or connects to checks tokens. Missing: a public query of the auth mode."""
    return bool(_ray_auth.is_token_auth_enabled())


def dashboard_url() -> str | None:
    """The dashboard of the Ray this process is connected to, as ``http://host:port`` (None: none). Missing: only
    ``ray.init``'s return value has it, not a Ray connected earlier (a test's, a user's script's)."""
    try:
        url = _ray_worker.get_dashboard_url()
    except Exception:  # no dashboard (ray[default] missing, or include_dashboard=False)
        return None
    if url and "://" not in url:
        url = f"http://{url}"
    return url or None


def connected_through_client() -> bool:
    """Whether this process reaches its Ray through Ray Client (``ray://``), where Tune installs no SIGINT handler.
    Missing: a public ``ray.util.client`` query (``ray.util.client.ray`` is the client's internal worker)."""
    return ray.util.client.ray.is_connected()


def job_runtime_env() -> dict[str, Any] | None:
    """The runtime env of the Ray job whose driver this process is (None: not a job's driver), as Ray's job
    supervisor hands it to the driver, which ``ray.init`` merges with its own. Missing: a public way to read it before
    ``ray.init`` (``ray.get_runtime_context().runtime_env`` needs a connected driver)."""
    text = os.environ.get(_JOB_CONFIG)
    if not text:
        return None
    return dict(json.loads(text).get("runtime_env") or {})


# -- a local Ray's start --------------------------------------------------------------------------------------------
# Missing: a way to start the dashboard without waiting for it. A local ray.init starts the GCS, then the dashboard,
# waits until the dashboard has written its address (2-2.5 s here), and only then starts the raylet, which
# registers the node and the driver (another 2-2.5 s). Here the dashboard starts in a thread beside the raylet's
# start, and ray.init returns once both are up, with the dashboard as Ray would have it (its process in the node's
# processes, its address in the GCS). The thread stays for the process's life: Ray starts the dashboard with
# PR_SET_PDEATHSIG, which kills a child when the thread that started it ends.
def dashboard_beside_raylet(port: int | None) -> contextlib.AbstractContextManager[None]:
    """Around a local ``ray.init`` with its dashboard on ``port``: the dashboard starts beside the raylet. Without a
    port, Ray's own order (the address that workers are given must be known before the dashboard is up)."""
    return _dashboard_beside_raylet() if port else contextlib.nullcontext()


@contextlib.contextmanager
def _dashboard_beside_raylet() -> Iterator[None]:
    start_node, start_api_server, node_init = (_ray_node.Node.start_api_server, _ray_services.start_api_server,
                                               _ray_node.Node.__init__)
    pending: dict[int, tuple[threading.Event, dict[str, Any]]] = {}

    def start_in_thread(node: Any, **kwargs: Any) -> None:
        done, found = threading.Event(), {}

        def start_and_stay(*args: Any, **more: Any) -> None:
            try:
                found["started"] = start_api_server(*args, **more)
            except BaseException as err:  # raised in ray.init's thread, below
                found["error"] = err
            done.set()
            threading.Event().wait()  # the dashboard lives as long as the thread that started it

        def start_aside(*args: Any, **more: Any) -> tuple[str, None]:
            threading.Thread(target=start_and_stay, args=args, kwargs=more, name="ray-dashboard-start",
                             daemon=True).start()
            return _build_address(node._ray_params.dashboard_host, node._ray_params.dashboard_port), None

        _ray_services.start_api_server = start_aside  # Node.start_api_server's call: its process is recorded below
        try:
            start_node(node, **kwargs)
        finally:
            _ray_services.start_api_server = start_api_server
        pending[id(node)] = done, found

    def init_then_wait(node: Any, *args: Any, **kwargs: Any) -> None:
        try:
            node_init(node, *args, **kwargs)
        finally:
            started = pending.pop(id(node), None)
        if started is None:
            return
        done, found = started
        done.wait()
        if "error" in found:
            raise found["error"]
        node._webui_url, process = found["started"]
        if process is not None:
            node.all_processes[_ray_constants.PROCESS_TYPE_DASHBOARD] = [process]
            node.get_gcs_client().internal_kv_put(b"webui:url", node._webui_url.encode(), True,
                                                  _ray_constants.KV_NAMESPACE_DASHBOARD)

    _ray_node.Node.start_api_server, _ray_node.Node.__init__ = start_in_thread, init_then_wait
    try:
        yield
    finally:
        _ray_node.Node.start_api_server, _ray_node.Node.__init__ = start_node, node_init


# -- credentials -----------------------------------------------------------------------------------------------------
# Missing: a public switch to keep Ray Tune from copying the driver's AWS credentials into the runtime_env of every
# trainable (ray.tune.execution._class_cache.ENV_VARS_TO_PROPAGATE), which Ray's runtime env agent writes, secret
# included, to its log (runtime_env_agent.log). Trials take them from their node's environment instead: a Ray the
# driver starts inherits the driver's, and the nodes of a cluster need them set (or a role), as Ray's own processes
# there, which write to object storage too, do anyway.
CREDENTIAL_VARIABLES = frozenset({"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN",
                                  "AWS_SESSION_TOKEN"})


def keep_credentials_out_of_trials() -> None:
    """Stop Ray Tune from putting the AWS credentials of this process in its trainables' runtime environments."""
    _class_cache.ENV_VARS_TO_PROPAGATE = frozenset(_class_cache.ENV_VARS_TO_PROPAGATE) - CREDENTIAL_VARIABLES


# -- the trial workers' start ----------------------------------------------------------------------------------------
# Missing: a public switch for the environment variables Ray Tune sets in every trainable's runtime_env
# (ray.tune.execution.class_cache.DEFAULT_ENV_VARS: PL_DISABLE_FORK=1, which only PyTorch Lightning reads; the
# project's trainable does not use it). A worker with any runtime_env starts through Ray's setup_worker.py, a Python
# process that imports Ray and asks the node's runtime env agent before it becomes the worker: the first trial starts
# 1.2 s later, each later new worker 0.46 s (benchmarks/worker_start.py). Without it a trial's runtime_env is the job's
# own, and a job without one (a local Ray, a cluster's driver without working_dir or py_modules) starts its workers
# directly.
TUNE_TRAINABLE_ENV = dict(_class_cache.DEFAULT_ENV_VARS)  # as Ray Tune has it, before a sweep drops it


def trials_without_tune_env() -> None:
    """Stop Ray Tune from giving its trainables a runtime environment of their own (``PL_DISABLE_FORK``); what it
    passes on from this process's environment (``ENV_VARS_TO_PROPAGATE``) is kept."""
    _class_cache.DEFAULT_ENV_VARS.clear()
