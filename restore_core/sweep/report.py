"""What the driver prints when a sweep ends: the best trial, the results table and where everything is."""

from __future__ import annotations

import os

from analysis.load import load_run, load_space, lower_is_better, manifest_value, read_manifest


def print_summary(run_dir: str) -> None:
    manifest = read_manifest(run_dir)
    space = load_space(manifest)
    frame = load_run(run_dir)
    metric, mode = manifest_value(manifest, space, "metric"), manifest_value(manifest, space, "mode")
    key = f"best/{metric}"
    print()
    if key in frame and frame[key].notna().any():
        index = frame[key].idxmin() if lower_is_better(metric, mode) else frame[key].idxmax()
        best = frame.loc[index]
        print(f"best trial: {best['label']} (seed {best['seed']}): {metric} = {best[key]:.4f} at step "
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
