"""Parameter importances from a study rebuilt out of the trials."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import search_spaces
from analysis.importance import build_study, param_importances, variance_share


def optuna_frame(n: int = 12) -> pd.DataFrame:
    """The metric follows log10(lr); the decay choice is noise."""
    rng = np.random.default_rng(0)
    lrs = 10 ** rng.uniform(-7, -2, n)
    decays = rng.choice(["none", "@25%", "@50%"], n)
    return pd.DataFrame({"label": [f"lr={v:.3g}" for v in lrs], "seed": 0, "status": "completed",
                         "param/optim.lr": lrs, "param/optim.milestones": decays,
                         "best/val/psnr": 30 + 2 * np.log10(lrs) + rng.normal(0, 0.01, n)})


def test_study_rebuilt_from_trials_and_lr_dominates():
    space = search_spaces.get_space("lsid_lr")
    frame = optuna_frame()
    study, names = build_study(frame, space, "val/psnr", "max")
    assert frame["param/optim.lr"].max() > space.params[0].high  # rates from a wider range than the space's now
    assert len(study.trials) == 12 and names == ["optim.lr", "optim.milestones"]
    assert study.best_value == frame["best/val/psnr"].max()
    importances, how = param_importances(frame, space, "val/psnr", "max")
    assert importances["optim.lr"] > importances["optim.milestones"] and "12 trials" in how
    shares = variance_share(frame, names, "val/psnr")
    assert abs(sum(shares.values()) - 1) < 1e-9 and shares["optim.lr"] > shares["optim.milestones"]


def test_too_few_completed_trials_says_why():
    space = search_spaces.get_space("lsid_lr")
    frame = optuna_frame(2)
    frame.loc[1, "status"] = "error"
    importances, how = param_importances(frame, space, "val/psnr", "max")
    assert importances == {} and how == "needs at least 2 completed trials with a finite val/psnr (have 1)"


@pytest.mark.parametrize("search, shown", [("grid", False), ("random", True), ("optuna", True), ("gp", True)])
def test_the_report_has_importances_for_every_sampled_search(make_run, search, shown):
    from analysis.outputs import analyse
    from analysis.report import build_figures

    trials = [{"id": f"t{i}", "params": {"optim.lr": lr, "optim.milestones": [], "seed": 0}, "status": "terminated",
               "results": [{"step": 4, "progress": 1.0, "val/psnr": psnr, "stop_reason": "completed"}]}
              for i, (lr, psnr) in enumerate([(1e-3, 24.0), (1e-5, 15.0), (1e-4, 22.0)])]
    ids = [figure_id for _, figure_id, _ in build_figures(analyse(make_run(trials, search=search)))]
    assert ("importance" in ids) == shown and "curves" in ids


def test_a_trial_without_a_finite_value_is_in_no_group():
    frame = pd.DataFrame({"status": ["completed"] * 6, "param/x": list("aabbbb"), "param/y": list("cdcdcd"),
                          "best/val/psnr": [1.0, 2.0, 6.0, 3.0, 4.0, np.nan]})
    shares = variance_share(frame, ["x", "y"], "val/psnr")
    expected = variance_share(frame.iloc[:5], ["x", "y"], "val/psnr")
    assert shares == pytest.approx(expected) and shares["x"] == pytest.approx(0.855, abs=1e-3)
