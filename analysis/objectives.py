"""A run's objectives (``--objective``, in its manifest) and the configurations on their Pareto front.

A configuration is Pareto-optimal when no other configuration is at least as good on every objective and better on
one. Only comparable rows are compared: the ranked ones (completed, trained to the same number of steps), each by its
mean over seeds (the tables' value of a validation metric: test where the trials were evaluated on it; a cost: its
mean over the row's trials).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from analysis.load import COST_KEYS
from analysis.rows import Row, ranked, value_column
from restore_core.errors import DataError


def run_objectives(manifest: dict[str, Any], metric: str, mode: str) -> list[tuple[str, str]]:
    """The run's objectives as (metric, mode), first the run's metric; a run without ``objectives`` (single-objective,
    or from before they were recorded) has its metric alone."""
    objectives = [(o["metric"], o["mode"]) for o in manifest.get("objectives") or []]
    return objectives or [(metric, mode)]


def objective_column(frame: pd.DataFrame, metric: str) -> str:
    """The column of ``frame`` (one row per trial) holding ``metric``: the cost itself, else the tables' value."""
    return metric if metric in COST_KEYS else value_column(frame, metric)


def check_reported(path: str, frame: pd.DataFrame, objectives: Sequence[tuple[str, str]]) -> None:
    """Every objective must be a metric the trials report (when they reported anything).

    Raises:
        DataError: naming the manifest, the objective and the metrics the trials report.
    """
    if frame.empty or len(objectives) < 2:
        return
    for metric, _ in objectives:
        column = objective_column(frame, metric)
        if column not in frame or not pd.to_numeric(frame[column], errors="coerce").notna().any():
            known = sorted({c[5:] for c in frame.columns if c.startswith("best/val/")} | {c for c in COST_KEYS
                                                                                         if c in frame})
            raise DataError(f"{path}: objectives name {metric}, which no trial reports; the trials report "
                            f"{', '.join(known)}")


def nondominated(points: np.ndarray, lower: Sequence[bool]) -> np.ndarray:
    """Which of ``points`` (one row per point, one column per objective) no other point dominates: at least as good
    on every objective and better on one (of identical points, the first). ``lower[k]``: lower is better on column k.
    A point with a NaN is never on the front."""
    signed = np.where(np.asarray(lower, dtype=bool), points, -points).astype(float)
    finite = np.flatnonzero(np.isfinite(signed).all(axis=1))
    keep = np.zeros(len(signed), dtype=bool)
    others = signed[finite]
    for i in finite:
        at_least = (others <= signed[i]).all(axis=1)
        better = (others < signed[i]).any(axis=1) | ((others == signed[i]).all(axis=1) & (finite < i))
        keep[i] = not (at_least & better).any()
    return keep


def row_values(row: Row, frame: pd.DataFrame, objectives: Sequence[tuple[str, str]]) -> list[float]:
    """A row's value of each objective: the mean over seeds of the tables' value, or the mean cost."""
    values = []
    for metric, _ in objectives:
        column = objective_column(frame, metric)
        if metric in COST_KEYS:
            values.append(float(pd.to_numeric(row.trials.get(column), errors="coerce").mean()))
        else:
            values.append(float(row.estimate(column).mean))
    return values


def pareto_rows(rows: list[Row], frame: pd.DataFrame, objectives: Sequence[tuple[str, str]]) -> list[Row]:
    """The ranked rows on the Pareto front of ``objectives`` (none with fewer than two objectives)."""
    top = ranked(rows)
    if len(objectives) < 2 or not top:
        return []
    points = np.array([row_values(row, frame, objectives) for row in top], dtype=float)
    keep = nondominated(points, [mode == "min" for _, mode in objectives])
    return [row for row, on_front in zip(top, keep) if on_front]


def describe(objectives: Sequence[tuple[str, str]]) -> str:
    """``val/psnr ↑, cost/latency_ms ↓``."""
    return ", ".join(f"{metric} {'↓' if mode == 'min' else '↑'}" for metric, mode in objectives)
