"""The searcher of sampled sweeps: seeded by --search-seed, and TPE and the GP model the results within a small
budget."""

import math

import pytest

from sweeps.driver.domains import sampled_param_space
from sweeps.driver.runner import plan_sweep
from sweeps.driver.tuner import build_searcher, startup_trials
from sweeps.settings.options import SweepOptions


def proposals(search: str, seed: int, scores: list[float], num_samples: int = 10) -> list[dict]:
    """The configurations the searcher proposes when each one's trial ends with the next of ``scores``."""
    plan = plan_sweep(SweepOptions(space="lsid_lr", search=search, search_seed=seed, num_samples=num_samples))
    searcher = build_searcher(plan)
    assert searcher.set_search_properties(plan.space.metric, plan.space.mode, sampled_param_space(plan.space))
    configs = []
    for i, score in enumerate(scores + [None]):
        configs.append(searcher.suggest(f"t{i}"))
        if score is not None:
            searcher.on_trial_complete(f"t{i}", {plan.space.metric: score})
    return configs


@pytest.mark.parametrize("search", ["random", "optuna", "gp"])
def test_the_search_seed_decides_the_proposals(search):
    assert proposals(search, 0, [20.0, 21.0]) == proposals(search, 0, [20.0, 21.0])
    assert proposals(search, 0, [20.0, 21.0]) != proposals(search, 1, [20.0, 21.0])


def test_without_a_search_seed_sampled_searches_use_0_and_the_grid_none():
    assert plan_sweep(SweepOptions(space="lsid_lr", search="optuna")).settings.search_seed == 0
    assert plan_sweep(SweepOptions(space="lsid_lr")).settings.search_seed is None


def test_tpe_models_the_results_after_a_third_of_a_small_budget():
    # TPE's start-up proposals are its random sampler's; with Optuna's default of ten, a budget of ten would be
    # random throughout. After three results the fourth proposal comes from the model instead.
    scores = [20.0, 21.0, 25.0]
    tpe, random = proposals("optuna", 0, scores), proposals("random", 0, scores)
    assert tpe[:3] == random[:3]
    assert tpe[3] != random[3]
    # the model proposes near the best result so far: the same decay point, a rate within a decade
    assert tpe[3]["optim.milestones"] == tpe[2]["optim.milestones"]
    assert abs(math.log10(tpe[3]["optim.lr"] / tpe[2]["optim.lr"])) < 1


def test_the_gp_models_the_results_after_a_third_of_a_small_budget():
    scores = [20.0, 21.0, 25.0]
    gp, random = proposals("gp", 0, scores), proposals("random", 0, scores)
    assert gp[:3] == random[:3]
    assert gp[3] != random[3]
    assert set(gp[3]) == {"optim.lr", "optim.milestones"} and 1e-7 <= gp[3]["optim.lr"] <= 1e-3


@pytest.mark.parametrize("configurations, expected", [(4, 2), (10, 3), (30, 10), (300, 10)])
def test_startup_trials_are_a_third_of_the_budget_within_2_to_10(configurations, expected):
    assert startup_trials(configurations) == expected


def test_the_dry_run_lists_the_sampled_ranges_in_words():
    from ray import tune

    from sweeps.driver.describe import describe_plan
    from sweeps.driver.domains import describe_domain

    assert describe_domain(tune.loguniform(1e-7, 1e-2)) == "log-uniform in [1e-07, 0.01]"
    assert describe_domain(tune.uniform(0, 10)) == "uniform in [0, 10]"
    assert describe_domain(tune.randint(1, 5)) == "integer, uniform in [1, 4]"
    assert describe_domain(tune.choice(["lsgan", "wgan"])) == "one of lsgan, wgan"
    plan = plan_sweep(SweepOptions(space="lsid_lr", search="optuna", search_seed=3, num_samples=6))
    listing = describe_plan(plan)
    assert "6 trials proposed by optuna (search seed 3) from:" in listing
    assert "  optim.lr: log-uniform in [1e-07, 0.001]\n" in listing
    assert "  optim.milestones: one of none, @2.5%, @12.5%, @25%, @50%, quarters\n" in listing
