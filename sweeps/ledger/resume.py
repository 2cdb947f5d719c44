"""``--resume``: find the run a killed driver left behind and continue it with the settings it started with."""

from __future__ import annotations

import glob
import json
import os
from typing import Any

from analysis.remote import folders, is_file, is_uri, local_run
from restore_core.errors import DataError, UserError
from restore_core.io import json_excerpt, read_json_object
from sweeps.ledger.retry import rerun_by_ray
from sweeps.ledger.status import (
    STATUS_FILE,
    TIMEOUT_FILE,
    ray_trial_states,
    read_status,
    read_timeout,
)
from sweeps.settings.options import (
    DEFAULT_SEARCH_SEED,
    KEPT_BY_RAY,
    RECORDED,
    SweepOptions,
    default_num_samples,
)
from sweeps.settings.recorded import MISSING, RESTORE, bad_value, check_option

MANIFEST_FORMAT = "a run's manifest.json is the JSON object sweeps/run.py writes into every run directory it starts"
def find_run(options: SweepOptions) -> tuple[str, dict[str, Any]]:
    """The run directory and manifest of ``--name`` under ``--storage`` (in ``--space`` when given).

    Raises:
        UserError: no such run, a run of another space, or the name used by several spaces without ``--space``.
    """
    found = manifests_named(options.storage, options.name)
    if options.space:
        path = found.get(options.space)
        if path is None:
            others = ", ".join(sorted(found))
            if others:
                raise UserError(f"--resume: run '{options.name}' belongs to space {others}, not '{options.space}'")
            raise UserError(f"--resume: no run '{options.name}' of space '{options.space}' under "
                            f"{options.space_dir()} (no manifest.json); {_known_runs(options)}")
    elif len(found) == 1:
        path = next(iter(found.values()))
    elif not found:
        raise UserError(f"--resume: no run named '{options.name}' under {os.path.abspath(options.storage)}; "
                        f"{_known_runs(options)}")
    else:
        raise UserError(f"--resume: spaces {', '.join(sorted(found))} each have a run named '{options.name}'; "
                        "pass --space to say which")
    manifest = read_manifest(path)
    recorded_space = manifest.get("space")
    folder_space = path.rsplit("/", 3)[-3]
    if recorded_space != folder_space:
        raise UserError(f"--resume: run '{options.name}' under '{folder_space}/' belongs to space '{recorded_space}'")
    return path.rsplit("/", 1)[0], manifest


def manifests_named(storage: str, name: str) -> dict[str, str]:
    """The manifest of each run called ``name`` under ``storage`` (a path or a URI), by its space."""
    if is_uri(storage):
        root = storage.rstrip("/")
        manifests = {space: f"{root}/{space}/{name}/manifest.json" for space in folders(root)}
        return {space: path for space, path in manifests.items() if is_file(path)}
    pattern = os.path.join(os.path.abspath(storage), "*", name, "manifest.json")
    return {os.path.basename(os.path.dirname(os.path.dirname(p))): p for p in sorted(glob.glob(pattern))}


def read_manifest(path: str) -> dict[str, Any]:
    """A run's ``manifest.json``: a JSON object naming the run's space, with its options (when recorded) an object.

    Raises:
        DataError: the file cannot be read, is not UTF-8 JSON, or is JSON of another shape.
    """
    try:
        manifest = read_json_object(path, MANIFEST_FORMAT)
    except DataError as err:
        raise DataError(f"--resume: {err}") from None
    if manifest is None:
        raise DataError(f"--resume: {path} is gone; {MANIFEST_FORMAT}")
    if not isinstance(manifest.get("space"), str) or not isinstance(manifest.get("options", {}), dict):
        raise DataError(f"--resume: {path} has no 'space' name, or its 'options' is not an object; {MANIFEST_FORMAT}")
    # a resume adds to these two before it starts Ray
    if not isinstance(manifest.get("resources_per_trial", {}), dict):
        raise bad_value(path, "resources_per_trial", manifest["resources_per_trial"],
                         'an object like {"cpu": 1.0, "gpu": 0.0}')
    resumed = manifest.get("resumed", [])
    if not isinstance(resumed, list) or not all(isinstance(command, str) for command in resumed):
        raise bad_value(path, "resumed", resumed, "a list of the command lines that resumed the run")
    return manifest


