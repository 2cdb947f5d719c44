"""Build and run a Ray Tune sweep of a named space: plan, validate, run, write the results."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from restore_core.errors import UserError
from restore_core.io import write_json_atomic
from restore_core.loop import prepare_shared_data
from restore_core.schema import validate_config
from restore_core.sweep.manifest import build_manifest
from restore_core.sweep.options import SweepOptions


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


def plan_sweep(options: SweepOptions) -> SweepPlan:
    """Resolve the space, profile and overrides; validate every config that is known in advance."""
    import search_spaces

    options.check()
    space = search_spaces.get_space(options.space)
    search = options.search or space.search
    scheduler = options.scheduler or space.scheduler
    base = space.base_config(options.profile, options.sets)
    base.setdefault("train", {})
    if "threads" not in base["train"]:
        base["train"]["threads"] = max(1, int(options.cpus_per_trial))
    validate_config(base)
    trials: list[dict[str, Any]] = []
    if search == "grid":
        trials = space.grid_trials(options.seeds)
        for trial in trials:
            validate_config(space.resolve(base, trial))
        num_samples = 1
    else:
        if not space.sampled_param_space():
            raise UserError(f"space '{space.name}' declares no ranges to sample; use --search grid")
        num_samples = (options.num_samples or max(len(space.rows), 8)) * options.seeds
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
    if plan.trials:
        lines.append(f"{len(plan.trials)} trials:")
        for i, trial in enumerate(plan.trials):
            lines.append(f"  {i + 1:3d}. {plan.space.label(trial)}  (seed {trial.get('seed', 0)})")
    else:
        lines.append(f"{plan.num_samples} trials proposed by {plan.search} from:")
        for key, domain in plan.space.sampled_param_space().items():
            lines.append(f"  {key}: {domain}")
    lines.append("base config: " + json.dumps(plan.base, sort_keys=True))
    return "\n".join(lines)


def check_storage(plan: SweepPlan) -> None:
    """The run directory must be creatable and writable, and must not hold another run unless resuming."""
    if "://" in plan.options.storage:
        return
    run_dir = plan.run_dir
    manifest = os.path.join(run_dir, "manifest.json")
    if plan.options.resume:
        if not os.path.exists(manifest):
            raise UserError(f"--resume: no run '{plan.options.name}' of space '{plan.space.name}' under "
                            f"{plan.options.space_dir()} (no manifest.json)")
        with open(manifest, encoding="utf-8") as handle:
            recorded = json.load(handle).get("space")
        if recorded != plan.space.name:
            raise UserError(f"--resume: run '{plan.options.name}' belongs to space '{recorded}', not '{plan.space.name}'")
        return
    if os.path.exists(run_dir) and os.listdir(run_dir):
        raise UserError(f"run directory {run_dir} already exists; pass --resume to continue it or another --name")
    try:
        os.makedirs(run_dir, exist_ok=True)
        probe = os.path.join(run_dir, ".write-test")
        with open(probe, "w", encoding="utf-8") as handle:
            handle.write("ok")
        os.unlink(probe)
    except OSError as err:
        raise UserError(f"storage path {plan.options.storage} is not writable: {err.strerror}") from None


def run_sweep(options: SweepOptions, argv: list[str] | None = None):
    """Run (or resume) the sweep and write the results. Returns the run directory."""
    from restore_core.sweep.tuner import build_tuner, start_ray

    plan = plan_sweep(options)
    check_storage(plan)
    start_ray(plan)
    manifest_path = os.path.join(plan.run_dir, "manifest.json")
    if plan.options.resume:
        with open(manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
        manifest.setdefault("resumed", []).append(" ".join(argv or []))
    else:
        manifest = build_manifest(plan, argv or [])
    write_json_atomic(manifest_path, manifest)
    shared = prepare_shared_data(plan.base)
    tuner = build_tuner(plan, shared)
    tuner.fit()
    if options.analyze:
        from analysis import write_outputs

        write_outputs(plan.run_dir)
    return plan.run_dir
