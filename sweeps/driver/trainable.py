"""The Ray Tune function trainable: resolve the trial's config from its space, then run the one training loop."""

from __future__ import annotations

import gc
import os
import traceback
from collections.abc import Mapping
from typing import Any

import ray
import torch
from ray import tune

from analysis.rundir import NODE_KEY
from restore_core.loop import SharedData, train
from restore_core.plugins import reload_plugins
from restore_core.schema import data_key, validate_config
from restore_core.timeline import mark
from sweeps.cluster.atomic_fs import is_local_filesystem
from sweeps.driver.tb_summaries import TrialSummaries
from sweeps.ledger.recover import last_recorded_step, newest_checkpoint, report_missing
from sweeps.ledger.status import clear_timeout, ended_before, write_timeout
from sweeps.ledger.watchdog import TrialTimedOut, TrialTimeout, Watchdog
from sweeps.ray_private import (
    worker_checkpoints_after_existing,
    worker_storage_filesystem,
    worker_trial_dir,
    worker_trial_folder_name,
)

mark("trainable imported")  # in a worker: its start, up to the first trial


def run_trial(
    config: dict[str, Any],
    *,
    space: Any,
    base: dict,
    shared: Mapping[str, SharedData] | None = None,
    trial_timeout: float | None = None,
    plugins: tuple[dict[str, Any], ...] = (),
    unreported: Mapping[str, tuple[str, int]] | None = None,
) -> None:
    """One trial. ``config`` holds only the sampled values (row, parameters, seed); the space, ``base`` and the
    prepared data come through ``tune.with_parameters`` (the object store), never through the search space.

    Args:
        config: the trial's sampled values.
        space: the :class:`~search_spaces.space.SearchSpace` (passed whole, so spaces defined outside the package
            registry, e.g. in a user's script, run on every worker).
        base: the run's base config (profile and ``--set`` applied).
        shared: data prepared once by the driver, by data key; a trial with another data config builds its own.
        trial_timeout: seconds of wall time this attempt may take (``--trial-timeout``); None: no limit.
        plugins: the user's code the run loads (its records), loaded here before the config is read.
        unreported: in a resume of a run in object storage, the checkpoint (folder name) whose report no record
            holds and the step of the last report the records hold, by trial folder
            (:func:`~sweeps.ledger.recover.unreported_checkpoints`): the trial reports it again when it goes on from
            it, with the reports before it that the records lack. Once reported, Ray keeps it as a new checkpoint,
            which a later retry goes on from instead, so it is reported once.

    Raises:
        TrialTimedOut: the attempt ran past ``trial_timeout`` (its message is the time-out's reason).
    """
    mark("trial")
    freeze_what_the_worker_imported()
    reload_plugins(plugins, "the run's plugins")  # the worker registers the user's models, tasks, ... too
    trial_config = space.resolve(base, config)
    label = space.label(config)
    filesystem = worker_storage_filesystem()
    on_local_storage = is_local_filesystem(filesystem)
    logdir = worker_trial_dir(on_local_storage)
    # The loop stages each checkpoint in the system's temporary folder. Handed to Ray on the run's own filesystem
    # (local storage), Ray's copy of it into the run is a hard link where that folder is on the run's device
    # (sweeps.cluster.atomic_fs), else the bytes as before; a full run disk fails that copy, not the trial.
    checkpoint_filesystem = filesystem if on_local_storage else None
    summaries = TrialSummaries(logdir, space, config, trial_config, label)
    if ended_before(logdir):
        # The trial ended before the driver died, after Ray's last snapshot of the experiment: keep it as it is.
        return
    clear_timeout(logdir)
    # a trial going on from a checkpoint newer than Ray's snapshot knows: its next one must not take an earlier name
    worker_checkpoints_after_existing()
    data = (shared or {}).get(data_key(validate_config(trial_config, cross_field=False)))  # train() checks the rest

    # the Ray node this attempt runs on, with every report: a trial retried after its node died reports another one
    node_id = ray.get_runtime_context().get_node_id()

    def report(metrics: dict[str, Any], folder: str | None) -> None:
        checkpoint = tune.Checkpoint(folder, filesystem=checkpoint_filesystem) if folder else None
        summaries.record(metrics)
        tune.report({**metrics, "label": label, NODE_KEY: node_id}, checkpoint=checkpoint)

    watchdog = None
    if trial_timeout:
        message = f"timed out: still running after {trial_timeout:g} s (--trial-timeout {trial_timeout:g})"
        watchdog = Watchdog(trial_timeout, message, lambda text: write_timeout(logdir, text)).start()
    try:
        try:
            checkpoint, unrecorded, recorded_up_to = tune.get_checkpoint(), False, 0
            if on_local_storage:  # the trial's folder is the storage's: a newer checkpoint may be there
                known = checkpoint.path if checkpoint else None
                checkpoint = newest_checkpoint(logdir, known)
                # a driver killed after the checkpoint was kept, before its report was recorded: report it again
                unrecorded = checkpoint is not None and report_missing(logdir, checkpoint, known)
                recorded_up_to = last_recorded_step(logdir) if unrecorded else 0
                checkpoint = tune.Checkpoint.from_directory(checkpoint) if checkpoint else None
            elif checkpoint is not None and unreported:  # object storage: the driver's resume found the gaps
                name = os.path.basename(os.path.normpath(checkpoint.path))
                gap = unreported.get(worker_trial_folder_name())
                unrecorded, recorded_up_to = (True, gap[1]) if gap is not None and gap[0] == name else (False, 0)
            if checkpoint is None:
                train(trial_config, data=data, report=report, logdir=logdir)
            else:
                with checkpoint.as_directory() as folder:
                    train(trial_config, data=data, report=report, resume_from=folder, report_resumed=unrecorded,
                          recorded_up_to=recorded_up_to, logdir=logdir)
        finally:
            if watchdog is not None:
                watchdog.finish()
    except TrialTimeout as timeout:
        watchdog.finish()  # the time-out is recorded (timeout.json)
        drop_frames(timeout)
        summaries.close(succeeded=False)
    except BaseException as error:
        drop_frames(error)
        summaries.close(succeeded=False)
        raise
    finally:
        summaries.close(succeeded=True)  # no-op when closed above
        release_memory()
        mark("released")
    if watchdog is not None and watchdog.fired:
        # Also when the limit passed just as training ended (the exception withdrawn before it arrived): timeout.json
        # says timed out, so Ray must hold the trial as failed too, or --retry-failed would forget it without a rerun.
        raise TrialTimedOut(watchdog.message)


