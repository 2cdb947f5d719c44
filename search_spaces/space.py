"""What a search space declares, and how its trials are resolved into plain configs.

A space is data: the base config, the study's exact settings (``rows`` and parameter ``grid`` values, for grid
search), continuous or categorical ranges (for Optuna and random search), the role of every hyperparameter
(scientific, nuisance, fixed), the metric, the default search and scheduler, per-profile overrides, the pairs its
study compared and, where the study published numbers, those numbers.
"""

from __future__ import annotations

import itertools
import json
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from restore_core.config import deep_merge, set_path
from restore_core.errors import ConfigError
from search_spaces.parts import Pair, Param, Row

# smoke, quick and paper exist for every space (a space's profile may be empty: the base); reproduction, the seed
# study's own recipe where it differs from the paper's, only where the space declares it.
PROFILES = ("smoke", "quick", "paper", "reproduction")
DECLARED_ONLY = ("reproduction",)
SEARCHES = ("grid", "random", "optuna", "gp")  # the study's exact grid, or Optuna's random, TPE or GP sampler
SCHEDULERS = ("fifo", "asha")
ROW_KEY = "row"
SEED_KEY = "seed"
TRIAL_INDEX_KEY = "__trial_index__"  # the seed of a sampled trial repeated with --seeds (Ray's Repeater sets it)


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
    search: str = "grid"  # one of SEARCHES
    scheduler: str = "fifo"  # one of SCHEDULERS
    asha_grace: float = 0.25  # ASHA's first rung, as a fraction of training
    asha_reduction: float = 3  # ASHA keeps the best 1/asha_reduction of the trials at each rung
    asha_recheck: bool = False  # judge a promoted trial again as later ones reach its rung (sweeps/driver/asha.py)
    asha_quorum: int = 1  # a trial let on from a rung with fewer recorded waits while others can run (same file)
    # the race of --asha-noise: the noise of one evaluation of the metric (measured over a FIFO run by
    # benchmarks/asha_replay.py), "auto" (measured as the sweep runs) or None (no race); sweeps/driver/race.py
    asha_noise: float | str | None = None
    profiles: dict[str, dict] = field(default_factory=dict)
    pairs: tuple[Pair, ...] = ()
    baseline: str | None = None
    reported: dict[str, dict[str, float]] = field(default_factory=dict)
    reading: str = ""
    # How the seed study computed its metrics (data range, float or uint8, window, colour) and where that differs from
    # what this space's trials compute; recorded in every run's manifest beside the run's own metric definitions.
    study_metrics: str = ""
    # The profiles whose runs are compared with ``reported`` (empty: every profile); a study's numbers are only
    # comparable under its own recipe where the platform's other profiles change what they measure.
    reported_profiles: tuple[str, ...] = ()

    def reported_for(self, profile: str | None) -> dict[str, dict[str, float]]:
        """The published numbers a run of ``profile`` is compared with: ``reported``, or none where the space keeps
        them for other profiles (``reported_profiles``)."""
        if self.reported_profiles and profile not in self.reported_profiles:
            return {}
        return self.reported

    def __post_init__(self):
        # a space may come from a user's module: name what is wrong with it when it is defined, not mid-sweep
        for key, value, known in (("search", self.search, SEARCHES), ("scheduler", self.scheduler, SCHEDULERS),
                                  ("mode", self.mode, ("max", "min"))):
            if value not in known:
                raise ConfigError(f"space '{self.name}': unknown {key} '{value}'; known: {', '.join(known)}")

    # -- configs -------------------------------------------------------------------------------------------
    def base_config(
        self, profile: str = "quick", overrides: Mapping[str, Any] | None = None, search: str | None = None,
        seeds: int = 1,
    ) -> dict:
        """The base config with the profile's overrides and the user's ``--set`` values applied.

        A ``--set`` value that is a mapping merges into the mapping at its key, as rows do; ``{}`` empties it. A key
        that the ``search`` sets in every trial is refused (see :meth:`check_overrides`).

        Args:
            profile: ``smoke``, ``quick``, ``paper`` or, where the space declares it, ``reproduction``.
            overrides: ``--set`` values by dotted key.
            search: the run's search (``grid``, ``random``, ``optuna``, ``gp``); None refuses only the keys that every
                search sets in every trial.
            seeds: ``--seeds``: above 1, a sampled search sets ``train.seed`` in every trial too.
        """
        if profile not in PROFILES:
            raise ConfigError(f"unknown profile '{profile}'; known: {', '.join(PROFILES)}")
        if profile in DECLARED_ONLY and profile not in self.profiles:
            raise ConfigError(f"space '{self.name}' has no {profile} profile; its profiles: "
                              f"{', '.join(self.profile_names())}")
        self.check_overrides(overrides or {}, search, seeds)
        config = deep_merge(self.base, self.profiles.get(profile, {}))
        for path, value in (overrides or {}).items():
            config = set_path(config, path, value, merge=not (isinstance(value, Mapping) and not value))
        return config

    def profile_names(self) -> list[str]:
        """The profiles this space runs: smoke, quick, paper, and the declared-only ones it declares."""
        return [p for p in PROFILES if p not in DECLARED_ONLY or p in self.profiles]

    def check_overrides(self, overrides: Mapping[str, Any], search: str | None = None, seeds: int = 1) -> None:
        """Refuse a ``--set`` key that every trial of ``search`` sets again, so that its value would have no effect.

        A trial applies its row and parameter values over the base config (:meth:`resolve`), so a key that every row,
        every grid value of a parameter or every sampled value sets never keeps the ``--set`` value. A key that only
        some rows set is accepted: it changes the base that the other rows start from, as the space's own base does
        (the dry run lists the rows), and refusing it would forbid changing a setting that only part of a study
        varies.
        """
        swept = self.swept_keys(search, seeds)
        for path, value in overrides.items():
            for key in sorted(_keys_set(path, value, replace=True)):
                reason = next((why for target, why in swept.items() if _covers(target, key)), None)
                if reason is not None:
                    remedy = "use --seeds" if key == "train.seed" else "choose a space that does not sweep it"
                    raise ConfigError(
                        f"--set {key}: space '{self.name}' sets this key in every trial ({reason}), so the value "
                        f"would have no effect; leave it out, or {remedy}"
                    )

    def swept_keys(self, search: str | None = None, seeds: int = 1) -> dict[str, str]:
        """The dotted keys that every trial of ``search`` sets, each with the reason; None: those of every search.

        A grid trial always sets ``train.seed``; a sampled one with ``seeds`` (``--seeds``) above 1, from its repeat.
        """
        if search == "grid":
            return self._grid_swept()
        if search is not None:
            swept = self._sampled_swept(f"{search} search")
            if seeds > 1:
                swept["train.seed"] = f"each of a configuration's {seeds} repeats sets its seed, 0 to {seeds - 1}"
            return swept
        grid = self._grid_swept()
        if not self.sampled_params() and not self.rows:  # nothing to sample: only grid search runs this space
            return grid
        sampled = self._sampled_swept("random/optuna/gp search")
        both = {}
        for key, why in grid.items():
            for other, other_why in sampled.items():
                if _overlaps(key, other):
                    both[max(key, other, key=len)] = f"{why}; {other_why}"
        return both

    def _grid_swept(self) -> dict[str, str]:
        swept = dict.fromkeys(_set_by_all(r.overrides for r in self.rows), "each of its rows sets it")
        for param in self.params:
            if param.grid:
                values = [_nest(param.path, param.value(v)) for v in param.grid]
                swept.update(dict.fromkeys(_set_by_all(values), f"its grid runs every value of {param.path}"))
        swept["train.seed"] = "each grid trial sets its seed, 0 to --seeds minus 1"
        return swept

    def _sampled_swept(self, searches: str) -> dict[str, str]:
        sampled = self.sampled_params()
        if not sampled:  # the rows are sampled as a categorical
            keys = _set_by_all(r.overrides for r in self.rows)
            return dict.fromkeys(keys, f"{searches} samples its rows, each of which sets it")
        swept: dict[str, str] = {}
        for param in sampled:
            if param.kind == "choice":
                options = param.choices.values() if isinstance(param.choices, Mapping) else param.choices or param.grid
                keys = _set_by_all(_nest(param.path, v) for v in options)
            else:
                keys = {param.path}
            swept.update(dict.fromkeys(keys, f"{searches} samples {param.path}"))
        return swept

    def resolve(self, base: Mapping, trial: Mapping[str, Any]) -> dict:
        """The full config of one trial: ``base`` with the trial's row, parameter values and seed applied."""
        config = dict(base)
        if ROW_KEY in trial:
            config = deep_merge(config, self.row(trial[ROW_KEY]).overrides)
        for param in self.params:
            if param.key in trial:
                config = set_path(config, param.path, param.value(trial[param.key]))
        seed = trial.get(SEED_KEY, trial.get(TRIAL_INDEX_KEY))
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
                raise ConfigError(f"seed {seed!r} is not a whole number; a trial's seed is 0, 1, 2, ...")
            config = set_path(config, "train.seed", int(seed))
        return config

    def label(self, trial: Mapping[str, Any], digits: int = 3) -> str:
        """Readable label of a trial's configuration (without the seed), e.g. ``1e-3→1e-4 @2.5%`` or
        ``lr=0.000747, decay=none``: sampled numbers with ``digits`` significant digits."""
        parts = [str(trial[ROW_KEY])] if ROW_KEY in trial else []
        for param in self.params:
            if param.key in trial:
                value = trial[param.key]
                parts.append(f"{param.name}={_fmt(value, digits)}")
        return ", ".join(parts) or "base"

    def labels(self, trials: Sequence[Mapping[str, Any]]) -> list[str]:
        """The labels of many trials, as :meth:`label` gives them, with as many more digits of the sampled numbers
        as it takes for two different configurations never to share one (trials that share a label are one
        configuration to the tables: their seeds are averaged and compared)."""
        keys = [json.dumps(self._configuration(t), sort_keys=True, default=repr) for t in trials]
        for digits in range(3, 18):  # 17 significant digits tell any two floats apart
            labels = [self.label(t, digits) for t in trials]
            first: dict[str, str] = {}
            if all(first.setdefault(label, key) == key for label, key in zip(labels, keys)):
                break
        return labels

    def _configuration(self, trial: Mapping[str, Any]) -> dict[str, Any]:
        """What a label names: the trial's row and parameter values, not its seed."""
        return {key: trial[key] for key in (ROW_KEY, *(p.key for p in self.params)) if key in trial}

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

    def sampled_params(self) -> list[Param]:
        """The parameters Optuna/random search sample: those with a range or choices."""
        return [p for p in self.params if p.kind != "choice" or p.choices or p.grid]


