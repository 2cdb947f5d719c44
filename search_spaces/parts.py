"""The pieces a search space is declared from: rows (the study's settings that change several keys at once),
parameters (one hyperparameter's grid values and range) and pairs (comparisons the study made)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


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


@dataclass(frozen=True)
class Pair:
    """A comparison the study made: ``a − b`` of the metric, per seed. ``kind`` names the family of pairs."""

    a: str
    b: str
    kind: str = "pair"

    @property
    def label(self) -> str:
        return f"{self.a} − {self.b}"
