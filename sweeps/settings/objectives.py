"""``--objective METRIC:DIRECTION``: what a sweep optimises, once or several times (a multi-objective search).

The first objective is the run's metric: ASHA stops trials on it, it selects each trial's checkpoint, and the tables
rank on it. With two or more, Optuna's sampler (random, TPE, GP) proposes configurations on all of them together, and
the analysis marks the Pareto-optimal configurations. Without ``--objective``, the space's metric and mode.
"""

from __future__ import annotations

from dataclasses import dataclass

from analysis.load import COST_KEYS
from restore_core.errors import UserError

DIRECTIONS = ("max", "min")
EXAMPLE = "--objective val/psnr:max --objective cost/latency_ms:min"
ACCEPTED = f"val/<a metric the trials report> (val/psnr, val/ssim, ...) or {', '.join(COST_KEYS)}"


@dataclass(frozen=True)
class Objective:
    """One metric and which way is better (``max`` or ``min``)."""

    metric: str
    mode: str

    def __str__(self) -> str:
        return f"{self.metric}:{self.mode}"


def parse_objective(text: str) -> Objective:
    """``val/psnr:max`` as an :class:`Objective`.

    Raises:
        UserError: no direction or one other than max/min, or a metric that is neither ``val/...`` nor a cost.
    """
    metric, sep, mode = text.strip().rpartition(":")
    if not sep or not metric:
        raise UserError(f"--objective {text}: expected METRIC:DIRECTION with a direction of max or min, e.g. {EXAMPLE}")
    if mode not in DIRECTIONS:
        raise UserError(f"--objective {text}: unknown direction '{mode}'; known: max, min (e.g. {EXAMPLE})")
    name = metric.removeprefix("val/")
    if metric not in COST_KEYS and (not metric.startswith("val/") or not name or "/" in name):
        raise UserError(f"--objective {text}: unknown metric '{metric}'; accepted: {ACCEPTED}")
    return Objective(metric, mode)


def parse_objectives(texts: tuple[str, ...] | list[str] | None) -> list[Objective]:
    """Every ``--objective`` checked: each as :func:`parse_objective`, none twice, the first a validation metric
    (ASHA ranks trials on it at every evaluation, and it selects their checkpoints; a cost is the same at every
    evaluation). None or empty: no objective given.

    Raises:
        UserError: naming the objective at fault.
    """
    objectives = [parse_objective(text) for text in texts or ()]
    metrics = [o.metric for o in objectives]
    twice = next((m for i, m in enumerate(metrics) if m in metrics[:i]), None)
    if twice:
        raise UserError(f"--objective {twice} is given twice; give each metric once, with its direction")
    if objectives and not objectives[0].metric.startswith("val/"):
        raise UserError(f"--objective {objectives[0]}: the first objective must be a validation metric (val/...), "
                        f"which ASHA stops trials on and which selects each trial's checkpoint; put the cost after "
                        f"it, e.g. {EXAMPLE}")
    return objectives


def missing_objectives(objectives: list[Objective], reported: set[str]) -> str | None:
    """The one-line error for objectives the trials do not report (None: they report all), naming what they report."""
    missing = [str(o) for o in objectives if o.metric not in reported]
    if not missing:
        return None
    known = sorted(m for m in reported if m.startswith("val/") or m in COST_KEYS)
    return (f"--objective {missing[0]}: the trials report no metric '{missing[0].rpartition(':')[0]}'; they report "
            f"{', '.join(known)}")
