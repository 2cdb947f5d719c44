"""Ray Tune's private APIs for an experiment: ASHA's bracket, the Optuna searcher and Repeater, a trial's storage,
a run's uploads, the search's saved spec, the experiment's snapshot and saves (see the package's docstring)."""

from __future__ import annotations

import copy
import glob
import json
import os
import re
from typing import Any

import pyarrow.fs
from ray import cloudpickle
from ray.train._internal import session as _train_session
from ray.train._internal import storage as _train_storage
from ray.train._internal.storage import StorageContext
from ray.tune.execution.tune_controller import TuneController
from ray.tune.experiment.trial import Trial
from ray.tune.schedulers import AsyncHyperBandScheduler
from ray.tune.search import BasicVariantGenerator, Repeater, SearchAlgorithm
from ray.tune.trainable.metadata import _TrainingRunMetadata

from restore_core.errors import DataError
from restore_core.io import one_request_uploads, read_json_object

EXPERIMENT_FORMAT = "a run's experiment_state-*.json is the snapshot of the experiment that Ray Tune writes"
TRIAL_STATE_KEYS = ("relative_logdir", "status")
SNAPSHOT = "experiment_state-"
SNAPSHOT_FILES = f"{SNAPSHOT}*.json"  # the names of Ray's snapshots in a run directory (the newest is restored)


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


def worker_checkpoints_after_existing() -> None:
    """Inside a trial, before its first report: name its next checkpoint after every checkpoint folder already in its
    folder under the run's storage. Ray names a trial's checkpoints from an index it keeps in its snapshot of the
    experiment; a trial resumed from a checkpoint newer than the snapshot's (its report recorded after the save the
    resume restored) would otherwise write its next checkpoint under the name of one whose report is on record, and the
    record would then name another step's weights."""
    storage = _train_session.get_session().storage
    selector = pyarrow.fs.FileSelector(storage.trial_fs_path, allow_not_found=True)
    taken = [int(match.group(1)) for info in storage.storage_filesystem.get_file_info(selector)
             if (match := _CHECKPOINT_FOLDER.fullmatch(info.base_name))]
    if taken:  # the index of the last checkpoint written: Ray adds one before it writes the next
        storage.current_checkpoint_index = max(storage.current_checkpoint_index, max(taken))


_CHECKPOINT_FOLDER = re.compile(r"checkpoint_(\d+)")  # StorageContext._make_checkpoint_dir_name's


# -- a run's uploads ---------------------------------------------------------------------------------------------------
# Missing: Ray Tune opens the filesystem of a storage URI itself (pyarrow's FileSystem.from_uri, in StorageContext), and
# a filesystem passed in instead would change what its storage path means (a path in that filesystem, no URI).
_FS_AND_PATH = _train_storage.get_fs_and_path


def one_request_per_small_upload() -> None:
    """Make the filesystem Ray Tune opens for an S3 run upload each file smaller than a part in one request instead
    of three (:func:`restore_core.io.one_request_uploads`): the driver's uploads of the run (its saves, each trial's
    result files), and a trial's own (its checkpoints), as its worker gets the trial's storage with that filesystem."""
    _train_storage.get_fs_and_path = _fs_and_path  # what StorageContext calls as it is made


def _fs_and_path(storage_path: Any, storage_filesystem: pyarrow.fs.FileSystem | None = None) -> tuple[Any, str]:
    filesystem, path = _FS_AND_PATH(storage_path, storage_filesystem)
    return one_request_uploads(filesystem), path


# -- a run resumed where it was not written --------------------------------------------------------------------------
# Missing: Ray Tune's restore moves the trials of its snapshot to where the run is now (TuneController._restore_trials:
# a run copied or moved to another bucket or folder), but not the experiment spec that its search algorithm saved and
# creates the trials still to come from (BasicVariantGenerator's iterators, SearchGenerator's experiment): those were
# created where the run was first written, and read and wrote their records there.
_RESUME = TuneController.resume


def new_trials_where_the_run_is() -> None:
    """Make Ray Tune's restore move the search algorithm's saved spec with the run, so that the trials it creates
    after a resume are written where the run is resumed."""
    TuneController.resume = _resume_here


def _resume_here(controller: TuneController, *args: Any, **kwargs: Any) -> Any:
    resumed = _RESUME(controller, *args, **kwargs)
    move_search_specs(controller._search_alg, controller._storage)
    return resumed


def move_search_specs(search_alg: SearchAlgorithm, storage: StorageContext) -> int:
    """Point every spec that ``search_alg`` creates trials from (:func:`search_specs`) at the run of ``storage`` (its
    filesystem, storage path and experiment folder); returns how many specs it changed."""
    moved = 0
    for spec in search_specs(search_alg):
        kept = spec.get("storage")
        if kept is not None and (kept.storage_fs_path, kept.experiment_dir_name) != \
                (storage.storage_fs_path, storage.experiment_dir_name):
            spec["storage"] = copy.copy(kept)
            spec["storage"].storage_filesystem = storage.storage_filesystem
            spec["storage"].storage_fs_path = storage.storage_fs_path
            spec["storage"].experiment_dir_name = storage.experiment_dir_name
            moved += 1
    return moved


def search_specs(search_alg: SearchAlgorithm) -> list[dict[str, Any]]:
    """The experiment specs ``search_alg`` creates its trials from, each with the ``storage`` they are written to (a
    BasicVariantGenerator's too for each variant it resolved and has not made a trial of yet)."""
    if isinstance(search_alg, BasicVariantGenerator):
        specs = []
        for iterator in search_alg._iterators:
            specs.append(iterator.unresolved_spec)
            if iterator.variants is not None and not iterator.variants.lazy_eval:  # a list, saved with the state
                specs.extend(spec for _, spec in iterator.variants.iterable)
        return specs
    experiment = getattr(search_alg, "_experiment", None)  # SearchGenerator
    return [experiment.spec] if experiment is not None else []


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


_DRIVER_STAGING = "driver_artifacts"  # StorageContext.experiment_driver_staging_path's last folder


def outside_the_staging_upload(path: str) -> str | None:
    """Where an atomic write of ``path`` puts its temporary file when ``path`` is in the driver's staging folder
    (``.../<experiment>/driver_artifacts``) or a trial's folder there: the folder above the staging folder, on the same
    filesystem, which Ray does not upload. Ray uploads the staging folder by listing it and then copying its files one
    by one, and a temporary file renamed away between the two fails that save of the experiment
    (``FileNotFoundError``). ``None`` (beside ``path``) elsewhere."""
    folder = os.path.dirname(os.path.abspath(path))
    for staging in (folder, os.path.dirname(folder)):
        if os.path.basename(staging) == _DRIVER_STAGING:
            return os.path.dirname(staging)
    return None


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
