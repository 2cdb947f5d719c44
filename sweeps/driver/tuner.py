"""Ray Tune objects for a planned sweep: the searcher, the scheduler and the Tuner (new or restored)."""

from __future__ import annotations

from collections.abc import Mapping

from ray import tune
from ray.tune import Callback
from ray.tune.schedulers import FIFOScheduler

from restore_core.loop import SharedData
from sweeps.cluster.atomic_fs import atomic_local_filesystem
from sweeps.driver.asha import RecheckingASHA
from sweeps.driver.domains import fixed_param_space, grid_param_space, sampled_param_space
from sweeps.driver.mlflow_log import mlflow_callbacks
from sweeps.driver.progress import ProgressCallback
from sweeps.driver.tb_summaries import folder_name
from sweeps.driver.timeline import timeline_callbacks
from sweeps.driver.trainable import run_trial
from sweeps.ledger.recover import SnapshotBundle, experiment_saved
from sweeps.ledger.result_log import ProgressCsvLogger, ResultJsonLogger
from sweeps.ledger.status import TrialStatusCallback
from sweeps.ray_private import (
    keep_credentials_out_of_trials,
    new_trials_where_the_run_is,
    one_request_per_small_upload,
    trials_without_tune_env,
)
from sweeps.settings.plan import SweepPlan


