"""``manifest.json``: everything needed to know what a run was and to run it again."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import os
import subprocess
import sys
import time
from typing import Any

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


def metric_definitions(base_config: dict | None = None) -> dict[str, str]:
    """The definitions of the metrics the run's trials compute: its PSNR/SSIM convention and UQI as configured."""
    from restore_core.metrics import metric_definitions as definitions

    return definitions(base_config)


def build_manifest(plan, argv: list[str]) -> dict[str, Any]:
    from sweeps.driver.tuner import asha_settings

    space = plan.space
    options = plan.options
    return {
        "space": space.name,
        "description": space.description,
        "reproduces": space.reproduces,
        "reading": space.reading,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join(["python", "sweeps/run.py", *argv]),
        "profile": options.profile,
        "overrides": options.sets,
        "search": plan.search,
        "scheduler": plan.scheduler,
        "asha": asha_settings(plan) if plan.scheduler == "asha" else None,
        "seeds": options.seeds,
        "num_samples": plan.num_samples,
        "trials_planned": len(plan.trials) or plan.num_samples,
        "resources_per_trial": {"cpu": options.cpus_per_trial, "gpu": options.gpus_per_trial},
        "trial_timeout_s": options.trial_timeout,
        "max_failures": options.max_failures,
        "options": options.record(),  # what --resume rebuilds the run from
        "metric": space.metric,
        "mode": space.mode,
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


def record_resume(manifest: dict[str, Any], options, argv: list[str]) -> None:
    """What a resume changes in the run's manifest: the command that resumed it, and the trial time-out it runs
    with, so that a ``--trial-timeout`` given on a resume stays for the resumes after it."""
    manifest.setdefault("resumed", []).append(" ".join(argv))
    manifest["trial_timeout_s"] = options.trial_timeout
    if isinstance(manifest.get("options"), dict):  # the record a later resume rebuilds the run from
        manifest["options"]["trial_timeout"] = options.trial_timeout
