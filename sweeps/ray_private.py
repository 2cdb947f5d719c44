"""Every use of a Ray private API in the project, one small function each, with the public API that is missing.

Nothing else in the project imports ``ray._private``, ``ray._raylet`` or ``ray.train._internal``, reads a Ray object's
underscored attributes or parses Ray's experiment snapshot. Ray is pinned in ``pyproject.toml`` to the versions the
tests ran on, and ``tests/sweeps/test_ray_private.py`` calls every function here against the installed Ray: a newer
Ray that changes one of these fails there, naming the function, before anything else breaks in a sweep.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import re
import threading
from collections.abc import Iterator
from typing import Any

import pyarrow.fs
import ray
import ray.util.client
from ray import cloudpickle
from ray._common.network_utils import build_address as _build_address
from ray._private import node as _ray_node
from ray._private import ray_constants as _ray_constants
from ray._private import services as _ray_services
from ray._private import utils as _ray_utils
from ray._private import worker as _ray_worker
from ray._private.authentication import authentication_utils as _ray_auth
from ray._private.runtime_env.constants import RAY_JOB_CONFIG_JSON_ENV_VAR as _JOB_CONFIG
from ray._raylet import Config as _RayConfig
from ray.train._internal import session as _train_session
from ray.tune.execution import class_cache as _class_cache
from ray.tune.experiment.trial import Trial
from ray.tune.schedulers import AsyncHyperBandScheduler
from ray.tune.search import Repeater
from ray.tune.trainable.metadata import _TrainingRunMetadata

from restore_core.errors import DataError
from restore_core.io import read_json_object

# Loggers of Ray's Jobs client that log one line per file it uploads (sweeps.launch.jobs quiets them). Missing: a
# public switch for the upload's verbosity.
UPLOAD_LOGGERS = ("ray._private.runtime_env.packaging", "ray.dashboard.modules.dashboard_sdk")
EXPERIMENT_FORMAT = "a run's experiment_state-*.json is the snapshot of the experiment that Ray Tune writes"
TRIAL_STATE_KEYS = ("relative_logdir", "status")
SNAPSHOT = "experiment_state-"
SNAPSHOT_FILES = f"{SNAPSHOT}*.json"  # the names of Ray's snapshots in a run directory (the newest is restored)


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


# -- ASHA's bracket --------------------------------------------------------------------------------------------------
# Missing: AsyncHyperBandScheduler exposes neither what it recorded at its rungs nor a way to judge a trial again, to
# record a restored trial's reports or to count a stop it did not decide (sweeps.driver.asha needs all four).
def asha_bracket(scheduler: AsyncHyperBandScheduler, trial_id: str) -> Any | None:
    """The bracket ASHA put the trial in (None: it has not seen the trial, or has let it go)."""
    return scheduler._trial_info.get(trial_id)


def asha_rungs(bracket: Any) -> list[tuple[float, dict[str, float]]]:
    """The bracket's rungs, highest milestone first, each with the values recorded there by trial id (signed so
    that higher is better)."""
    return bracket._rungs


def asha_cutoff(bracket: Any, recorded: dict[str, float]) -> float | None:
    """The value a trial needs at a rung to go on, given the values ``recorded`` there (None: nothing recorded)."""
    return bracket.cutoff(recorded)


def asha_signed_report(scheduler: AsyncHyperBandScheduler, result: dict[str, Any]) -> tuple[float, float] | None:
    """The report's time (the step) and metric as ASHA reads them, the metric signed so that higher is better (None:
    the report lacks either)."""
    time, value = result.get(scheduler._time_attr), result.get(scheduler._metric)
    if isinstance(time, (int, float)) and isinstance(value, (int, float)):
        return time, scheduler._metric_op * value
    return None


def asha_record(scheduler: AsyncHyperBandScheduler, trial: Trial, result: dict[str, Any]) -> None:
    """Record ``result`` at the trial's rungs as ASHA's own rule would, without acting on the decision (a restored
    trial's earlier reports)."""
    report = asha_signed_report(scheduler, result)
    if report is not None:
        scheduler._trial_info[trial.trial_id].on_result(trial, *report)


def asha_count_stop(scheduler: AsyncHyperBandScheduler) -> None:
    """Count a stop in ASHA's own tally (its ``debug_string``), as its rule counts the stops it decides."""
    scheduler._num_stopped += 1


def asha_stopped(scheduler: AsyncHyperBandScheduler) -> int:
    """How many trials ASHA counts as stopped."""
    return scheduler._num_stopped


# -- Ray's Optuna searcher and Repeater ------------------------------------------------------------------------------
# Missing: OptunaSearch tells Optuna a trial's final value only, with no public access to the Optuna trial it opened
# (to report intermediate values at the trial's step); the Repeater does not say which trial of a group is its first.
def optuna_running_trial(searcher: Any, trial_id: str) -> Any | None:
    """The Optuna trial Ray's ``OptunaSearch`` opened for ``trial_id``, while it runs (None: not one of the
    searcher's trials, or ended)."""
    if trial_id in searcher._completed_trials:
        return None
    return searcher._ot_trials.get(trial_id)


def repeater_first_of_group(repeater: Repeater, trial_id: str) -> bool:
    """Whether ``trial_id`` is the first trial of its group in Ray's ``Repeater`` (the one whose configuration the
    searcher proposed; the others repeat it)."""
    group = repeater_group(repeater, trial_id)
    return group is not None and group.primary_trial_id == trial_id


def repeater_group(repeater: Repeater, trial_id: str) -> Any | None:
    """The group of ``trial_id`` in Ray's ``Repeater`` (its ``_TrialGroup``: ``primary_trial_id``, ``report``,
    ``finished_reporting``, ``scores``), which the Repeater keeps internal; None: not one of its trials."""
    return repeater._trial_id_to_group.get(trial_id)


# -- a trial's storage -----------------------------------------------------------------------------------------------
# Missing: Ray keeps where a trial's files are (its StorageContext) internal; the public API gives a trial's local
# staging path and, inside the trial, its working directory, not the storage filesystem behind them.
def trial_storage_filesystem(trial: Trial) -> pyarrow.fs.FileSystem | None:
    """The filesystem of the trial's storage: this machine's for a path, another for a URI (None: no storage yet)."""
    return None if trial.storage is None else trial.storage.storage_filesystem


def read_trial_file(trial: Trial, name: str) -> bytes | None:
    """The bytes of the file ``name`` in the trial's folder under the run's storage (None: it cannot be read)."""
    if trial.storage is None:
        return None
    try:
        with trial.storage.storage_filesystem.open_input_stream(f"{trial.path}/{name}") as stream:
            return stream.readall()
    except (OSError, ValueError):
        return None


def worker_storage_filesystem() -> pyarrow.fs.FileSystem:
    """Inside a trial: the filesystem of the run's storage (this machine's for a path, where the trial's folder is
    written directly; another for a URI)."""
    return _train_session.get_session().storage.storage_filesystem


def worker_storage_file(name: str) -> bytes | None:
    """Inside a trial: the file ``name`` of its folder under the run's storage, a path or a URI (None: there is no
    such file, or it cannot be read)."""
    storage = _train_session.get_session().storage
    try:
        with storage.storage_filesystem.open_input_stream(f"{storage.trial_fs_path}/{name}") as stream:
            return stream.readall()
    except (OSError, ValueError):
        return None


def worker_trial_folder_name() -> str:
    """Inside a trial: the name of its folder in the run (as Ray's snapshot of the experiment names it)."""
    return _train_session.get_session().storage.trial_dir_name


def worker_trial_dir(on_local_storage: bool) -> str:
    """Inside a trial: its folder as the trial should write it. Under ``--storage`` when that is a filesystem path
    (``on_local_storage``: see :func:`worker_storage_filesystem`; on a multi-node cluster it must be shared, so every
    node writes into the run directory directly), else the trial's working directory, which Ray uploads to the
    storage URI."""
    storage = _train_session.get_session().storage
    if not on_local_storage:
        return storage.trial_working_directory
    os.makedirs(storage.trial_fs_path, exist_ok=True)
    return storage.trial_fs_path


# -- the experiment snapshot -----------------------------------------------------------------------------------------
# Missing: Ray reads its snapshot (experiment_state-*.json) only inside Tuner.restore; nothing public says how it holds
# each trial before the restore runs, which --resume --retry-failed and the dry run of a resume must know.
def experiment_trial_states(run_dir: str) -> dict[str, tuple[str, str]]:
    """How Ray's newest snapshot of the experiment (the one ``Tuner.restore`` reads) holds each trial, by folder name:
    its status (``TERMINATED``, ``ERROR``, ``PENDING``, ...) and Ray's JSON state of it. Empty before Ray's first
    snapshot.

    Raises:
        DataError: the snapshot is not what Ray writes.
    """
    snapshots = glob.glob(os.path.join(run_dir, SNAPSHOT_FILES))
    if not snapshots:
        return {}
    path = max(snapshots)  # the names end in the time written, as Ray picks the newest
    trial_data = (read_json_object(path, EXPERIMENT_FORMAT) or {}).get("trial_data")
    if not isinstance(trial_data, list):
        raise DataError(f"{path} has no list of trials ('trial_data'); {EXPERIMENT_FORMAT}")
    states = {}
    for entry in trial_data:
        state = entry[0] if isinstance(entry, list) and entry and isinstance(entry[0], str) else "null"
        try:
            fields = json.loads(state)
        except json.JSONDecodeError:
            fields = None
        if not isinstance(fields, dict) or not all(isinstance(fields.get(key), str) for key in TRIAL_STATE_KEYS):
            raise DataError(f"{path} has a trial in 'trial_data' without its folder ('relative_logdir') and status; "
                            f"{EXPERIMENT_FORMAT}")
        states[fields["relative_logdir"]] = (fields["status"], state)
    return states


def snapshot_checkpoints(run_dir: str) -> dict[str, str]:
    """The checkpoint Ray's newest snapshot restores each trial from (its latest), by folder name; a trial without
    one is left out."""
    snapshots = glob.glob(os.path.join(run_dir, SNAPSHOT_FILES))
    entries = (read_json_object(max(snapshots), EXPERIMENT_FORMAT) or {}).get("trial_data") if snapshots else None
    found = {}
    for entry in entries if isinstance(entries, list) else []:
        try:
            folder = json.loads(entry[0])["relative_logdir"]
            manager = _TrainingRunMetadata.from_json_state(entry[1]).checkpoint_manager
            latest = manager.latest_checkpoint_result if manager else None
        except (KeyError, TypeError, ValueError, IndexError):  # not what Ray writes: experiment_trial_states says so
            continue
        if latest is not None and latest.checkpoint is not None:
            found[folder] = latest.checkpoint.path
    return found


def staging_dirs(states: dict[str, tuple[str, str]]) -> dict[str, str]:
    """The staging folder on this machine of each trial in ``states`` (from :func:`experiment_trial_states`), by
    folder name, as a restore in the running Ray session goes on using it."""
    staging = {}
    for _, state in states.values():
        try:
            trial = Trial.from_json_state(state, stub=True)
        except KeyError:  # a state without what Ray writes (its trainable, its storage): no staging folder to match
            continue
        staging[trial.storage.trial_dir_name] = trial.local_path
    return staging


# -- one save of the experiment, whole -------------------------------------------------------------------------------
# Missing: Ray saves its snapshot, the searcher's state and the callbacks' states one file after another into its
# staging folder and uploads that folder file by file, so a driver killed during an upload can leave a snapshot of
# one save beside a searcher state of another (trials lost, or created twice, on restore). Nothing public reads one
# save whole, or the callbacks' states before a restore.
CALLBACK_STATES = "callback-states-"
SESSION_FILE = re.compile(r"-(\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)\.[a-z]+$")  # <kind>-<session>.json|pkl


def snapshot_files(experiment_dir: str) -> dict[str, bytes]:
    """The files of Ray's newest save in an experiment folder (the driver's staging folder, read right after Ray
    saved into it): its snapshot and its searcher's states, by name (empty: none saved yet)."""
    saves = glob.glob(os.path.join(experiment_dir, f"{SNAPSHOT}*.json"))
    if not saves:
        return {}
    session = snapshot_session(os.path.basename(max(saves)))
    files = {}
    for name in os.listdir(experiment_dir):
        path = os.path.join(experiment_dir, name)
        if snapshot_session(name) == session and os.path.isfile(path):
            with open(path, "rb") as handle:
                files[name] = handle.read()
    return files


def snapshot_session(name: str) -> str | None:
    """The save (Ray's session timestamp) a file of the experiment folder belongs to: ``experiment_state-S.json``,
    ``basic-variant-state-S.json``, ``searcher-state-S.pkl``... (None: not one of those)."""
    match = SESSION_FILE.search(name)
    return match.group(1) if match and not name.startswith((CALLBACK_STATES, ".")) else None


def newest_callback_states(run_dir: str) -> dict[Any, Any]:
    """The callbacks' states of Ray's newest save of the run (index: state; empty: none saved)."""
    saves = glob.glob(os.path.join(run_dir, f"{CALLBACK_STATES}*.pkl"))
    if not saves:
        return {}
    try:
        with open(max(saves), "rb") as handle:
            states = cloudpickle.load(handle)
    except Exception:  # cut short or unreadable: as if there were none (Ray's restore skips it the same way)
        return {}
    return states if isinstance(states, dict) else {}


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