def _nest(path: str, value: Any) -> dict:
    """``("optim.lr", 0.1)`` -> ``{"optim": {"lr": 0.1}}``."""
    for part in reversed(path.split(".")):
        value = {part: value}
    return value


def _keys_set(path: str, value: Any, replace: bool = False) -> set[str]:
    """The dotted keys that merging ``value`` at ``path`` sets: a mapping sets its leaves (it merges into what is
    there), an empty one nothing, or itself when it ``replace``s what is there (a ``--set`` of ``{}``)."""
    if isinstance(value, Mapping) and value:
        return set().union(*(_keys_set(f"{path}.{k}" if path else str(k), v, replace) for k, v in value.items()))
    if isinstance(value, Mapping) and not replace:
        return set()
    return {path}


def _set_by_all(overrides) -> set[str]:
    """The keys that every one of ``overrides`` (nested dicts merged over a config) sets; none when there are none."""
    sets = [_keys_set("", o) for o in overrides]
    if not sets:
        return set()
    return {key for key in set.union(*sets) if all(any(_covers(k, key) for k in keys) for keys in sets)}


def _covers(outer: str, key: str) -> bool:
    """Whether setting the dotted key ``outer`` to a value that is not a mapping replaces ``key``: the same key, or
    one that holds it."""
    return key == outer or key.startswith(outer + ".")


def _overlaps(key: str, other: str) -> bool:
    """Whether one of the two dotted keys covers the other."""
    return _covers(key, other) or _covers(other, key)


def _fmt(value: Any, digits: int = 3) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)
