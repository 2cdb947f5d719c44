"""What a search space declares, and how its trials are resolved into plain configs.

A space is data: the base config, the study's exact settings (``rows`` and parameter ``grid`` values, for grid
search), continuous or categorical ranges (for Optuna and random search), the role of every hyperparameter
(scientific, nuisance, fixed), the metric, the default search and scheduler, per-profile overrides, the pairs its
study compared and, where the study published numbers, those numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from restore_core.config import deep_merge, set_path
from restore_core.errors import ConfigError

PROFILES = ("smoke", "quick", "paper")
ROW_KEY = "row"
SEED_KEY = "seed"


@dataclass(frozen=True)
class Row:
    """One setting of the study that changes several keys at once, e.g. a learning-rate schedule."""

    label: str
    overrides: dict


@dataclass(frozen=True)
class Param:
    """One searched hyperparameter at the dotted config key ``path``.

    ``grid``: the study's exact values, for grid search. ``kind``/``low``/``high``/``choices``: the range for
    Optuna and random search. ``choices`` may map readable labels to values (lists, dicts), so that categorical
    values that are not numbers or strings can still be sampled by Optuna.
    """

    path: str
    kind: Literal["loguniform", "uniform", "int", "choice"] = "choice"
    grid: tuple = ()
    low: float | None = None
    high: float | None = None
    choices: Mapping[str, Any] | tuple = ()
    short: str | None = None

    @property
    def key(self) -> str:
        return self.path

    @property
    def name(self) -> str:
        return self.short or self.path.split(".")[-1]

    def value(self, sampled: Any) -> Any:
        """The config value for a sampled (or grid) value: labels of a labelled ``choices`` map to their value."""
        if isinstance(self.choices, Mapping) and isinstance(sampled, str) and sampled in self.choices:
            return self.choices[sampled]
        return sampled

    def domain(self):
        from ray import tune

        if self.kind == "loguniform":
            return tune.loguniform(self.low, self.high)
        if self.kind == "uniform":
            return tune.uniform(self.low, self.high)
        if self.kind == "int":
            return tune.randint(int(self.low), int(self.high) + 1)
        options = list(self.choices) if self.choices else list(self.grid)
        return tune.choice(options)


@dataclass(frozen=True)
class Pair:
    """A comparison the study made: ``a − b`` of the metric, per seed. ``kind`` names the family of pairs."""

    a: str
    b: str
    kind: str = "pair"

    @property
    def label(self) -> str:
        return f"{self.a} − {self.b}"


@dataclass(frozen=True)
class SearchSpace:
    name: str
    description: str
    reproduces: str
    base: dict
    metric: str = "val/psnr"
    mode: Literal["max", "min"] = "max"
    rows: tuple[Row, ...] = ()
    params: tuple[Param, ...] = ()
    scientific: tuple[str, ...] = ()
    nuisance: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    search: Literal["grid", "random", "optuna", "gp"] = "grid"
    scheduler: Literal["fifo", "asha"] = "fifo"
    asha_grace: float = 0.25  # ASHA's first rung, as a fraction of training
    asha_reduction: float = 3  # ASHA keeps the best 1/asha_reduction of the trials at each rung
    asha_recheck: bool = False  # judge a promoted trial again as later ones reach its rung (restore_core/sweep/asha.py)
    asha_quorum: int = 1  # a trial let on from a rung with fewer recorded waits while others can run (same file)
    profiles: dict[str, dict] = field(default_factory=dict)
    pairs: tuple[Pair, ...] = ()
    baseline: str | None = None
    reported: dict[str, dict[str, float]] = field(default_factory=dict)
    reading: str = ""

    # -- configs -------------------------------------------------------------------------------------------
    def base_config(self, profile: str = "quick", overrides: Mapping[str, Any] | None = None) -> dict:
        """The base config with the profile's overrides and the user's ``--set`` values applied."""
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile '{profile}'; known: {', '.join(PROFILES)}")
        config = deep_merge(self.base, self.profiles.get(profile, {}))
        for path, value in (overrides or {}).items():
            config = set_path(config, path, value)
        return config

    def resolve(self, base: Mapping, trial: Mapping[str, Any]) -> dict:
        """The full config of one trial: ``base`` with the trial's row, parameter values and seed applied."""
        config = dict(base)
        if ROW_KEY in trial:
            config = deep_merge(config, self.row(trial[ROW_KEY]).overrides)
        for param in self.params:
            if param.key in trial:
                config = set_path(config, param.path, param.value(trial[param.key]))
        seed = trial.get(SEED_KEY, trial.get("__trial_index__"))
        if seed is not None:
            config = set_path(config, "train.seed", int(seed))
        return config

    def label(self, trial: Mapping[str, Any]) -> str:
        """Readable label of a trial's configuration (without the seed), e.g. ``1e-3→1e-4 @2.5%``."""
        parts = [str(trial[ROW_KEY])] if ROW_KEY in trial else []
        for param in self.params:
            if param.key in trial:
                value = trial[param.key]
                parts.append(f"{param.name}={_fmt(value)}")
        return ", ".join(parts) or "base"

    def row(self, label: str) -> Row:
        for row in self.rows:
            if row.label == label:
                return row
        known = ", ".join(r.label for r in self.rows)
        raise ConfigError(f"unknown row '{label}' of space '{self.name}'; known: {known}")

    # -- trials --------------------------------------------------------------------------------------------
    def grid_trials(self, seeds: int = 1) -> list[dict[str, Any]]:
        """Every trial of the grid: rows × grid values of each parameter × seeds, as trial parameter dicts."""
        axes: list[list[tuple[str, Any]]] = []
        if self.rows:
            axes.append([(ROW_KEY, r.label) for r in self.rows])
        for param in self.params:
            if param.grid:
                axes.append([(param.key, v) for v in param.grid])
        axes.append([(SEED_KEY, s) for s in range(seeds)])
        return [dict(combo) for combo in itertools.product(*axes)]

    def grid_param_space(self, seeds: int = 1) -> dict[str, Any]:
        from ray import tune

        space: dict[str, Any] = {}
        if self.rows:
            space[ROW_KEY] = tune.grid_search([r.label for r in self.rows])
        for param in self.params:
            if param.grid:
                space[param.key] = tune.grid_search(list(param.grid))
        space[SEED_KEY] = tune.grid_search(list(range(seeds)))
        return space

    def sampled_param_space(self) -> dict[str, Any]:
        """Ranges for Optuna/random search; a space without ranges samples its rows as a categorical."""
        from ray import tune

        ranged = [p for p in self.params if p.kind != "choice" or p.choices or p.grid]
        if not ranged and self.rows:
            return {ROW_KEY: tune.choice([r.label for r in self.rows])}
        return {p.key: p.domain() for p in ranged}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)
