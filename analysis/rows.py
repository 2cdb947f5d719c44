"""The rows of a run's comparison: one per configuration and how far its trials trained, ranked only among rows
trained to the same number of steps.

An ASHA run stops most trials at a rung: a trial stopped at step 100 has not been trained like one that completed
1200 steps, so the two are never ranked together. Rows are grouped by how far their trials went (completed; stopped
at step S; unfinished at step S; collapsed at step S). Only the rows whose trials all trained to their whole budget
are ranked, and of those the group with the most rows (and then steps): the table's rank, its "best" line and the
verdict read that group. Crashed and diverged trials (error, NaN) have no value to count; they join their
configuration's farthest row, where the ``infeasible`` column counts them.

Each row's value is the test value of each trial's selected checkpoint (``test/<name>``), where the run has test
evaluations, else the validation value of that checkpoint (a run from before the test split, or analysed where its
data is missing), which the tables then say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from analysis import stats
from analysis.load import INFEASIBLE, lower_is_better

NOT_COUNTED = stats.NOT_COUNTED


def value_column(frame: pd.DataFrame, metric: str) -> str:
    """The column the tables report for ``metric`` (``val/psnr``): the test evaluation's ``test/psnr`` when any trial
    has one, else ``best/val/psnr``, the validation value at the selected checkpoint."""
    name = metric.split("/", 1)[1] if "/" in metric else metric
    test = f"test/{name}"
    if test in frame and pd.to_numeric(frame[test], errors="coerce").notna().any():
        return test
    return f"best/{metric}"


def reports_test(frame: pd.DataFrame, metric: str) -> bool:
    return value_column(frame, metric).startswith("test/")


@dataclass
class Row:
    """One configuration at one number of steps: its trials (and the crashed or diverged trials it carries)."""

    label: str
    steps: int
    trials: pd.DataFrame
    completed: bool
    rank: int | None = None
    group: str = ""
    estimates: dict[str, stats.Estimate] = field(default_factory=dict)

    @cached_property
    def counted(self) -> pd.DataFrame:
        return stats.counted(self.trials)

    def reach(self) -> str:
        """How far the row's trials went: ``completed (1200 steps)``, ``stopped at step 100``, ..."""
        if self.completed:
            return f"completed ({self.steps} steps)"
        trials = self.counted if not self.counted.empty else self.trials  # a row of failed trials says how they failed
        statuses = [s for s in dict.fromkeys(trials["status"]) if s != "completed"] or ["ended"]
        said = {"stopped early": "stopped", "unfinished": "unfinished"}
        return " / ".join(said.get(s, s) for s in statuses) + f" at step {self.steps}"

    def estimate(self, column: str) -> stats.Estimate:
        if column not in self.estimates:
            self.estimates[column] = stats.estimate(stats.seed_means(self.counted, column))
        return self.estimates[column]

    def counts(self) -> tuple[int, int, int]:
        """(trials, infeasible trials, degraded trials) of the row."""
        degraded = self.trials["degraded"].fillna(False).astype(bool) if "degraded" in self.trials else []
        return len(self.trials), int(self.trials["status"].isin(INFEASIBLE).sum()), int(np.sum(degraded))


def _trial_steps(frame: pd.DataFrame) -> pd.Series:
    return pd.to_numeric(frame.get("steps", pd.Series(0, index=frame.index)), errors="coerce").fillna(0).astype(int)


def _completed(trials: pd.DataFrame) -> bool:
    counted = stats.counted(trials)
    if counted.empty:
        return False
    if "budget" in counted:
        return bool((pd.to_numeric(counted["budget"], errors="coerce") >= 1).all())
    return bool((counted["status"] == "completed").all())


def build_rows(frame: pd.DataFrame, metric: str, mode: str) -> list[Row]:
    """The rows of ``frame`` (one per trial, as ``load_run`` reads them), in the order the tables print them: the
    ranked group best first, then every other row by steps (most first) and value."""
    if frame.empty:
        return []
    rows: list[Row] = []
    # one pass over the frame per label, not a mask of the whole frame per label (a 500-config run has 500 labels)
    for label, mine in frame.groupby("label", sort=False, dropna=False):
        steps = _trial_steps(mine)
        counted = ~mine["status"].isin(NOT_COUNTED)
        reached = sorted(set(steps[counted]), reverse=True)
        failed = mine[~counted]
        if not reached:
            rows.append(Row(label, int(steps.max()), mine, False))
            continue
        for i, step in enumerate(reached):
            trials = mine[counted & (steps == step)]
            if i == 0 and not failed.empty:  # crashed and diverged trials join the farthest row, counted as infeasible
                trials = pd.concat([trials, failed])
            rows.append(Row(label, int(step), trials, _completed(trials)))
    column = value_column(frame, metric)
    lower = lower_is_better(metric, mode)
    _rank(rows, column, lower)

    def order(row: Row):
        value = row.estimate(column).mean
        missing = not np.isfinite(value)
        worse = 0 if missing else (value if lower else -value)
        return row.rank is None, row.rank or 0, -row.steps, missing, worse

    return sorted(rows, key=order)


def _rank(rows: list[Row], column: str, lower: bool) -> None:
    """Rank the rows of the ranked group (completed, equal steps) by their mean value; name every row's group."""
    groups: dict[int, list[Row]] = {}
    for row in rows:
        if row.completed:
            groups.setdefault(row.steps, []).append(row)
        row.group = row.reach() if not row.completed else f"completed ({row.steps} steps)"
    if not groups:
        return
    ranked_steps = max(groups, key=lambda s: (len(groups[s]), s))
    ranked = [r for r in groups[ranked_steps] if np.isfinite(r.estimate(column).mean)]
    ranked.sort(key=lambda r: r.estimate(column).mean, reverse=not lower)
    for position, row in enumerate(ranked, start=1):
        row.rank = position


def ranked(rows: list[Row]) -> list[Row]:
    """The ranked rows, best first."""
    return sorted((r for r in rows if r.rank is not None), key=lambda r: r.rank)
