"""Statistics of a sweep: per-configuration means with confidence intervals, paired differences between
configurations (matched per seed), the share of infeasible trials and boundary checks of searched ranges.

The reading follows the Deep Learning Tuning Playbook: compare configurations by their mean over seeds with the
seed-to-seed spread in view, look at the infeasible share, and widen a range whose best value sits at its edge.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.load import INFEASIBLE, lower_is_better
from restore_core.errors import UserError


def _scipy_stats():
    """SciPy's statistics, imported on first use (about 0.7 s): the sweep's driver reads a run's rows through this
    module long before, or without ever, computing a statistic."""
    from scipy import stats  # heavy: about 0.7 s, for the statistics only

    return stats

CONFIDENCE = 0.95
# Trials whose numbers are not a measurement of the configuration: a crash, or a diverged model.
NOT_COUNTED = ("error", "nan")
EDGE = 0.10


@dataclass(frozen=True)
class Estimate:
    """Mean of ``n`` values with their standard deviation and the half-width of the t confidence interval."""

    mean: float
    std: float
    n: int
    ci: float  # half-width; NaN when n < 2

    @property
    def low(self) -> float:
        return self.mean - self.ci

    @property
    def high(self) -> float:
        return self.mean + self.ci


def estimate(values: Iterable[float], confidence: float = CONFIDENCE) -> Estimate:
    """Mean, sample standard deviation (ddof 1) and the two-sided t interval ``t(1-α/2, n-1)·s/√n``."""
    array = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    n = int(array.size)
    if n == 0:
        return Estimate(math.nan, math.nan, 0, math.nan)
    if n == 1:
        return Estimate(float(array[0]), math.nan, 1, math.nan)
    std = float(array.std(ddof=1))
    half = float(_scipy_stats().t.ppf(0.5 + confidence / 2, n - 1) * std / math.sqrt(n))
    return Estimate(float(array.mean()), std, n, half)


def counted(frame: pd.DataFrame) -> pd.DataFrame:
    """The trials whose metrics measure their configuration (not crashed, not diverged)."""
    return frame[~frame["status"].isin(NOT_COUNTED)] if "status" in frame else frame


def seed_means(rows: pd.DataFrame, metric: str) -> pd.Series:
    """``metric`` of ``rows`` by seed, one value per seed: the finite values of trials that share a seed (random or
    Optuna search may propose one configuration twice with one seed) are averaged, so that they count once."""
    values = pd.to_numeric(rows[metric], errors="coerce") if metric in rows else pd.Series(np.nan, index=rows.index)
    values = values.where(np.isfinite(values.to_numpy(dtype=float)))
    return values.groupby(rows["seed"]).mean().dropna()


def summarize(frame: pd.DataFrame, metrics: Sequence[str], by: str = "label") -> pd.DataFrame:
    """Long table: one row per configuration and metric with mean, std, n, ci, low, high over its seeds.

    ``metrics`` are column names of ``frame`` (e.g. ``best/val/psnr``); configurations keep their first-seen order.
    Trials that share a seed are averaged first (:func:`seed_means`): ``n`` counts seeds, not trials.
    """
    rows = []
    for label, group in counted(frame).groupby(by, sort=False):
        for metric in metrics:
            if metric in group:
                est = estimate(seed_means(group, metric))
                rows.append({by: label, "metric": metric, "mean": est.mean, "std": est.std, "n": est.n,
                             "ci": est.ci, "low": est.low, "high": est.high})
    return pd.DataFrame(rows, columns=[by, "metric", "mean", "std", "n", "ci", "low", "high"])


def per_seed(frame: pd.DataFrame, label: str, metric: str) -> pd.Series:
    """The metric of one configuration by seed (trials repeated with one seed are averaged: :func:`seed_means`)."""
    rows = counted(frame)
    return seed_means(rows[rows["label"] == label], metric)


def seed_steps(frame: pd.DataFrame, label: str) -> pd.Series:
    """How far each seed of a configuration trained (the most steps of its trials of that seed; NaN where a frame
    does not say)."""
    rows = counted(frame)
    rows = rows[rows["label"] == label]
    steps = pd.to_numeric(rows["steps"], errors="coerce") if "steps" in rows else pd.Series(np.nan, index=rows.index)
    return steps.groupby(rows["seed"]).max()


def _same_steps(a: float, b: float) -> bool:
    return a == b or (pd.isna(a) and pd.isna(b))


def paired_difference(frame: pd.DataFrame, a: str, b: str, metric: str) -> dict:
    """``a − b`` of ``metric`` over the seeds both have and both trained to the same number of steps: mean, CI, n
    and the paired t-test p-value. A trial stopped at step 100 is not compared with one trained to step 1200;
    when no seed is comparable, ``note`` says why (``not comparable: 100 vs 1200 steps``)."""
    left, right = per_seed(frame, a, metric), per_seed(frame, b, metric)
    both = left.index.intersection(right.index)
    steps_a, steps_b = seed_steps(frame, a), seed_steps(frame, b)
    seeds = [s for s in both if _same_steps(steps_a.get(s), steps_b.get(s))]
    note = ""
    if both.size and not seeds:
        first = both[0]
        note = f"not comparable: {steps_a.get(first, 0):.0f} vs {steps_b.get(first, 0):.0f} steps"
    diffs = (left[seeds] - right[seeds]).to_numpy(dtype=float)
    est = estimate(diffs)
    p_value = math.nan
    if est.n >= 2:
        with warnings.catch_warnings():  # identical differences: scipy warns and returns nan (or 0 if nonzero)
            warnings.simplefilter("ignore", RuntimeWarning)
            p_value = float(_scipy_stats().ttest_rel(left[seeds].to_numpy(float), right[seeds].to_numpy(float)).pvalue)
    return {"a": a, "b": b, "metric": metric, "mean": est.mean, "std": est.std, "n": est.n, "ci": est.ci,
            "low": est.low, "high": est.high, "p": p_value, "seeds": [int(s) for s in seeds], "note": note}


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values (NaN entries are not tests and stay NaN): the k-th
    smallest of m is multiplied by m − k + 1, then made non-decreasing, capped at 1. It controls the chance of any
    false "different" across the family, for any dependence between the tests."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None and np.isfinite(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for k, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (len(indexed) - k) * p))
        adjusted[i] = running
    return adjusted


def correct_family(tables: Sequence[pd.DataFrame]) -> tuple[list[pd.DataFrame], dict[str, int]]:
    """Holm-correct, per metric, every paired comparison the analysis shows (the rows of ``tables``, frames of
    :func:`paired_difference` results): one comparison of a and b counts once however many tables show it. Returns
    the tables with a ``p_holm`` column, and how many tests each metric's family held."""
    tests: dict[tuple[str, frozenset], float] = {}
    for table in tables:
        for row in table.itertuples():
            if np.isfinite(row.p):
                tests.setdefault((row.metric, frozenset((row.a, row.b))), row.p)
    families: dict[str, list[tuple[str, frozenset]]] = {}
    for key in tests:
        families.setdefault(key[0], []).append(key)
    corrected: dict[tuple[str, frozenset], float] = {}
    for keys in families.values():
        corrected.update(zip(keys, holm([tests[k] for k in keys])))
    out = [table.assign(p_holm=[corrected.get((m, frozenset((a, b))), math.nan)
                                for m, a, b in zip(table["metric"], table["a"], table["b"])]) for table in tables]
    return out, {metric: len(keys) for metric, keys in families.items()}


