"""Build and run a Ray Tune sweep of a named space: plan, validate, run, write the results."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
from dataclasses import dataclass
from typing import Any

from restore_core.errors import UserError
from restore_core.io import write_json_atomic, write_json_uri
from restore_core.loop import SharedData, prepare_shared_data
from restore_core.schema import data_key, validate_config
from sweeps.cluster.disk import stop_on_full_disk
from sweeps.cluster.storage import check_new_run_dir, check_run_dir_writable, create_run_dir, storage_warnings
from sweeps.driver.domains import describe_domain, sampled_param_space
from sweeps.driver.interrupt import Interrupted, fit_or_interrupt, resume_advice
from sweeps.ledger.recover import prepare_run_to_resume
from sweeps.ledger.resume import describe_remaining, prepare_resume, read_manifest
from sweeps.settings.manifest import build_manifest, record_resume
from sweeps.settings.options import ASHA_OPTIONS, DEFAULT_SEARCH_SEED, SweepOptions, default_num_samples


@dataclass
class SweepPlan:
    """What will run: the resolved base config and the search settings."""

    options: SweepOptions
    space: Any
    base: dict
    search: str
    scheduler: str
    num_samples: int
    trials: list[dict[str, Any]]  # the grid's trials; for sampled searches, empty (the searcher proposes them)

    @property
    def run_dir(self) -> str:
        return os.path.join(self.options.space_dir(), self.options.name)


def _space_default(space, given: str | None) -> str:
    """Where a setting came from, for an error message: nothing when the command line gave it."""
    return "" if given else f" (the space {space.name!r} defaults to it)"


def _given_asha_options(options: SweepOptions) -> list[str]:
    """The ASHA options the command line set, as typed (``--no-asha-recheck`` for a False)."""
    given = []
    for name in ASHA_OPTIONS:
        value = getattr(options, name)
        if value is not None:
            given.append(f"--{'no-' if value is False else ''}{name.replace('_', '-')}")
    return given


def plan_sweep(options: SweepOptions) -> SweepPlan:
    """Resolve the space, profile and overrides; validate every config that is known in advance."""
    import search_spaces

    options.check()
    if not options.space:
        raise UserError(f"--space is required; known: {', '.join(search_spaces.list_spaces())}")
    space = search_spaces.get_space(options.space)
    search = options.search or space.search
    scheduler = options.scheduler or space.scheduler
    asha_options = _given_asha_options(options)
    if asha_options and scheduler != "asha":
        named = " and ".join(filter(None, [", ".join(asha_options[:-1]), asha_options[-1]]))
        raise UserError(f"{named} only appl{'ies' if len(asha_options) == 1 else 'y'} to ASHA, "
                        f"but this run's scheduler is {scheduler}"
                        f"{_space_default(space, options.scheduler)}; add --scheduler asha or leave them out")
    base = space.base_config(options.profile, options.sets, search=search, seeds=options.seeds)
    train = base.setdefault("train", {})
    if isinstance(train, dict) and "threads" not in train:  # a train that is no section fails validation next
        train["threads"] = max(1, int(options.cpus_per_trial))
    validate_config(base)
    trials: list[dict[str, Any]] = []
    if search == "grid":
        if options.num_samples is not None:
            raise UserError(f"--num-samples sets how many configurations random/optuna/gp search proposes, but this "
                            f"run's search is grid{_space_default(space, options.search)}, which runs the study's "
                            f"{len(space.rows)} rows; add --search optuna or leave it out")
        if options.search_seed is not None and not options.resume:
            raise UserError(f"--search-seed seeds the configurations random/optuna/gp search proposes, but this run's "
                            f"search is grid{_space_default(space, options.search)}, which proposes none; add "
                            f"--search optuna or leave it out")
        trials = space.grid_trials(options.seeds)
        for trial in trials:
            validate_config(space.resolve(base, trial))
        num_samples = 1
    else:
        if not sampled_param_space(space):
            raise UserError(f"space '{space.name}' declares no ranges to sample; use --search grid")
        num_samples = (options.num_samples or default_num_samples(space)) * options.seeds
        if options.search_seed is None:
            options.search_seed = DEFAULT_SEARCH_SEED
    options.run_name(search, scheduler)
    return SweepPlan(options, space, base, search, scheduler, num_samples, trials)


def describe_plan(plan: SweepPlan) -> str:
    """The ``--dry-run`` listing: the trials (or the ranges the searcher samples) and the base config."""
    lines = [
        f"space {plan.space.name}: {plan.space.description}",
        f"profile {plan.options.profile}, search {plan.search}, scheduler {plan.scheduler}, "
        f"metric {plan.space.metric} ({plan.space.mode})",
        f"run directory: {plan.run_dir}",
    ]
    if plan.scheduler == "asha":
        from sweeps.driver.tuner import describe_asha

        lines.append(describe_asha(plan))
    if plan.options.resume:
        lines.extend(describe_remaining(plan))
    elif plan.trials:
        lines.append(f"{len(plan.trials)} trials:")
        for i, trial in enumerate(plan.trials):
            lines.append(f"  {i + 1:3d}. {plan.space.label(trial)}  (seed {trial.get('seed', 0)})")
    else:
        lines.append(f"{plan.num_samples} trials proposed by {plan.search} (search seed {plan.options.search_seed}) "
                     "from:")
        for key, domain in sampled_param_space(plan.space).items():
            lines.append(f"  {key}: {describe_domain(domain)}")
    timeout = describe_trial_timeout(plan)
    if timeout:
        lines.append(timeout)
    lines.append("base config: " + json.dumps(plan.base, sort_keys=True))
    return "\n".join(lines)


def describe_trial_timeout(plan: SweepPlan) -> str | None:
    """``--trial-timeout`` in words for ``--dry-run``; on a resume, also whether it is the limit the run recorded or
    a new one, which the resume records for the resumes after it (None: a new run without a limit)."""
    limit = plan.options.trial_timeout
    said = "none" if limit is None else f"{limit:g} s per attempt"
    if not plan.options.resume:
        return None if limit is None else f"trial time-out: {said}"
    recorded = read_manifest(os.path.join(plan.run_dir, "manifest.json")).get("trial_timeout_s")
    if limit == recorded:
        return f"trial time-out: {said}, as the run recorded"
    was = "none" if recorded is None else f"{recorded:g} s"
    return f"trial time-out: {said} (the run had {was}); the resume records it in manifest.json for later resumes too"


def plan_configs(plan: SweepPlan) -> list[dict]:
    """The configs known before the sweep runs: the base config and every grid trial's."""
    return [plan.base] + [plan.space.resolve(plan.base, trial) for trial in plan.trials]


