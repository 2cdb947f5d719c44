"""What the driver prints when a sweep ends: the verdict, the best trial, the results table and where everything is.

The verdict and the table are the analysis's (``analysis.outputs.analyse``), so the summary and the files say the
same thing; the best trial is the best of the trials that trained to the end, as the table's ranking.
"""

from __future__ import annotations

import dataclasses
import math
import os

import pandas as pd

import analysis
from analysis.format import to_markdown
from analysis.load import INFEASIBLE, lower_is_better
from analysis.remote import local_run
from analysis.rows import value_column


def best_trial(frame: pd.DataFrame, metric: str, mode: str | None) -> pd.Series | None:
    """The trial with the best finite reported value (``test/<name>``, else ``best/<metric>``) among those that
    trained their whole budget and whose numbers measure their configuration: not one stopped early, nor one that
    failed, diverged (NaN) or collapsed, which the tables count as infeasible (None: no such trial)."""
    key = value_column(frame, metric) if not frame.empty else f"best/{metric}"
    if key not in frame:
        return None
    values = pd.to_numeric(frame[key], errors="coerce")
    budget = pd.to_numeric(frame.get("budget", pd.Series(1.0, index=frame.index)), errors="coerce")
    usable = ~frame["status"].isin(INFEASIBLE) & values.map(math.isfinite) & (budget >= 1)
    if not usable.any():
        return None
    values = values[usable]
    return frame.loc[values.idxmin() if lower_is_better(metric, mode) else values.idxmax()]


def print_summary(run_dir: str) -> None:
    """The verdict, the best trial, the main table and the run's files (a run in object storage read from there)."""
    with local_run(run_dir) as local:
        _print_summary(local, run_dir)


def _print_summary(run_dir: str, shown: str) -> None:
    result = analysis.analyse(run_dir)  # imports SciPy's statistics and Plotly, once the sweep has ended
    frame, metric = result.frame, result.metric
    key = value_column(frame, metric) if not frame.empty else f"best/{metric}"
    best = best_trial(frame, metric, result.mode)
    print()
    print(result.verdict)
    print()
    if best is None:
        print(f"best trial: none; no trial trained to the end with a finite {key.removeprefix('best/')} without "
              f"failing, diverging or collapsing ({len(frame)} trial{'s' if len(frame) != 1 else ''} in the run)")
    else:
        step = int(best.get("best/step", 0))
        if key.startswith("test/"):
            said = f"{key} = {best[key]:.4f}, the checkpoint of step {step} (selected on {metric})"
        else:
            said = f"{metric} = {best[key]:.4f} at step {step} (validation; not evaluated on test)"
        print(f"best trial: {best['label']} (seed {best['seed']}): {said}")
    print(to_markdown(dataclasses.replace(result.tables["table"][0], intro=[])))
    print(f"run directory: {shown}")
    for name in ("results.csv", "table.md", "report.html"):
        if os.path.exists(os.path.join(run_dir, name)):
            print(f"  {name}")
    print(f"  tensorboard --logdir {shown}")
