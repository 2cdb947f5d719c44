"""``manifest.json``: everything needed to know what a run was and to run it again."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import subprocess
import sys
import time
from typing import Any

from restore_core.metrics import metric_definitions
from sweeps.settings.plan import SweepPlan
from sweeps.settings.resolve import RunSettings

PACKAGES = ("torch", "ray", "optuna", "torchmetrics", "numpy", "pandas", "scikit-image", "opencv-python-headless",
            "plotly", "tensorboard")


def git_commit() -> dict[str, Any]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    try:
        commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain"], capture_output=True, text=True, timeout=10)
        return {"commit": commit.stdout.strip() or None, "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def build_manifest(plan: SweepPlan, argv: list[str]) -> dict[str, Any]:
    """The manifest of a new run: what it is, the settings it runs with (what ``--resume`` reads back through
    :func:`~sweeps.settings.resolve.resolve_settings`), the user's code it loads, and the versions it ran on."""
    space, settings = plan.space, plan.settings
    return {
        "space": space.name,
        "space_ref": settings.space_ref,  # FILE.py:NAME or module:NAME of a space from the user's code
        "plugins": list(settings.plugins),  # loaded again by --resume, --retry-failed and python -m analysis
        "description": space.description,
        "reproduces": space.reproduces,
        "reading": space.reading,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python", "sweeps/run.py", *argv]),
        "profile": settings.profile,
        "overrides": settings.sets,
        "search": settings.search,
        "scheduler": settings.scheduler,
        "asha": plan.asha.kwargs() if plan.asha else None,
        "seeds": settings.seeds,
        "num_samples": plan.num_samples,
        "trials_planned": len(plan.trials) or plan.num_samples,
        "resources_per_trial": {"cpu": settings.cpus_per_trial, "gpu": settings.gpus_per_trial},
        "trial_timeout_s": settings.trial_timeout,
        "max_failures": settings.max_failures,
        "options": settings.record(),  # what --resume rebuilds the run from
        "metric": plan.metric,  # the first objective: the tables rank on it, and it selects the checkpoints
        "mode": plan.mode,
        "objectives": [{"metric": o.metric, "mode": o.mode} for o in plan.objectives],
        "scientific": list(space.scientific),
        "nuisance": list(space.nuisance),
        "fixed": list(space.fixed),
        "baseline": space.baseline,
        "pairs": [dataclasses.asdict(p) for p in space.pairs],
        "base_config": plan.base,
        "data": plan.base.get("data", {}),
        "git": git_commit(),
        "packages": package_versions(),
        "metric_definitions": metric_definitions(plan.base),
        # how the seed study computed its numbers, and where that differs from the run's own definitions
        "study_metric_convention": space.study_metrics,
    }


def record_resume(manifest: dict[str, Any], settings: RunSettings, argv: list[str]) -> None:
    """What a resume changes in the run's manifest: the command that resumed it, the trial time-out it runs with
    (so that a ``--trial-timeout`` given on a resume stays for the resumes after it), and the user's code it loads."""
    manifest.setdefault("resumed", []).append(" ".join(argv))
    manifest["trial_timeout_s"] = settings.trial_timeout
    if isinstance(manifest.get("options"), dict):  # the record a later resume rebuilds the run from
        manifest["options"]["trial_timeout"] = settings.trial_timeout
    manifest["plugins"] = list(settings.plugins)