def pair_differences(frame: pd.DataFrame, pairs: Iterable, metrics: Sequence[str]) -> pd.DataFrame:
    """Paired differences of declared pairs (objects with ``a``, ``b``, ``kind`` or dicts with those keys)."""
    rows = []
    for pair in pairs:
        a, b, kind = (pair["a"], pair["b"], pair.get("kind", "pair")) if isinstance(pair, dict) else (
            pair.a, pair.b, pair.kind)
        for metric in metrics:
            rows.append({"kind": kind, **paired_difference(frame, a, b, metric)})
    return pd.DataFrame(rows, columns=["kind", "a", "b", "metric", "mean", "std", "n", "ci", "low", "high", "p",
                                       "seeds", "note"])


def check_baseline(frame: pd.DataFrame, baseline: str) -> None:
    labels = list(dict.fromkeys(frame["label"])) if "label" in frame else []
    if baseline not in labels:
        raise UserError(f"unknown baseline label '{baseline}'; known: {', '.join(map(str, labels)) or '(no trials)'}")


def versus_baseline(frame: pd.DataFrame, baseline: str, metrics: Sequence[str]) -> pd.DataFrame:
    """Every other configuration minus ``baseline``, matched per seed."""
    check_baseline(frame, baseline)
    pairs = [{"a": label, "b": baseline, "kind": "vs baseline"}
             for label in dict.fromkeys(frame["label"]) if label != baseline]
    return pair_differences(frame, pairs, metrics)


