"""What the driver prints when a sweep ends: the best trial, the results table and where everything is."""

from __future__ import annotations

import math
import os

import pandas as pd

from analysis.load import INFEASIBLE, load_run, load_space, lower_is_better, manifest_value, read_manifest


def best_trial(frame: pd.DataFrame, metric: str, mode: str | None) -> pd.Series | None:
    """The trial with the best finite ``best/<metric>`` among those whose numbers measure their configuration: not
    one that failed, diverged (NaN) or collapsed, which the tables count as infeasible (None: no such trial)."""
    key = f"best/{metric}"
    if key not in frame:
        return None
    values = pd.to_numeric(frame[key], errors="coerce")
    usable = ~frame["status"].isin(INFEASIBLE) & values.map(math.isfinite)
    if not usable.any():
        return None
    values = values[usable]
    return frame.loc[values.idxmin() if lower_is_better(metric, mode) else values.idxmax()]


def print_summary(run_dir: str) -> None:
    manifest = read_manifest(run_dir)
    space = load_space(manifest)
    frame = load_run(run_dir)
    metric, mode = manifest_value(manifest, space, "metric"), manifest_value(manifest, space, "mode")
    best = best_trial(frame, metric, mode)
    print()
    if best is None:
        print(f"best trial: none; no trial reported a finite {metric} without failing, diverging or collapsing "
              f"({len(frame)} trial{'s' if len(frame) != 1 else ''} in the run)")
    else:
        print(f"best trial: {best['label']} (seed {best['seed']}): {metric} = {best[f'best/{metric}']:.4f} at step "
              f"{int(best.get('best/step', 0))}")
    table = os.path.join(run_dir, "table.md")
    if os.path.exists(table):
        with open(table, encoding="utf-8") as handle:
            print(handle.read())
    print(f"run directory: {run_dir}")
    for name in ("results.csv", "table.md", "report.html"):
        if os.path.exists(os.path.join(run_dir, name)):
            print(f"  {name}")
    print(f"  tensorboard --logdir {run_dir}")
