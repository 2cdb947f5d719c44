"""Ray Tune objects for a planned sweep: the searcher, the scheduler and the Tuner (new or restored)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ray import tune
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback
from ray.tune.schedulers import FIFOScheduler

from restore_core.loop import SharedData
from sweeps.cluster.atomic_fs import atomic_local_filesystem
from sweeps.driver.asha import RecheckingASHA
from sweeps.driver.domains import grid_param_space, sampled_param_space
from sweeps.driver.mlflow_log import mlflow_callbacks
from sweeps.driver.progress import ProgressCallback
from sweeps.driver.tb_summaries import folder_name
from sweeps.driver.trainable import run_trial
from sweeps.ledger.recover import SnapshotBundle, experiment_saved
from sweeps.ledger.status import TrialStatusCallback
from sweeps.ray_private import keep_credentials_out_of_trials


def startup_trials(configurations: int) -> int:
    """How many of TPE's (or the GP's) configurations are drawn at random before it models the results: Optuna's
    default of ten would leave a budget of ten configurations (a grid's worth) entirely random, so a third of the
    budget, 2 to 10 (benchmarks/early_stopping.py measures what this changes)."""
    return max(2, min(10, configurations // 3))


def build_searcher(plan, keep_study: bool = False):
    """``grid``: every configuration of the study. ``random``/``optuna``/``gp``: Optuna's random, TPE or
    Gaussian-process sampler (seeded by ``--search-seed``), each configuration repeated over ``--seeds`` seeds
    (Ray's Repeater, which reports their mean to the sampler). ``keep_study``: the Optuna study in the run
    directory's journal (:func:`~sweeps.driver.optuna_live.study_storage`), else in memory."""
    if plan.search == "grid":
        return None
    import optuna  # lazy: Optuna and Ray's wrapper of it take a second to import, and only sampled searches use them

    from sweeps.driver.optuna_live import SeedRepeater, StepOptunaSearch, study_storage  # lazy: imports Optuna

    options = plan.options
    seed = options.search_seed
    startup = startup_trials(plan.num_samples // options.seeds)
    if plan.search == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif plan.search == "gp":  # a Gaussian process over all the ranges; trials in flight enter its batch acquisition
        sampler = optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup)
    else:  # multivariate: the rate and the decay point are modelled together; constant liar: trials in flight count
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup, multivariate=True,
                                             constant_liar=True)
    searcher = StepOptunaSearch(metric=plan.space.metric, mode=plan.space.mode, sampler=sampler,
                                **(study_storage(plan) if keep_study else {}))
    if options.seeds > 1:
        searcher = SeedRepeater(searcher, repeat=options.seeds, set_index=True)
    return searcher


def asha_settings(plan) -> dict[str, Any]:
    """ASHA's ``max_t``, ``grace_period`` (in steps, a whole number of evaluations: rungs are judged when a trial
    reports), ``reduction_factor`` and ``recheck`` (see :mod:`sweeps.driver.asha`), from
    ``--asha-grace``/``--asha-reduction``/``--asha-recheck`` or the space's defaults."""
    options, space = plan.options, plan.space
    steps = plan.base["train"].get("steps", 1)
    eval_every = plan.base["train"].get("eval_every", 1)
    fraction = options.asha_grace if options.asha_grace is not None else space.asha_grace
    grace = max(eval_every, round(steps * fraction / eval_every) * eval_every)
    reduction = options.asha_reduction if options.asha_reduction is not None else space.asha_reduction
    recheck = options.asha_recheck if options.asha_recheck is not None else space.asha_recheck
    quorum = options.asha_quorum if options.asha_quorum is not None else space.asha_quorum
    noise = options.asha_noise if options.asha_noise is not None else space.asha_noise
    noise = None if noise == 0 else noise
    if noise is not None:  # the race keeps trials in step: no trial waits for a quorum at a rung
        quorum = 1
    return {"max_t": steps, "grace_period": min(grace, steps), "reduction_factor": reduction, "recheck": recheck,
            "quorum": quorum, "noise": noise}


def asha_rungs(grace: int, max_t: int, reduction: float) -> list[int]:
    """The steps at which Ray's ASHA judges trials: grace · reduction^k for k < log(max_t / grace) / log(reduction)
    + 1 (its bracket's milestones)."""
    count = int(math.log(max_t / grace) / math.log(reduction) + 1)
    return [int(grace * reduction**k) for k in range(count)]


def judged_steps(grace: int, max_t: int, reduction: float, eval_every: int) -> list[int]:
    """The steps at which a trial that trains to the end is judged at ASHA's rungs. Ray records a trial at a rung
    from its first report at or after the rung's milestone, one rung per report (the highest it has not been recorded
    at), and judges none at ``max_t``; trials report every ``eval_every`` steps and at the end. With a whole-number
    reduction these are the milestones below ``max_t``; otherwise a rung moves to the next evaluation, or is skipped
    when a later one takes that report."""
    count = int(math.log(max_t / grace) / math.log(reduction) + 1)
    milestones = sorted((grace * reduction**k for k in range(count)), reverse=True)
    recorded: set[float] = set()
    judged = []
    for step in range(eval_every, max_t, eval_every):
        milestone = next((m for m in milestones if step >= m and m not in recorded), None)
        if milestone is not None:
            recorded.add(milestone)
            judged.append(step)
    return judged


def describe_asha(plan) -> str:
    """ASHA's settings in words, for ``--dry-run``."""
    settings = asha_settings(plan)
    max_t = settings["max_t"]
    rungs = asha_rungs(settings["grace_period"], max_t, settings["reduction_factor"])
    judged = judged_steps(settings["grace_period"], max_t, settings["reduction_factor"],
                          plan.base["train"].get("eval_every", 1))
    if not judged:  # the grace period is the whole training: every trial ends before a rung could stop it
        return f"ASHA stops nothing: its first rung is the last step ({max_t}); lower --asha-grace or train longer"
    recheck = "; one let on stops once later trials at its rung outrank it" if settings["recheck"] else ""
    quorum, noise = settings["quorum"], settings["noise"]
    wait = (f"; one let on from a rung with fewer than {quorum} trials recorded waits there while others can start"
            if quorum > 1 else "")
    if noise is not None:
        sigma = "the noise measured as it runs" if noise == "auto" else f"{2 ** 0.5 * noise:.3g} (√2 × noise {noise:g})"
        wait = (f"; between rungs a trial stops once its best value trails another's at the same step by more than "
                f"{sigma}, and trials are kept in step")
    missing, last = len(rungs) - len(judged), ""
    if missing and float(settings["reduction_factor"]).is_integer():  # its last milestone is the last step
        last = " (its rung at the last step only ranks)"
    elif missing:  # rungs that no evaluation of their own reaches before the last step
        last = f" (of its {len(rungs)} rungs, {missing} {'is' if missing == 1 else 'are'} judged at no evaluation)"
    return (f"ASHA judges trials at steps {', '.join(map(str, judged))} of {max_t}{last} and lets the best "
            f"1/{settings['reduction_factor']:g} at each go on{recheck}{wait}")


def build_scheduler(plan):
    """``asha``: stop weak trials at rungs from the grace period on (time is counted in steps); Ray's ASHA, with the
    space's or the options' recheck and quorum, which also records a resumed sweep's trials at their rungs again."""
    if plan.scheduler == "fifo":
        return FIFOScheduler()
    return RecheckingASHA(time_attr="step", **asha_settings(plan))


def build_tuner(plan, shared: Mapping[str, SharedData]):
    """A new Tuner for the plan, or (``--resume``) the run's Tuner restored: trials that ended are kept, unfinished
    ones continue from their last checkpoint (and failed ones too with ``--retry-failed``)."""
    options = plan.options
    keep_credentials_out_of_trials()  # else Ray's runtime env agent logs them
    trainable = tune.with_parameters(run_trial, space=plan.space, base=plan.base, shared=dict(shared),
                                     trial_timeout=options.trial_timeout)
    trainable = tune.with_resources(trainable, {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial})
    space = plan.space
    param_space = grid_param_space(space, options.seeds) if plan.search == "grid" else sampled_param_space(space)
    # a storage path is written through a filesystem whose files appear whole (a killed copy cut them short)
    filesystem = None if options.is_remote_storage() else atomic_local_filesystem()
    if options.resume and experiment_saved(plan.run_dir):  # else the driver died before Ray saved anything
        return tune.Tuner.restore(plan.run_dir, trainable=trainable, resume_unfinished=True,
                                  resume_errored=options.retry_failed, param_space=param_space,
                                  storage_filesystem=filesystem)
    metric_columns = {"step": "step", plan.space.metric: plan.space.metric.split("/")[-1], "stop_reason": "stop"}
    reporter = tune.CLIReporter(
        metric_columns=metric_columns,
        parameter_columns=list(param_space),
        sort_by_metric=True,
        max_report_frequency=30,
        max_column_length=28,
        # Ray's default follows its process-wide verbosity, which the previous sweep in the same process set
        print_intermediate_tables=options.verbose >= 1,
    )
    scheduler = build_scheduler(plan)
    run_config = tune.RunConfig(
        name=options.name,
        storage_path=options.space_dir(),
        storage_filesystem=filesystem,
        failure_config=tune.FailureConfig(max_failures=options.max_failures),
        # Ray keeps the checkpoint of the best validation evaluation and always the latest one (to resume from), on
        # the storage a retry or --resume reads; the best is evaluated on test once the trial has ended
        # (analysis.evaluate_test), with restore_core.run_files.select_report's rule, which is this ordering's.
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1, checkpoint_score_attribute=plan.space.metric,
                                                checkpoint_score_order=plan.space.mode),
        # with a storage URI, trials write TensorBoard files into their working directory; upload it with results
        sync_config=tune.SyncConfig(sync_artifacts=True),
        callbacks=[JsonLoggerCallback(), CSVLoggerCallback(), TrialStatusCallback(scheduler),
                   *mlflow_callbacks(plan, options.mlflow),
                   *([ProgressCallback(plan)] if options.verbose >= 1 else []), SnapshotBundle()],
        progress_reporter=reporter,
        verbose=options.verbose,
    )
    tune_config = tune.TuneConfig(
        metric=plan.space.metric,
        mode=plan.space.mode,
        search_alg=build_searcher(plan, keep_study=True),
        scheduler=scheduler,
        num_samples=plan.num_samples,
        max_concurrent_trials=options.max_concurrent,
        # A finished trial's worker takes the next trial: no new process importing torch, torchmetrics and Ray
        # again (benchmarks/overhead.py measures what that saves); release_memory() runs between trials.
        reuse_actors=not options.fresh_workers,
        trial_dirname_creator=lambda trial: folder_name(space, trial.trial_id, trial.config),
    )
    return tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config)
