"""Statistics with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as stats_scipy

from analysis import stats
from restore_core.errors import UserError
from search_spaces import Param

T_975_DF2 = 4.302652729749464  # two-sided 95 % t quantile with 2 degrees of freedom (statistical tables: 4.303)


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["label", "seed", "status", "best/val/psnr"])


def test_ci_of_three_values_by_hand():
    est = stats.estimate([30.0, 30.2, 30.4])
    assert est.mean == pytest.approx(30.2)
    assert est.std == pytest.approx(0.2)  # sqrt((0.04 + 0 + 0.04) / 2)
    assert est.n == 3
    assert est.ci == pytest.approx(T_975_DF2 * 0.2 / math.sqrt(3), rel=1e-9)
    assert est.ci == pytest.approx(0.49683, abs=1e-5)
    assert (est.low, est.high) == pytest.approx((30.2 - est.ci, 30.2 + est.ci))


def test_single_value_and_missing_values():
    one = stats.estimate([30.0, float("nan"), None])
    assert (one.mean, one.n) == (30.0, 1) and math.isnan(one.ci) and math.isnan(one.std)
    assert stats.estimate([]).n == 0


def test_summarize_groups_by_label_without_the_seed_and_skips_crashed_and_diverged_trials():
    data = frame([("a", 0, "completed", 30.0), ("a", 1, "completed", 30.2), ("a", 2, "stopped early", 30.4),
                  ("b", 0, "nan", float("nan")), ("b", 1, "error", 99.0), ("b", 2, "collapsed", 10.0)])
    summary = stats.summarize(data, ["best/val/psnr"]).set_index("label")
    assert summary.loc["a", "n"] == 3 and summary.loc["a", "mean"] == pytest.approx(30.2)
    assert summary.loc["a", "ci"] == pytest.approx(T_975_DF2 * 0.2 / math.sqrt(3))
    assert summary.loc["b", "n"] == 1 and summary.loc["b", "mean"] == 10.0  # the collapsed trial counts, not 99
    share = stats.infeasible_share(data).set_index("label")
    assert share.loc["a", "share"] == 0 and share.loc["b", "infeasible"] == 3 and share.loc["b", "share"] == 1.0


T_975_DF1 = 12.706204736174698  # two-sided 95 % t quantile with 1 degree of freedom (statistical tables: 12.706)


def test_trials_that_share_a_seed_count_once():
    """Random or Optuna search may propose one configuration twice with one seed: one seed, not two samples."""
    twice = frame([("a", 0, "completed", 30.0), ("a", 0, "completed", 30.0), ("b", 0, "completed", 29.0)])
    summary = stats.summarize(twice, ["best/val/psnr"]).set_index("label")
    assert summary.loc["a", "n"] == 1 and summary.loc["a", "mean"] == 30.0
    assert math.isnan(summary.loc["a", "ci"]) and math.isnan(summary.loc["a", "std"])  # not a zero-width interval
    assert stats.paired_difference(twice, "a", "b", "best/val/psnr")["n"] == 1  # the same count as the pairs
    assert stats.infeasible_share(twice).set_index("label").loc["a", "trials"] == 2  # trials still count trials

    # seed 0 twice (30.0 and 31.0: 30.5) and seed 1 once (32.0): the mean of 30.5 and 32.0 over n = 2 seeds,
    # s = 1.5 / sqrt 2, CI half-width t(0.975, 1) · s / sqrt 2 = 12.706 · 0.75
    two = frame([("a", 0, "completed", 30.0), ("a", 0, "completed", 31.0), ("a", 1, "completed", 32.0),
                 ("a", 1, "error", 99.0)])
    row = stats.summarize(two, ["best/val/psnr"]).iloc[0]
    assert row["n"] == 2 and row["mean"] == pytest.approx(31.25)
    assert row["std"] == pytest.approx(1.5 / math.sqrt(2))
    assert row["ci"] == pytest.approx(T_975_DF1 * 0.75, rel=1e-9) and row["ci"] == pytest.approx(9.52965, abs=1e-5)
    assert list(stats.per_seed(two, "a", "best/val/psnr")) == [30.5, 32.0]


def test_paired_difference_matched_per_seed_by_hand():
    data = frame([("a", 0, "completed", 31.0), ("a", 1, "completed", 30.5), ("a", 2, "completed", 30.9),
                  ("a", 3, "completed", 40.0),  # seed 3 has no partner in b: left out
                  ("b", 0, "completed", 30.0), ("b", 1, "completed", 30.0), ("b", 2, "completed", 30.3)])
    diff = stats.paired_difference(data, "a", "b", "best/val/psnr")
    # differences 1.0, 0.5, 0.6: mean 0.7, s = sqrt(0.14 / 2), t = 0.7 / (s / sqrt 3) = sqrt(21)
    assert diff["n"] == 3 and diff["seeds"] == [0, 1, 2]
    assert diff["mean"] == pytest.approx(0.7)
    assert diff["std"] == pytest.approx(math.sqrt(0.07))
    assert diff["ci"] == pytest.approx(T_975_DF2 * math.sqrt(0.07) / math.sqrt(3))
    # with 2 degrees of freedom the t CDF is 1/2 + t / (2 sqrt(2 + t²)): p = 1 - sqrt(21 / 23)
    assert diff["p"] == pytest.approx(1 - math.sqrt(21 / 23), rel=1e-9)


def test_versus_baseline_and_unknown_baseline():
    data = frame([("a", 0, "completed", 31.0), ("a", 1, "completed", 31.0), ("base", 0, "completed", 30.0),
                  ("base", 1, "completed", 30.5), ("c", 0, "completed", 29.0)])
    table = stats.versus_baseline(data, "base", ["best/val/psnr"]).set_index("a")
    assert list(table.index) == ["a", "c"]
    assert table.loc["a", "mean"] == pytest.approx(0.75) and table.loc["a", "n"] == 2
    assert table.loc["c", "n"] == 1 and math.isnan(table.loc["c", "p"])
    with pytest.raises(UserError, match=r"unknown baseline label 'nope'; known: a, base, c"):
        stats.versus_baseline(data, "nope", ["best/val/psnr"])


LR = Param("optim.lr", kind="loguniform", low=1e-7, high=1e-2)
WIDTH = Param("model.width", kind="uniform", low=0.0, high=1.0)


def boundary(best_lr: float, other_lr: float, widths=(0.5, 0.55)) -> pd.DataFrame:
    data = pd.DataFrame({"label": ["best", "best", "other"], "seed": [0, 1, 0], "status": ["completed"] * 3,
                         "best/val/psnr": [31.0, 31.2, 30.0], "config/optim.lr": [best_lr, best_lr, other_lr],
                         "config/model.width": [widths[0], widths[0], widths[1]]})
    return stats.boundary_flags(data, [LR, WIDTH], "val/psnr", "max").set_index("param")


def test_boundary_flag_true_at_either_edge_on_a_log_scale():
    upper = boundary(5e-3, 1e-4)  # log10 position (log10 5e-3 + 7) / 5 = 0.94
    assert upper.loc["optim.lr", "position"] == pytest.approx((np.log10(5e-3) + 7) / 5)
    assert bool(upper.loc["optim.lr", "flag"]) is True
    lower = boundary(2e-7, 1e-4)  # 0.06
    assert bool(lower.loc["optim.lr", "flag"]) is True


def test_boundary_flag_false_inside_and_linear_for_uniform():
    inside = boundary(1e-4, 1e-3, widths=(0.95, 0.5))  # lr: (−4 + 7) / 5 = 0.6
    assert inside.loc["optim.lr", "position"] == pytest.approx(0.6)
    assert bool(inside.loc["optim.lr", "flag"]) is False
    assert inside.loc["model.width", "position"] == pytest.approx(0.95)  # linear scale: upper 10 %
    assert bool(inside.loc["model.width", "flag"]) is True


def test_boundary_skips_parameters_that_did_not_vary():
    data = pd.DataFrame({"label": ["a", "b"], "seed": [0, 0], "status": ["completed"] * 2,
                         "best/val/psnr": [31.0, 30.0], "config/optim.lr": [1e-4, 1e-4]})
    assert stats.boundary_flags(data, [LR], "val/psnr", "max").empty


def test_spearman_of_two_orderings():
    rho, p, n = stats.spearman([30.1, 28.2, 30.0, float("nan")], [6.5, 6.1, 6.4, 6.9])
    # exact two-sided p: of the 3! orderings two (the same and the reverse) have |rho| = 1
    assert (rho, p, n) == (pytest.approx(1.0), pytest.approx(2 / 6), 3)
    rho, p, _ = stats.spearman([1, 2, 3, 4], [4, 3, 2, 1])
    assert (rho, p) == (pytest.approx(-1.0), pytest.approx(2 / 24))
    # 1 2 3 4 5 against 2 1 3 4 5: rho = 1 - 6*2/(5*24) = 0.9; orderings with |rho| >= 0.9 are those with sum of squared
    # rank differences <= 2 from either end: the identity and the 4 adjacent swaps, and their 5 reverses: 10 of 120
    rho, p, _ = stats.spearman([1, 2, 3, 4, 5], [2, 1, 3, 4, 5])
    assert (rho, p) == (pytest.approx(0.9), pytest.approx(10 / 120))
    # above nine rows, scipy's t approximation
    x = list(range(10))
    y = [1, 0, 2, 3, 4, 5, 6, 7, 9, 8]
    assert stats.spearman(x, y)[1] == pytest.approx(stats_scipy.spearmanr(x, y).pvalue)
    # a constant column has no ordering
    rho, p, _ = stats.spearman([1, 1, 1], [1, 2, 3])
    assert math.isnan(rho) and math.isnan(p)


def test_holm_by_hand():
    # m = 4: 0.01·4 = 0.04, 0.02·3 = 0.06, 0.03·2 = 0.06, 0.5·1 = 0.5, each no smaller than the one before
    assert stats.holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert stats.holm([0.4, float("nan"), 0.3]) == pytest.approx([0.6, float("nan"), 0.6], nan_ok=True)
    assert stats.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])  # 0.8·2 capped at 1, and 0.9 may not go below it


def test_trials_at_different_steps_are_not_compared():
    data = pd.DataFrame({"label": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "status": ["completed"] * 2 +
                         ["stopped early", "completed"], "steps": [1200, 1200, 100, 1200],
                         "best/val/psnr": [30.0, 31.0, 29.0, 29.5]})
    diff = stats.paired_difference(data, "a", "b", "best/val/psnr")
    assert diff["seeds"] == [1] and diff["mean"] == pytest.approx(1.5) and diff["note"] == ""
    stopped = data.assign(steps=[1200, 1200, 100, 100])
    assert stats.paired_difference(stopped, "a", "b", "best/val/psnr")["note"] == "not comparable: 1200 vs 100 steps"
