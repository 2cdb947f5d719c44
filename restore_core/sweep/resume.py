"""``--resume``: find the run a killed driver left behind and continue it with the settings it started with."""

from __future__ import annotations

import glob
import json
import os
from typing import Any

from restore_core.errors import UserError
from restore_core.sweep.options import RECORDED, SweepOptions
from restore_core.sweep.status import STATUS_FILE, TIMEOUT_FILE, read_status


def find_run(options: SweepOptions) -> tuple[str, dict[str, Any]]:
    """The run directory and manifest of ``--name`` under ``--storage`` (in ``--space`` when given).

    Raises:
        UserError: no such run, a run of another space, or the name used by several spaces without ``--space``.
    """
    if options.is_remote_storage():
        raise UserError(f"--resume reads the run's manifest from a local or mounted path; got '{options.storage}' "
                        "(mount the bucket, e.g. with s3fs, and pass that path)")
    pattern = os.path.join(os.path.abspath(options.storage), "*", options.name, "manifest.json")
    found = {os.path.basename(os.path.dirname(os.path.dirname(p))): p for p in sorted(glob.glob(pattern))}
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
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    recorded_space = manifest.get("space")
    folder_space = os.path.basename(os.path.dirname(os.path.dirname(path)))
    if recorded_space != folder_space:
        raise UserError(f"--resume: run '{options.name}' under '{folder_space}/' belongs to space '{recorded_space}'")
    return os.path.dirname(path), manifest


def _known_runs(options: SweepOptions) -> str:
    runs = sorted(os.path.relpath(os.path.dirname(p), os.path.abspath(options.storage)) for p in
                  glob.glob(os.path.join(os.path.abspath(options.storage), "*", "*", "manifest.json")))
    return f"runs there: {', '.join(runs[:10])}" if runs else "there are no runs there"


def recorded_options(manifest: dict[str, Any]) -> dict[str, Any]:
    """The options that defined the run's trials, from its manifest."""
    if "options" in manifest:
        return {k: v for k, v in manifest["options"].items() if k in RECORDED}
    resources = manifest.get("resources_per_trial", {})
    return {  # manifests written before the options were recorded whole
        "space": manifest["space"], "profile": manifest.get("profile"), "search": manifest.get("search"),
        "scheduler": manifest.get("scheduler"), "seeds": manifest.get("seeds", 1),
        "sets": manifest.get("overrides", {}), "cpus_per_trial": resources.get("cpu", 1.0),
        "gpus_per_trial": resources.get("gpu", 0.0),
        "num_samples": None if manifest.get("search") == "grid" else
        manifest.get("num_samples", 1) // max(manifest.get("seeds", 1), 1),
    }


def prepare_resume(options: SweepOptions, given: dict[str, Any]) -> str:
    """Point ``options`` at the run to continue and restore its settings; returns the run directory.

    Args:
        options: the parsed command line (``resume`` set).
        given: the trial-defining options the user typed on this command line; any that differs from the run's
            own is an error, since a resumed run must go on exactly as it started.
    """
    run_dir, manifest = find_run(options)
    recorded = recorded_options(manifest)
    changed = [key for key, value in given.items() if key in recorded and value != recorded[key]]
    if changed:
        key = changed[0]
        flag = "--set" if key == "sets" else f"--{key.replace('_', '-')}"
        raise UserError(f"--resume continues run '{options.name}' with the settings it started with; {flag} "
                        f"differs ({recorded[key]!r} recorded, {given[key]!r} given): drop it, or start a new --name")
    options.restore_recorded(recorded)
    if options.trial_timeout is None:  # the limit goes on unless the resume command sets another
        options.trial_timeout = manifest.get("trial_timeout_s")
    return run_dir


def clear_failed(run_dir: str) -> list[str]:
    """Forget the end of every failed trial (``--retry-failed``), so that it runs again from its last checkpoint."""
    cleared = []
    for path in sorted(glob.glob(os.path.join(run_dir, "*", STATUS_FILE))):
        status = read_status(os.path.dirname(path))
        if status and status.get("status") == "error":
            trial_dir = os.path.dirname(path)
            for name in (STATUS_FILE, TIMEOUT_FILE, "error.txt", "error.pkl"):  # Ray's error files too
                if os.path.exists(os.path.join(trial_dir, name)):
                    os.unlink(os.path.join(trial_dir, name))
            cleared.append(os.path.basename(trial_dir))
    return cleared