def startup_trials(configurations: int) -> int:
    """How many of TPE's (or the GP's) configurations are drawn at random before it models the results: Optuna's
    default of ten would leave a budget of ten configurations (a grid's worth) entirely random, so a third of the
    budget, 2 to 10 (benchmarks/early_stopping.py measures what this changes)."""
    return max(2, min(10, configurations // 3))


def build_searcher(plan: SweepPlan, keep_study: bool = False):
    """``grid``: every configuration of the study. ``random``/``optuna``/``gp``: Optuna's random, TPE or
    Gaussian-process sampler (seeded by ``--search-seed``), each configuration repeated over ``--seeds`` seeds
    (Ray's Repeater, which reports their mean to the sampler). ``keep_study``: the Optuna study in the run
    directory's journal (:func:`~sweeps.driver.optuna_live.study_storage`), else in memory."""
    if plan.search == "grid":
        return None
    import optuna  # lazy: Optuna and Ray's wrapper of it take a second to import, and only sampled searches use them

    from sweeps.driver.optuna_live import SeedRepeater, StepOptunaSearch, study_storage  # lazy: imports Optuna

    settings = plan.settings
    seed = settings.search_seed
    startup = startup_trials(plan.num_samples // settings.seeds)
    if plan.search == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif plan.search == "gp":  # a Gaussian process over all the ranges; trials in flight enter its batch acquisition
        sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    else:  # multivariate: the rate and the decay point are modelled together; constant liar: trials in flight count
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True,
                                             constant_liar=True)
    objectives = plan.objectives
    # two or more objectives: one study over all of them (Optuna's samplers are multi-objective), told every value
    metric = [o.metric for o in objectives] if len(objectives) > 1 else plan.metric
    mode = [o.mode for o in objectives] if len(objectives) > 1 else plan.mode
    searcher = StepOptunaSearch(metric=metric, mode=mode, sampler=sampler,
                                **(study_storage(plan) if keep_study else {}))
    if settings.seeds > 1:
        searcher = SeedRepeater(searcher, repeat=settings.seeds, set_index=True)
    return searcher


def build_scheduler(plan: SweepPlan):
    """``asha``: stop weak trials at rungs from the grace period on (time is counted in steps); Ray's ASHA, with the
    space's or the options' recheck and quorum, which also records a resumed sweep's trials at their rungs again."""
    if plan.asha is None:
        return FIFOScheduler()
    return RecheckingASHA(time_attr="step", **plan.asha.kwargs())


def build_tuner(plan: SweepPlan, shared: Mapping[str, SharedData], gpus_per_trial: float,
                objectives_check: Callback | None = None, evaluate_as_trials_end: Callback | None = None,
                unreported: Mapping[str, tuple[str, int]] | None = None):
    """A new Tuner for the plan, or (``--resume``) the run's Tuner restored: trials that ended are kept, unfinished
    ones continue from their last checkpoint (and failed ones too with ``--retry-failed``).

    Args:
        plan: the sweep.
        shared: the data prepared once by the driver, by data key.
        gpus_per_trial: the GPU share each trial takes, as fitted to the nodes.
        objectives_check: the callback that stops the sweep at a result without an objective.
        evaluate_as_trials_end: the callback that evaluates each trial on test as it ends
            (:mod:`sweeps.driver.early_test`); after the status callback, which records how the trial ended.
        unreported: a resume's checkpoints whose reports no record holds, with the step of the last recorded
            report, by trial folder (each trial reports its own again, and those before it the records lack:
            :func:`~sweeps.ledger.recover.unreported_checkpoints`).
    """
    settings = plan.settings
    keep_credentials_out_of_trials()  # else Ray's runtime env agent logs them
    trials_without_tune_env()  # a trial's worker starts without Ray's setup_worker.py step
    new_trials_where_the_run_is()  # a resumed run's trials still to come are written where it is now
    one_request_per_small_upload()  # in S3, a small file in one request, not a multipart upload's three
    trainable = tune.with_parameters(run_trial, space=plan.space, base=plan.base, shared=dict(shared),
                                     trial_timeout=settings.trial_timeout, plugins=settings.plugins,
                                     unreported=dict(unreported or {}))
    trainable = tune.with_resources(trainable, {"cpu": settings.cpus_per_trial, "gpu": gpus_per_trial})
    space = plan.space
    if settings.config:
        param_space = fixed_param_space(list(plan.trials))
    else:
        param_space = grid_param_space(space, settings.seeds) if plan.search == "grid" else sampled_param_space(space)
    # a storage path is written through a filesystem whose files appear whole (a killed copy cut them short)
    filesystem = None if settings.remote_storage else atomic_local_filesystem()
    if settings.resume and experiment_saved(plan.run_dir):  # else the driver died before Ray saved anything
        return tune.Tuner.restore(plan.run_dir, trainable=trainable, resume_unfinished=True,
                                  resume_errored=settings.retry_failed, param_space=param_space,
                                  storage_filesystem=filesystem)
    metric_columns = {"step": "step", plan.metric: plan.metric.split("/")[-1], "stop_reason": "stop"}
    reporter = tune.CLIReporter(
        metric_columns=metric_columns,
        parameter_columns=list(param_space),
        sort_by_metric=True,
        max_report_frequency=30,
        max_column_length=28,
        # Ray's default follows its process-wide verbosity, which the previous sweep in the same process set
        print_intermediate_tables=settings.verbose >= 1,
    )
    scheduler = build_scheduler(plan)
    run_config = tune.RunConfig(
        name=settings.name,
        storage_path=settings.space_dir,
        storage_filesystem=filesystem,
        failure_config=tune.FailureConfig(max_failures=settings.max_failures),
        # Ray keeps the checkpoint of the best validation evaluation and always the latest one (to resume from), on
        # the storage a retry or --resume reads; the best is evaluated on test once the trial has ended
        # (analysis.evaluate_test), with restore_core.run_files.select_report's rule, which is this ordering's.
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=plan.metric,
                                                checkpoint_score_order=plan.mode),
        # with a storage URI, trials write TensorBoard files into their working directory; upload it with results
        sync_config=tune.SyncConfig(sync_artifacts=True),
        callbacks=[ResultJsonLogger(), ProgressCsvLogger(), TrialStatusCallback(scheduler),
                   *mlflow_callbacks(plan, settings.mlflow),
                   *([ProgressCallback(plan)] if settings.verbose >= 1 else []), SnapshotBundle(),
                   *([objectives_check] if objectives_check else []), *timeline_callbacks(),
                   *([evaluate_as_trials_end] if evaluate_as_trials_end else [])],
        progress_reporter=reporter,
        verbose=settings.verbose,
    )
    tune_config = tune.TuneConfig(
        metric=plan.metric,
        mode=plan.mode,
        search_alg=build_searcher(plan, keep_study=True),
        scheduler=scheduler,
        num_samples=plan.num_samples,
        max_concurrent_trials=settings.max_concurrent,
        # A finished trial's worker takes the next trial: no new process importing torch, torchmetrics and Ray
        # again (benchmarks/overhead.py measures what that saves); release_memory() runs between trials.
        reuse_actors=not settings.fresh_workers,
        trial_dirname_creator=lambda trial: folder_name(space, trial.trial_id, trial.config),
    )
    return tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config)