def _known_runs(options: SweepOptions) -> str:
    if is_uri(options.storage):
        root = options.storage.rstrip("/")
        runs = [f"{space}/{run}" for space in folders(root) for run in folders(f"{root}/{space}")
                if is_file(f"{root}/{space}/{run}/manifest.json")]
    else:
        runs = sorted(os.path.relpath(os.path.dirname(p), os.path.abspath(options.storage)) for p in
                      glob.glob(os.path.join(os.path.abspath(options.storage), "*", "*", "manifest.json")))
    return f"runs there: {', '.join(runs[:10])}" if runs else "there are no runs there"


def recorded_options(manifest: dict[str, Any], path: str) -> dict[str, Any]:
    """The options that defined the run's trials, from its manifest at ``path``, each checked like the command
    line's (an option the manifest does not record keeps the command line's value).

    Raises:
        DataError: a recorded value that no run can have, naming the manifest, the key and what it accepts.
    """
    space = manifest["space"]
    if "options" in manifest:
        options = manifest["options"]
        if options.get("space", space) != space:
            raise bad_value(path, "options.space", options["space"], f"{json.dumps(space)}, the run's space")
        recorded = {key: check_option(path, f"options.{key}", key, options[key])
                    for key in RECORDED if key in options and key != "space"}
        return {"space": space, **recorded}
    # a manifest written before the options were recorded whole
    resources = manifest.get("resources_per_trial", {})
    recorded = {"space": space}
    for key, option, value in (
        ("profile", "profile", manifest.get("profile", MISSING)),
        ("search", "search", manifest.get("search", MISSING)),
        ("scheduler", "scheduler", manifest.get("scheduler", MISSING)),
        ("seeds", "seeds", manifest.get("seeds", 1)),
        ("overrides", "sets", manifest.get("overrides", {})),
        ("resources_per_trial.cpu", "cpus_per_trial", resources.get("cpu", 1.0)),
        ("resources_per_trial.gpu", "gpus_per_trial", resources.get("gpu", 0.0)),
    ):
        recorded[option] = check_option(path, key, option, value)
    total = check_option(path, "num_samples", "num_samples", manifest.get("num_samples", 1))
    recorded["num_samples"] = None if recorded["search"] == "grid" else (total or 1) // recorded["seeds"]
    return recorded


def resolve_recorded(recorded: dict[str, Any]) -> dict[str, Any]:
    """The recorded options with each None ("the space's default") replaced by the value the run used, so that a
    resume command may repeat a setting the run took from its space (``--scheduler asha`` on an lsid_lr run)."""
    import search_spaces

    space = search_spaces.get_space(recorded["space"])
    resolved = dict(recorded)
    for key in ("search", "scheduler", "asha_grace", "asha_reduction", "asha_recheck", "asha_quorum", "asha_noise"):
        if resolved.get(key) is None:
            resolved[key] = getattr(space, key)
    sampled = resolved["search"] != "grid"
    if resolved.get("num_samples") is None and sampled:
        resolved["num_samples"] = default_num_samples(space)
    if resolved.get("search_seed") is None and sampled:
        resolved["search_seed"] = DEFAULT_SEARCH_SEED
    return resolved


def prepare_resume(options: SweepOptions, given: dict[str, Any]) -> str:
    """Point ``options`` at the run to continue and restore its settings; returns the run directory.

    Args:
        options: the parsed command line (``resume`` set).
        given: the trial-defining options the user typed on this command line; any that differs from the run's
            own is an error, since a resumed run must go on exactly as it started.
    """
    run_dir, manifest = find_run(options)
    path = os.path.join(run_dir, "manifest.json")
    recorded = recorded_options(manifest, path)
    recorded_whole = manifest.get("options", {})
    kept = {key: check_option(path, f"options.{key}", key, recorded_whole[key])
            for key in KEPT_BY_RAY if key in recorded_whole}
    timeout = check_option(path, "trial_timeout_s", "trial_timeout", manifest.get("trial_timeout_s"))
    with local_run(run_dir) as records:  # a run in object storage: its records read from there
        check_trial_ends(records)
    resolved = {**resolve_recorded(recorded), **kept}
    changed = [key for key, value in given.items() if key in resolved and value != resolved[key]]
    if changed:
        key = changed[0]
        flag = "--set" if key == "sets" else f"--{key.replace('_', '-')}"
        raise UserError(f"--resume continues run '{options.name}' with the settings it started with; {flag} "
                        f"differs ({resolved[key]!r} recorded, {given[key]!r} given): drop it, or start a new --name")
    options.restore_recorded(recorded)
    _check_recorded_config(path, "options.sets" if "options" in manifest else "overrides", options, resolved["search"])
    for key, value in kept.items():
        setattr(options, key, value)
    if options.trial_timeout is None:  # the limit goes on unless the resume command sets another
        options.trial_timeout = timeout
    return run_dir