def infeasible_share(frame: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: trials, infeasible trials (error, NaN, collapsed) and their share."""
    if frame.empty:
        return pd.DataFrame(columns=["label", "trials", "infeasible", "share"])
    grouped = frame.groupby("label", sort=False)["status"]
    out = pd.DataFrame({"trials": grouped.size(), "infeasible": grouped.agg(lambda s: int(s.isin(INFEASIBLE).sum()))})
    out["share"] = out["infeasible"] / out["trials"]
    return out.reset_index()


def position_in_range(value: float, low: float, high: float, log: bool) -> float:
    """Where ``value`` sits in ``[low, high]``: 0 at ``low``, 1 at ``high`` (on a log scale if ``log``)."""
    if log:
        value, low, high = math.log10(value), math.log10(low), math.log10(high)
    return (value - low) / (high - low) if high != low else math.nan


def boundary_flags(frame: pd.DataFrame, params: Iterable, metric: str, mode: str, edge: float = EDGE,
                   column: str | None = None) -> pd.DataFrame:
    """For each searched continuous parameter (kind loguniform, uniform or int with a range) that varies across the
    trials: the value of the best configuration (by its mean over seeds of ``column``, ``best/<metric>`` unless
    given) and whether it lies in the outer ``edge`` of the range (log scale for loguniform), i.e. whether the range
    should be widened."""
    rows = []
    column = column or f"best/{metric}"
    if column not in frame or frame.empty:
        return pd.DataFrame(columns=["param", "low", "high", "best", "position", "flag"])
    means = summarize(frame, [column]).set_index("label")["mean"].dropna()
    if means.empty:
        return pd.DataFrame(columns=["param", "low", "high", "best", "position", "flag"])
    best_label = means.idxmin() if lower_is_better(metric, mode) else means.idxmax()
    for param in params:
        key = f"config/{param.path}"
        if param.kind not in ("loguniform", "uniform", "int") or param.low is None or key not in frame:
            continue
        values = pd.to_numeric(frame[key], errors="coerce")
        if values.nunique(dropna=True) < 2:
            continue  # not searched in this run
        best = float(values[frame["label"] == best_label].mean())
        position = position_in_range(best, float(param.low), float(param.high), param.kind == "loguniform")
        rows.append({"param": param.path, "low": param.low, "high": param.high, "best": best, "label": best_label,
                     "position": position, "flag": bool(position < edge or position > 1 - edge)})
    return pd.DataFrame(rows, columns=["param", "low", "high", "best", "label", "position", "flag"])


EXACT_SPEARMAN_N = 9  # up to here the p-value counts every ordering (9! = 362,880); above, the t approximation


def spearman(reported: Sequence[float], measured: Sequence[float]) -> tuple[float, float, int]:
    """Spearman rank correlation (rho, p, n) of two orderings over the entries both have; NaN when n < 3.

    p is two-sided. For n up to :data:`EXACT_SPEARMAN_N` it is exact: the share of the n! pairings of the measured
    ranks with the published ones whose |rho| is at least the observed one (ties keep their average ranks). The t
    approximation scipy uses is far off for a handful of rows (rho = 1 over three rows is p = 0 there, 1/3 exactly).
    """
    pairs = [(r, m) for r, m in zip(reported, measured) if np.isfinite(r) and np.isfinite(m)]
    n = len(pairs)
    if n < 3:
        return math.nan, math.nan, n
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a constant column has no ranking: rho is NaN
        result = _scipy_stats().spearmanr([p[0] for p in pairs], [p[1] for p in pairs])
    rho, p = float(result.statistic), float(result.pvalue)
    if n <= EXACT_SPEARMAN_N and np.isfinite(rho):
        rank = _scipy_stats().rankdata
        p = _exact_spearman_p(rank([q[0] for q in pairs]), rank([q[1] for q in pairs]), rho)
    return rho, p, n


def _exact_spearman_p(x_ranks: np.ndarray, y_ranks: np.ndarray, rho: float) -> float:
    """Two-sided permutation p of Spearman's rho: every ordering of ``y_ranks`` against ``x_ranks``."""
    x = x_ranks - x_ranks.mean()
    y = y_ranks - y_ranks.mean()
    orderings = np.array(list(itertools.permutations(range(len(y)))), dtype=np.int8)
    rhos = (y[orderings] @ x) / (np.linalg.norm(x) * np.linalg.norm(y))
    return float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))