def drop_frames(error: BaseException) -> None:
    """Let go of what the failed trial's frames hold (models, optimizer state, batches on the GPU): the exception
    travels on to Ray with its traceback text intact, but its frames no longer keep the tensors alive."""
    traceback.clear_frames(error.__traceback__)


def freeze_what_the_worker_imported() -> None:
    """Once per worker process, at its first trial: move every object alive then (the imported modules of torch,
    Ray, ...) out of the garbage collector's reach, so that :func:`release_memory`'s full collection after the first
    trial walks only what it created (it took about 0.5 s a trial on a loaded machine walking them all;
    ``benchmarks/trial_cost.py`` measures it). Those objects live as long as the process anyway."""
    if gc.get_freeze_count() == 0:
        gc.collect()  # what is garbage already goes, rather than staying for good
        gc.freeze()


def release_memory() -> None:
    """Free what the trial held before the worker takes the next one (GPU memory above all); then freeze what is
    still alive, the modules the trial imported on first use above all (TensorBoard, torchmetrics, ...: about 175,000
    objects for lsid_lr), so that the next trial's collections walk only what it creates (this one took about 90 ms
    a trial walking them again; ``benchmarks/trial_cost.py`` measures it). Only a cycle of objects that outlived a
    trial and became garbage later would stay; what a trial leaves is freed here first."""
    gc.collect()
    gc.freeze()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
