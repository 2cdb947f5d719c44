"""A search space's parameters as Ray Tune's search domains: the grid of a study, or the ranges Optuna and random
search sample. The space itself (``search_spaces``) is plain data and knows nothing of Ray."""

from __future__ import annotations

from typing import Any

from ray import tune
from ray.tune.search.sample import Categorical, Domain, Integer, LogUniform

from search_spaces.parts import Param
from search_spaces.space import ROW_KEY, SEED_KEY, SearchSpace


def param_domain(param: Param) -> Domain:
    """The range Optuna and random search sample ``param`` from."""
    if param.kind == "loguniform":
        return tune.loguniform(param.low, param.high)
    if param.kind == "uniform":
        return tune.uniform(param.low, param.high)
    if param.kind == "int":
        return tune.randint(int(param.low), int(param.high) + 1)  # Ray's upper bound of integers is exclusive
    options = list(param.choices) if param.choices else list(param.grid)
    return tune.choice(options)


def grid_param_space(space: SearchSpace, seeds: int = 1) -> dict[str, Any]:
    """Every trial of the study's grid: rows × grid values of each parameter × seeds."""
    domains: dict[str, Any] = {}
    if space.rows:
        domains[ROW_KEY] = tune.grid_search([r.label for r in space.rows])
    for param in space.params:
        if param.grid:
            domains[param.key] = tune.grid_search(list(param.grid))
    domains[SEED_KEY] = tune.grid_search(list(range(seeds)))
    return domains


def fixed_param_space(trials: list[dict[str, Any]]) -> dict[str, Any]:
    """One configuration (``--config``): its values as constants, its seeds as the grid."""
    values = {key: value for key, value in trials[0].items() if key != SEED_KEY}
    return {**values, SEED_KEY: tune.grid_search([trial[SEED_KEY] for trial in trials])}


def sampled_param_space(space: SearchSpace) -> dict[str, Domain]:
    """Ranges for Optuna/random search; a space without ranges samples its rows as a categorical (empty: a space
    only grid search can run)."""
    ranged = space.sampled_params()
    if not ranged and space.rows:
        return {ROW_KEY: tune.choice([r.label for r in space.rows])}
    return {p.key: param_domain(p) for p in ranged}


def describe_domain(domain: Domain) -> str:
    """A search domain in words: ``log-uniform in [1e-07, 0.01]``, ``one of none, @2.5%``."""
    if isinstance(domain, Categorical):
        return "one of " + ", ".join(str(c) for c in domain.categories)
    scale = "log-uniform" if isinstance(domain.get_sampler(), LogUniform) else "uniform"
    if isinstance(domain, Integer):  # Ray's upper bound of integers is exclusive
        return f"integer, {scale} in [{domain.lower}, {domain.upper - 1}]"
    return f"{scale} in [{domain.lower:g}, {domain.upper:g}]"