def check_data(plan: SweepPlan) -> None:
    """The data checks that read no data (folders, list files and names exist and pair up), once per data config,
    through the task's ``check_data``; loading the data (:func:`prepare_data`) checks the rest."""
    from restore_core.tasks import get_task

    checked = set()
    for config in plan_configs(plan):
        cfg = validate_config(config)
        if data_key(cfg) not in checked:
            checked.add(data_key(cfg))
            get_task(cfg.task_name).check_data(cfg)


def prepare_data(plan: SweepPlan) -> dict[str, SharedData]:
    """Build the data of the base config and of every grid trial whose data config differs, once each, in the
    driver: missing, corrupt or too small data fails here, before Ray starts, and trials share the arrays."""
    shared: dict[str, SharedData] = {}
    for config in plan_configs(plan):
        key = data_key(validate_config(config))
        if key not in shared:
            shared[key] = prepare_shared_data(config)
    return shared


def asks_for_cuda(plan: SweepPlan) -> str | None:
    """Which known config sets ``train.device=cuda`` (the base config, or a grid trial by its label); None: none."""
    if plan.base["train"].get("device") == "cuda":
        return "the base config"
    for trial in plan.trials:
        if plan.space.resolve(plan.base, trial)["train"].get("device") == "cuda":
            return f"trial '{plan.space.label(trial)}'"
    return None


def runs_on_cpu_only(plan: SweepPlan) -> bool:
    """Whether every known config sets ``train.device=cpu`` (then ``--gpus-per-trial auto`` takes no GPU)."""
    if plan.base["train"].get("device") != "cpu":
        return False
    return all(plan.space.resolve(plan.base, trial)["train"].get("device") == "cpu" for trial in plan.trials)


def check_sweep(options: SweepOptions, given: dict[str, Any] | None = None) -> SweepPlan:
    """Every check of a sweep that reads no data and starts nothing: the options, the run to resume, the space and
    its configs, the storage, the data's folders and lists, and for a local Ray its GPUs and dashboard port. It
    writes nothing (a probe of the storage is removed again). ``--dry-run`` stops after it.

    Args:
        options: the sweep's options.
        given: with ``--resume``, the trial-defining options typed on the command line (see
            :func:`~sweeps.ledger.resume.prepare_resume`).
    """
    from sweeps.cluster.connect import check_local_start

    options.check()
    if options.mlflow:
        from sweeps.driver.mlflow_log import require_mlflow

        require_mlflow(options.mlflow)
    if options.resume:
        prepare_resume(options, given or {})
    plan = plan_sweep(options)
    if options.resume:
        check_run_dir_writable(plan.run_dir)
    else:
        check_new_run_dir(plan.run_dir, options.storage)
    check_data(plan)
    if options.gpus_per_trial is None and runs_on_cpu_only(plan):
        options.gpus_per_trial = 0.0
    check_local_start(options, asks_for_cuda(plan))
    return plan