def _check_recorded_config(path: str, key: str, options: SweepOptions, search: str) -> None:
    """The run's profile and ``--set`` values (``key`` in its manifest) still make a valid config: a manifest edited
    by hand, or a config key renamed since the run started, is named here, not refused later as if typed on this
    command line."""
    import search_spaces
    from restore_core.schema import validate_config

    try:
        validate_config(search_spaces.get_space(options.space).base_config(options.profile, options.sets, search,
                                                                         options.seeds))
    except UserError as err:
        raise DataError(f"--resume: {path}: {key} {json_excerpt(options.sets)} (the run's --set values, on profile "
                        f"{options.profile}) make no valid config: {err}{RESTORE}") from None


def check_trial_ends(run_dir: str) -> None:
    """Read how each trial of the run ended (``status.json``) and any time-out it recorded, so that a corrupt one is
    refused before anything starts, not in the middle of the resumed sweep.

    Raises:
        DataError: a trial's ``status.json`` or ``timeout.json``, or Ray's snapshot of the experiment, is not what
            the sweep (or Ray) writes.
    """
    for path in sorted(glob.glob(os.path.join(run_dir, "*", STATUS_FILE)) +
                       glob.glob(os.path.join(run_dir, "*", TIMEOUT_FILE))):
        read = read_status if os.path.basename(path) == STATUS_FILE else read_timeout
        try:
            read(os.path.dirname(path))
        except DataError as err:
            raise DataError(f"--resume: {err}") from None
    try:
        ray_trial_states(run_dir)  # which failed trials --retry-failed can run again
    except DataError as err:
        raise DataError(f"--resume: {err}") from None


def describe_remaining(plan) -> list[str]:
    """The ``--dry-run --resume`` listing: how many trials of the run ended and which ones a resume runs (on from
    their last checkpoint, not started yet, or failed ones again with ``--retry-failed``)."""
    with local_run(plan.run_dir) as run_dir:  # a run in object storage: its records read from there
        return _describe_remaining(plan, run_dir)


def _describe_remaining(plan, run_dir: str) -> list[str]:
    started, held = [], ray_trial_states(run_dir)
    for path in sorted(glob.glob(os.path.join(run_dir, "*", "params.json"))):
        try:
            with open(path, encoding="utf-8") as handle:
                params = json.load(handle)
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            params = None  # Ray writes it when the trial starts; a driver killed then can leave it cut short
        folder = os.path.dirname(path)
        started.append((params if isinstance(params, dict) else {}, read_status(folder),
                        rerun_by_ray(held, os.path.basename(folder))))
    retry = plan.options.retry_failed
    ended = [params for params, status, _ in started if status is not None]
    failed = [(params, rerun) for params, status, rerun in started if status and status.get("status") == "error"]
    runs = [(params, "on from its last checkpoint") for params, status, _ in started if status is None]
    runs += [(params, "again from its last checkpoint (--retry-failed)") for params, rerun in failed if retry and rerun]
    planned, proposed = len(plan.trials), 0
    if plan.trials:
        runs += [(trial, "not started yet") for trial in plan.trials
                 if not any(all(params.get(k) == v for k, v in trial.items()) for params, *_ in started)]
    else:  # the searcher proposes the rest, from what it learnt from the ended trials
        planned = plan.num_samples
        proposed = max(planned - len(started), 0)
    kept = ", kept as they are; add --retry-failed to run them again" if failed and not retry else ""
    to_run = len(runs) + proposed
    lines = [f"resume: {len(ended)} of {planned} trials ended ({len(failed)} failed{kept}), "
             + (f"{to_run} to run:" if to_run else "nothing to run")]
    for params, how in runs:
        lines.append(f"  {_trial_line(plan, params)}: {how}")
    if proposed:
        lines.append(f"  {proposed} not started yet, proposed by {plan.search}")
    held_ended = [params for params, rerun in failed if retry and not rerun]
    if held_ended:
        lines.append(f"{len(held_ended)} failed trial(s) that --retry-failed cannot run again (Ray holds them as "
                     "TERMINATED), kept as they are:")
        lines.extend(f"  {_trial_line(plan, params)}" for params in held_ended)
    return lines


def _trial_line(plan, params: dict[str, Any]) -> str:
    from search_spaces.space import SEED_KEY, TRIAL_INDEX_KEY

    return f"{plan.space.label(params)}  (seed {params.get(SEED_KEY, params.get(TRIAL_INDEX_KEY, 0))})"
