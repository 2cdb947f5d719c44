"""A sweep from its options to its results: plan (resolve and validate), check, start Ray, run, write the tables.

    options ─ plan_sweep ─> SweepPlan ─ check_sweep ─> (checked, nothing written) ─ execute ─> run dir, ResultGrid
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
from collections.abc import Mapping
from typing import Any

import ray
from ray import tune

import analysis
from analysis.evaluate_test import evaluate_run_on_test
from analysis.remote import local_run
from restore_core.cli import Interrupted
from restore_core.errors import DataError, UserError
from restore_core.fingerprint import data_fingerprint
from restore_core.io import json_excerpt, write_json_atomic, write_json_uri
from restore_core.loop import SharedData, prepare_shared_data
from restore_core.plugins import load_plugins, module_name_of_file, record_of, record_of_loaded, reload_plugins
from restore_core.registry import user_registrations
from restore_core.schema import data_key, validate_config
from restore_core.tasks import get_task
from restore_core.timeline import mark
from search_spaces import SearchSpace, find_space, list_spaces
from search_spaces.registry import is_space_ref
from sweeps.cluster.code import as_submitted
from sweeps.cluster.connect import check_local_start, start_ray, stop_in_background
from sweeps.cluster.disk import stop_on_full_disk
from sweeps.cluster.gpu_share import auto_gpu_share
from sweeps.cluster.storage import check_new_run_dir, check_run_dir_writable, create_run_dir, storage_warnings
from sweeps.driver.early_test import EvaluateAsTrialsEnd, early_test_evaluation
from sweeps.driver.interrupt import fit_or_interrupt, resume_advice
from sweeps.driver.mlflow_log import require_mlflow
from sweeps.driver.objectives_check import ObjectivesCheck, fit_checking_objectives
from sweeps.driver.tuner import build_tuner
from sweeps.ledger.recover import prepare_run_to_resume
from sweeps.ledger.resume import check_trial_ends, find_run, read_manifest
from sweeps.settings.manifest import build_manifest, record_resume
from sweeps.settings.options import SweepOptions
from sweeps.settings.plan import SweepPlan, build_plan
from sweeps.settings.recorded import RESTORE, recorded_plugins, recorded_settings
from sweeps.settings.resolve import resolve_settings


def plan_sweep(options: SweepOptions) -> SweepPlan:
    """The sweep ``options`` ask for, resolved (against the space, and on ``--resume`` against the run's manifest)
    and validated: every config known in advance is checked here, before anything starts. The user's code is
    loaded first (``--import``, the ``restore_sweeps.plugins`` entry points, a ``FILE.py:NAME`` space) and recorded.

    Raises:
        UserError: bad options, an unknown space, a config that is not valid; on a resume, no such run, or a
            manifest (``DataError``) or option that does not fit the run.
    """
    options.check()
    if options.resume:
        return _plan_resume(options)
    plugins = load_plugins(options.plugins)
    if not options.space:
        raise UserError(f"--space is required; known: {', '.join(list_spaces())}")
    space, space_ref, record = find_space(options.space)
    plugins = user_code(plugins + ([record] if record else []), space, options.sets)
    return build_plan(resolve_settings(options, space, plugins=plugins, space_ref=space_ref), space)


def _plan_resume(options: SweepOptions) -> SweepPlan:
    space = options.space
    if space and is_space_ref(space):  # the run's folder is named by the space's own name
        space = find_space(space)[0].name
    run_dir, manifest = find_run(options.value("storage"), options.name, space)
    path = os.path.join(run_dir, "manifest.json")
    recorded = recorded_settings(manifest, path)
    with local_run(run_dir) as records:  # a run in object storage: its records read from there
        check_trial_ends(records)
    # the files given again first: where the recorded ones are not (a cluster's node), their copies load by name
    given = load_plugins(options.plugins)
    reload_plugins(recorded_plugins(manifest, path), path)
    space, space_ref, _ = find_space(manifest.get("space_ref") or manifest["space"])
    plugins = user_code(list(recorded_plugins(manifest, path)) + given, space, recorded.get("sets") or {})
    settings = resolve_settings(options, space, recorded, plugins=plugins, space_ref=space_ref)
    try:
        return build_plan(settings, space)
    except UserError as err:  # a manifest edited by hand, or a config key renamed since the run started
        key = "options.sets" if "options" in manifest else "overrides"
        raise DataError(f"--resume: {path}: {key} {json_excerpt(settings.sets)} (the run's --set values, on profile "
                        f"{settings.profile}) make no valid config: {err}{RESTORE}") from None


def user_code(records: list[dict], space: SearchSpace, sets: Mapping[str, Any]) -> tuple[dict, ...]:
    """The plugins loaded, and after them every module outside the project that registered a part this sweep names
    (a model, task, loss, metric or the space) without being loaded as one (a module the user's script imported
    itself), so that the workers, a resume and an analysis load it too. Each once; in a Ray job, those it took along
    as the files they were submitted from (:func:`sweeps.cluster.code.as_submitted`)."""
    loaded = {record["name"] for record in records}
    named = names_in(space, sets)
    for module in dict.fromkeys(module for name, module in user_registrations() if name in named):
        if module in loaded:
            continue
        if module == "__main__":  # a script that registered parts itself: the workers import it as a module
            if not getattr(sys.modules["__main__"], "__file__", None):
                raise UserError("parts registered in an interactive session cannot reach Ray's workers; define them "
                                "in a .py file and pass it with plugins=[...] (sweeps/run.py --import FILE.py)")
            main = record_of(sys.modules["__main__"], "file", "__main__")
            records.append({**main, "name": module_name_of_file(main["path"])})
        else:
            records.append(record_of_loaded(module))
        loaded.add(module)
    return as_submitted(records)  # a job's copies of the user's files recorded as the files they were sent from


def names_in(space: SearchSpace, sets: Mapping[str, Any]) -> set[str]:
    """Every name the sweep's configs can hold: the space's, and the keys and strings of its base config, profiles,
    rows, parameter values and the ``--set`` values (model, task, loss and metric names among them)."""
    found = {space.name}

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            found.update(str(key) for key in value)
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)
        elif isinstance(value, str):
            found.add(value)

    walk([space.base, space.profiles, [row.overrides for row in space.rows], dict(sets)])
    walk([[param.grid, param.choices] for param in space.params])
    return found


def check_data(plan: SweepPlan) -> None:
    """The data checks that read no data (folders, list files and names exist and pair up), once per data config,
    through the task's ``check_data``; loading the data (:func:`prepare_data`) checks the rest."""
    checked = set()
    for config in plan.configs():
        cfg = validate_config(config)
        if data_key(cfg) not in checked:
            checked.add(data_key(cfg))
            get_task(cfg.task_name).check_data(cfg)


def prepare_data(plan: SweepPlan) -> dict[str, SharedData]:
    """Build the data of the base config and of every grid trial whose data config differs, once each, in the
    driver: missing, corrupt or too small data fails here, before Ray starts, and trials share the arrays."""
    shared: dict[str, SharedData] = {}
    for config in plan.configs():
        key = data_key(validate_config(config))
        if key not in shared:
            shared[key] = prepare_shared_data(config)
    return shared


def gpu_request(plan: SweepPlan) -> float | None:
    """The GPU share asked for: ``--gpus-per-trial``, or for ``auto`` (None) none when every trial trains on CPU."""
    wanted = plan.settings.gpus_per_trial
    return 0.0 if wanted is None and plan.cpu_only() else wanted


def check_sweep(plan: SweepPlan) -> float | None:
    """Every check of a planned sweep that reads no data and starts nothing: the storage, the data's folders and
    lists, and for a local Ray its GPUs, CPUs and dashboard port. It writes nothing (a probe of the storage is removed
    again). ``--dry-run`` stops after it. Returns the GPU share each trial takes on a local Ray (None: a cluster's
    nodes decide it once connected)."""
    if plan.settings.mlflow:
        require_mlflow(plan.settings.mlflow)
    if plan.settings.resume:
        check_run_dir_writable(plan.run_dir)
    else:
        check_new_run_dir(plan.run_dir, plan.settings.storage)
    check_data(plan)
    return check_local_start(plan.settings, gpu_request(plan), plan.asks_for_cuda())


def execute(plan: SweepPlan, argv: list[str] | None = None,
            stop_own_ray: bool = False) -> tuple[str, tune.ResultGrid]:
    """Run (or resume) a checked plan and write its results. Returns the run directory and Ray Tune's results.

    Every check that can fail on bad input (:func:`plan_sweep`, :func:`check_sweep`; then the data, as they are
    loaded) runs before Ray starts (on an existing cluster, the GPU request right after connecting) and before
    anything is written, so a bad command leaves the disk, and an existing run directory, as they were.

    Ctrl-C (SIGINT) or SIGTERM stops the sweep with Ray's last save of the experiment and raises
    :class:`~restore_core.cli.Interrupted` (see :func:`~sweeps.driver.interrupt.fit_or_interrupt`): a partial run gets
    no tables, and ``--resume`` continues it.

    Args:
        plan: the sweep, planned and checked.
        argv: the command line, recorded in the manifest.
        stop_own_ray: once the trials have ended, stop the local Ray this call started (``sweeps/run.py``, whose
            process ends with the sweep), beside the test evaluation and the tables; a Ray that was running before
            (a cluster, a notebook's, a test session's) is left as it is.
    """
    settings = plan.settings
    local_share = check_sweep(plan)
    existed = os.path.exists(plan.run_dir)
    ray_was_up = ray.is_initialized()

    def again() -> str:  # once its manifest is written, a run goes on with --resume, even before its first trial
        manifest = not settings.remote_storage and os.path.exists(os.path.join(plan.run_dir, "manifest.json"))
        return resume_advice(settings) if manifest else "run the command again"

    check = ObjectivesCheck(plan.objectives)
    try:
        with stop_on_full_disk(plan.run_dir, again):
            tuner, shared, early = _start(plan, argv or [], gpu_request(plan) if local_share is None else local_share,
                                          check)
    except KeyboardInterrupt:  # before any trial started: a new run leaves nothing behind
        if not existed and os.path.isdir(plan.run_dir):
            shutil.rmtree(plan.run_dir, ignore_errors=True)  # it holds only what this command wrote
        raise Interrupted(signal.SIGINT, resume_advice(settings) if settings.resume else
                          "no trial had started; run the command again") from None
    mark("driver: fit")
    try:
        with stop_on_full_disk(plan.run_dir, resume_advice(settings)):
            results = fit_checking_objectives(lambda: fit_or_interrupt(tuner, resume_advice(settings)), check)
    except BaseException:
        if early is not None:  # the evaluation under way is finished (and kept); the queued ones are resume's
            early.finish(cancel=True)
        raise
    stopping = stop_in_background() if stop_own_ray and not ray_was_up else None
    try:
        _evaluate_and_tabulate(plan, shared, early)
    finally:
        if stopping is not None:
            stopping.join()
    return plan.run_dir, results


def _evaluate_and_tabulate(plan: SweepPlan, shared: dict[str, SharedData], early: EvaluateAsTrialsEnd | None) -> None:
    """After the trials: the test evaluation of their selected checkpoints (those not evaluated as they ended), then
    the tables and the report."""
    settings = plan.settings
    if settings.remote_storage:  # the checkpoints are there: a local copy's python -m analysis evaluates them
        print(f"the test evaluation of the selected checkpoints runs when a copy of {plan.run_dir} on this machine is "
              "analysed (python -m analysis RUN_DIR)", file=sys.stderr)
    else:
        evaluate = ("evaluate its trials on test and write its tables with python -m analysis "
                    f"{shlex.quote(plan.run_dir)}")
        try:
            with stop_on_full_disk(plan.run_dir, evaluate):
                mark("driver: test evaluation")
                if early is not None and early.finish().evaluated:
                    print(early.describe(), file=sys.stderr)
                evaluate_run_on_test(plan.run_dir, shared, eval_sets=early.eval_sets if early else None)
                mark("driver: tested")
        except KeyboardInterrupt:
            raise Interrupted(signal.SIGINT, f"the sweep had ended; {evaluate}") from None
    if settings.analyze:
        tables = f"write its tables with python -m analysis {shlex.quote(plan.run_dir)}"
        print(f"writing the tables and the report of {plan.run_dir}", file=sys.stderr, flush=True)  # seconds to minutes
        try:
            with stop_on_full_disk(plan.run_dir, tables):
                analysis.write_outputs(plan.run_dir)  # imports SciPy's statistics and Plotly, for the tables only
        except KeyboardInterrupt:
            raise Interrupted(signal.SIGINT, f"the sweep had ended; {tables}") from None


def _start(plan: SweepPlan, argv: list[str], wanted_gpus: float | None,
           check: ObjectivesCheck) -> tuple[tune.Tuner, dict[str, SharedData], EvaluateAsTrialsEnd | None]:
    """Everything between the checks and the first trial: the data, Ray, the run directory and its manifest, and the
    Tuner (new, or the run's restored); returns the Tuner and the prepared data (the test evaluation reuses it)."""
    settings = plan.settings
    mark("driver: checked")
    shared = prepare_data(plan)
    mark("driver: data")
    manifest_path = os.path.join(plan.run_dir, "manifest.json")
    if settings.resume:
        manifest = read_manifest(manifest_path)
        record_resume(manifest, settings, argv)
    else:
        manifest = build_manifest(plan, argv)  # before Ray: it records the GPUs asked for
        # what a rerun of one configuration (python -m analysis's reproduce/) checks it trained on
        manifest["data_fingerprint"] = data_fingerprint(shared[data_key(validate_config(plan.base))].data)

    info, gpus_per_trial = start_ray(settings, wanted_gpus)  # on a cluster, it checks the request against the nodes
    mark("driver: ray")
    if settings.gpus_per_trial is None and not settings.resume and gpus_per_trial > 0:
        # auto on a GPU: a probe trial measures the share; recorded as the share asked for, so that a resume runs
        # its trials with the same share (the checks before Ray started used a provisional one)
        gpus_per_trial = auto_gpu_share(plan.configs(), shared)
        manifest["resources_per_trial"]["gpu"] = manifest["options"]["gpus_per_trial"] = gpus_per_trial
    if not settings.resume and not settings.remote_storage:
        create_run_dir(plan.run_dir, settings.storage)
    manifest.setdefault("resources_per_trial", {})["gpu_used"] = gpus_per_trial
    if info.nodes > 1 and not settings.remote_storage:
        for warning in storage_warnings(settings.storage, info.nodes):
            print(f"warning: {warning}", file=sys.stderr)
    unreported = prepare_run_to_resume(plan.run_dir, settings.retry_failed) if settings.resume else {}
    if settings.remote_storage:  # beside Ray's files there
        write_json_uri(manifest_path, manifest)
    else:
        write_json_atomic(manifest_path, manifest)
    early = early_test_evaluation(plan.run_dir, shared, settings.remote_storage)
    return build_tuner(plan, shared, gpus_per_trial, check, early, unreported), shared, early