def run_sweep(options: SweepOptions, argv: list[str] | None = None, given: dict[str, Any] | None = None) -> str:
    """Run (or resume) the sweep and write the results. Returns the run directory.

    Every check that can fail on bad input (options, space, configs, storage, GPUs: :func:`check_sweep`; then the
    data, as they are loaded) runs before Ray starts (on an existing cluster, the GPU request right after
    connecting) and before anything is written, so a bad command leaves the disk, and an existing run directory, as
    they were.

    Ctrl-C (SIGINT) or SIGTERM stops the sweep with Ray's last save of the experiment and raises
    :class:`~sweeps.driver.interrupt.Interrupted` (see :func:`~sweeps.driver.interrupt.fit_or_interrupt`):
    a partial run gets no tables, and ``--resume`` continues it.

    Args:
        options: the sweep's options.
        argv: the command line, recorded in the manifest.
        given: with ``--resume``, the trial-defining options typed on the command line (see
            :func:`~sweeps.ledger.resume.prepare_resume`).
    """
    # auto (a resume keeps the share its run recorded); the checks put in a provisional share
    probe_gpu_share = options.gpus_per_trial is None and not options.resume
    plan = check_sweep(options, given)
    existed = os.path.exists(plan.run_dir)

    def again() -> str:  # once its manifest is written, a run goes on with --resume, even before its first trial
        manifest = not options.is_remote_storage() and os.path.exists(os.path.join(plan.run_dir, "manifest.json"))
        return resume_advice(options) if manifest else "run the command again"

    try:
        with stop_on_full_disk(plan.run_dir, again):
            tuner, shared = _start(plan, argv, probe_gpu_share)
    except KeyboardInterrupt:  # before any trial started: a new run leaves nothing behind
        if not existed and os.path.isdir(plan.run_dir):
            shutil.rmtree(plan.run_dir, ignore_errors=True)  # it holds only what this command wrote
        raise Interrupted(signal.SIGINT, resume_advice(options) if options.resume else
                          "no trial had started; run the command again") from None
    with stop_on_full_disk(plan.run_dir, resume_advice(options)):
        fit_or_interrupt(tuner, resume_advice(options))
    if options.is_remote_storage():  # the checkpoints are there: a local copy's python -m analysis evaluates them
        print(f"the test evaluation of the selected checkpoints runs when a copy of {plan.run_dir} on this machine is "
              "analysed (python -m analysis RUN_DIR)", file=sys.stderr)
    else:
        from analysis.evaluate_test import evaluate_run_on_test

        evaluate = ("evaluate its trials on test and write its tables with python -m analysis "
                    f"{shlex.quote(plan.run_dir)}")
        try:
            with stop_on_full_disk(plan.run_dir, evaluate):
                evaluate_run_on_test(plan.run_dir, shared)
        except KeyboardInterrupt:
            raise Interrupted(signal.SIGINT, f"the sweep had ended; {evaluate}") from None
    if options.analyze:
        from analysis import write_outputs

        tables = f"write its tables with python -m analysis {shlex.quote(plan.run_dir)}"
        print(f"writing the tables and the report of {plan.run_dir}", file=sys.stderr, flush=True)  # seconds to minutes
        try:
            with stop_on_full_disk(plan.run_dir, tables):
                write_outputs(plan.run_dir)
        except KeyboardInterrupt:
            raise Interrupted(signal.SIGINT, f"the sweep had ended; {tables}") from None
    return plan.run_dir


def _start(plan, argv: list[str] | None, probe_gpu_share: bool = False):
    """Everything between the checks and the first trial: the data, Ray, the GPU share of ``--gpus-per-trial auto``
    (``probe_gpu_share``), the run directory and its manifest, and the Tuner (new, or the run's restored); returns the
    Tuner and the prepared data (the test evaluation reuses it)."""
    from sweeps.cluster.connect import start_ray
    from sweeps.driver.tuner import build_tuner

    options = plan.options
    shared = prepare_data(plan)
    manifest_path = os.path.join(plan.run_dir, "manifest.json")
    if options.resume:
        manifest = read_manifest(manifest_path)
        record_resume(manifest, options, argv or [])
    else:
        manifest = build_manifest(plan, argv or [])  # before Ray: it records the GPUs asked for

    info = start_ray(options)  # on a cluster, it checks the GPU request against the nodes
    if probe_gpu_share and options.gpus_per_trial > 0:
        from sweeps.cluster.gpu_share import auto_gpu_share

        options.gpus_per_trial = auto_gpu_share(plan_configs(plan), shared)
        # recorded as the share asked for, so that a resume runs its trials with the same share
        manifest["resources_per_trial"]["gpu"] = manifest["options"]["gpus_per_trial"] = options.gpus_per_trial
    if not options.resume and not options.is_remote_storage():
        create_run_dir(plan.run_dir, options.storage)
    manifest.setdefault("resources_per_trial", {})["gpu_used"] = options.gpus_per_trial
    if info.nodes > 1 and not options.is_remote_storage():
        for warning in storage_warnings(options.storage, info.nodes):
            print(f"warning: {warning}", file=sys.stderr)
    if options.resume:
        prepare_run_to_resume(plan.run_dir, options.retry_failed)
    if options.is_remote_storage():  # beside Ray's files there
        write_json_uri(manifest_path, manifest)
    else:
        write_json_atomic(manifest_path, manifest)
    return build_tuner(plan, shared), shared
