"""Ray Tune objects for a planned sweep: the cluster connection, searcher, scheduler, callbacks and the Tuner."""

from __future__ import annotations

import os
import sys
from typing import Any

from restore_core.errors import UserError
from restore_core.io import write_json_atomic
from restore_core.loop import SharedData

# Our own TensorBoard writer logs scalars and images per trial; Ray's TBX logger would write a second copy.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the classic progress table with our columns
os.environ.setdefault("RAY_DEDUP_LOGS", "1")


def start_ray(plan) -> None:
    """Connect to ``--address`` or start a local Ray with its dashboard on loopback; print the dashboard URL."""
    import ray
    import torch

    options = plan.options
    if options.gpus_per_trial > 0 and options.address is None:
        available = torch.cuda.device_count()
        if available == 0:
            print(f"notice: no GPU on this machine; --gpus-per-trial {options.gpus_per_trial:g} ignored, "
                  "trials run on CPU", file=sys.stderr)
            options.gpus_per_trial = 0.0
        elif options.gpus_per_trial > available:
            raise UserError(f"--gpus-per-trial {options.gpus_per_trial:g} is more than the {available} GPU(s) here; "
                            f"use a value in (0, {available}] (fractions pack trials on one GPU)")
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"log_to_driver": options.verbose > 1, "configure_logging": True, "logging_level": "ERROR"}
    if options.address:
        context = ray.init(address=options.address, **kwargs)
    else:
        context = ray.init(include_dashboard=True, dashboard_host=options.dashboard_host,
                           dashboard_port=options.dashboard_port, **kwargs)
    url = getattr(context, "dashboard_url", None)
    if url:
        print(f"Ray dashboard: http://{url}", flush=True)


def build_searcher(plan):
    """``grid``: every configuration of the study. ``random``/``optuna``: Optuna's random or TPE sampler, each
    configuration repeated over ``--seeds`` seeds (Ray's Repeater, which reports their mean to the sampler)."""
    if plan.search == "grid":
        return None
    import optuna
    from ray.tune.search import Repeater
    from ray.tune.search.optuna import OptunaSearch

    sampler = optuna.samplers.RandomSampler(seed=0) if plan.search == "random" else optuna.samplers.TPESampler(seed=0)
    searcher = OptunaSearch(metric=plan.space.metric, mode=plan.space.mode, sampler=sampler)
    if plan.options.seeds > 1:
        searcher = Repeater(searcher, repeat=plan.options.seeds, set_index=True)
    return searcher


def build_scheduler(plan):
    """``asha``: stop weak trials at rungs from ``asha_grace`` of training on (time is counted in steps)."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if plan.scheduler == "fifo":
        return FIFOScheduler()
    steps = plan.base["train"].get("steps", 1)
    eval_every = plan.base["train"].get("eval_every", 1)
    grace = max(eval_every, int(steps * plan.space.asha_grace) // eval_every * eval_every)
    return ASHAScheduler(time_attr="step", max_t=steps, grace_period=min(grace, steps), reduction_factor=3)


class TrialStatusCallback:
    """Writes ``status.json`` into each trial folder when the trial ends, so a run directory tells finished,
    early-stopped and failed trials apart (a trial without it never ended: the driver died first)."""

    def __new__(cls, *args, **kwargs):  # subclass Ray's Callback lazily, so importing this module needs no Ray
        from ray import tune

        class _Callback(tune.Callback):
            def on_trial_complete(self, iteration, trials, trial, **info):
                _write_status(trial, "terminated", None)

            def on_trial_error(self, iteration, trials, trial, **info):
                _write_status(trial, "error", _error_line(trial))

        return _Callback()


def _write_status(trial, status: str, error: str | None) -> None:
    path = trial.local_path
    if path and os.path.isdir(path):
        write_json_atomic(os.path.join(path, "status.json"), {"status": status, "error": error})


def _error_line(trial) -> str:
    """The last line of the trial's traceback: the exception and its message."""
    for name in ("error.txt",):
        candidate = os.path.join(trial.local_path or "", name)
        if os.path.exists(candidate):
            with open(candidate, encoding="utf-8", errors="replace") as handle:
                lines = [line.strip() for line in handle if line.strip()]
            return lines[-1] if lines else "error"
    return str(getattr(trial, "error_msg", None) or "error")


def build_tuner(plan, shared: SharedData):
    from ray import tune
    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    from restore_core.sweep.trainable import run_trial

    options = plan.options
    trainable = tune.with_parameters(run_trial, space_name=plan.space.name, base=plan.base, shared=shared)
    trainable = tune.with_resources(trainable, {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial})
    param_space = plan.space.grid_param_space(options.seeds) if plan.search == "grid" else plan.space.sampled_param_space()
    if options.resume:
        return tune.Tuner.restore(plan.run_dir, trainable=trainable, resume_unfinished=True, resume_errored=False,
                                  param_space=param_space)
    metric_columns = {"step": "step", plan.space.metric: plan.space.metric.split("/")[-1], "stop_reason": "stop"}
    reporter = tune.CLIReporter(
        metric_columns=metric_columns,
        parameter_columns=list(param_space),
        sort_by_metric=True,
        max_report_frequency=30,
        max_column_length=28,
    )
    run_config = tune.RunConfig(
        name=options.name,
        storage_path=options.space_dir(),
        failure_config=tune.FailureConfig(max_failures=options.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        callbacks=[JsonLoggerCallback(), CSVLoggerCallback(), TrialStatusCallback()],
        progress_reporter=reporter,
        verbose=options.verbose,
    )
    tune_config = tune.TuneConfig(
        metric=plan.space.metric,
        mode=plan.space.mode,
        search_alg=build_searcher(plan),
        scheduler=build_scheduler(plan),
        num_samples=plan.num_samples,
        max_concurrent_trials=options.max_concurrent,
        trial_dirname_creator=lambda trial: f"{trial.trial_id}",
    )
    return tune.Tuner(trainable, param_space=param_space, tune_config=tune_config, run_config=run_config)
