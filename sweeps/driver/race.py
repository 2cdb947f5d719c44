"""The race behind ``--asha-noise``: trials compared by the best value each has reached, at the same step, with a
margin of the validation metric's noise measured from repeated evaluations.

Each trial reports its metric at every evaluation. What a trial would deliver if stopped now is the best of those
values (the sweep keeps each trial's best evaluation), so two trials are compared by their best value up to the
latest step both have reached. One trails another when it is lower there by more than the noise of a difference of
two evaluations, ``√2 σ`` (``σ``: the noise of one evaluation).

``σ`` is measured from evaluations repeated along training: a value against the mean of its two neighbours,
``y_k − (y_{k−1} + y_{k+1}) / 2``, has variance ``1.5 σ²`` where the curve is locally straight. Pooled over every
trial and taken robustly (the median of their sizes), so that a diverging trial's drops and a fast learner's bend
weigh no more than any other evaluation. Measured over a whole FIFO run of a space (``benchmarks/asha_replay.py``
prints it), it is a property of the space's metric, data and training, which the space declares; measured within a
sweep as it runs (``--asha-noise auto``), the first evaluations' bends inflate it, so the race starts late and
cautiously there.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping

# Second differences needed before the noise counts as measured within a sweep: five, so that one trial's first
# evaluations cannot set the margin alone.
MIN_RESIDUALS = 5
MAD_TO_SIGMA = 1.4826  # a normal variable's standard deviation over its median absolute deviation


def measured_noise(curves: Iterable[Mapping[int, float]], start: int = 0) -> float | None:
    """The noise ``σ`` of one evaluation in ``curves`` (each ``{step: value}``), from the evaluations at ``start``
    and later; None with fewer than :data:`MIN_RESIDUALS` second differences."""
    residuals = []
    for values in curves:
        series = [values[step] for step in sorted(values) if step >= start]
        residuals += [abs(b - (a + c) / 2) for a, b, c in zip(series, series[1:], series[2:])]
    if len(residuals) < MIN_RESIDUALS:
        return None
    return MAD_TO_SIGMA * statistics.median(residuals) / math.sqrt(1.5)


class NoiseRace:
    """Every trial's values (signed so that higher is better) by step, and who trails whom.

    Args:
        start: the first rung's step; earlier evaluations are neither compared nor used for the noise.
        sigma: the noise of one evaluation, measured beforehand over a FIFO run of the same space; None: measured
            from this sweep's evaluations as they come (:func:`measured_noise`).
    """

    def __init__(self, start: int, sigma: float | None = None):
        self.start, self.sigma = start, sigma
        self.values: dict[str, dict[int, float]] = {}  # trial -> step -> value

    def record(self, trial_id: str, step: int, value: float) -> None:
        """A trial's evaluation (a report at a step it has already reported at replaces that report)."""
        self.values.setdefault(trial_id, {})[step] = value

    def noise(self) -> float | None:
        """``σ``: the one given, else measured from the evaluations so far (None: not measured yet)."""
        if self.sigma is not None:
            return self.sigma
        return measured_noise(self.values.values(), self.start)

    def margin(self) -> float | None:
        """How far one trial's best value must lie below another's to trail it (None: not measured yet)."""
        sigma = self.noise()
        return None if sigma is None else math.sqrt(2) * sigma

    def trailing(self, trial_id: str) -> tuple[str, int, float] | None:
        """The first trial that ``trial_id`` trails, the step they are compared at and the margin; None when it
        trails none (or the noise is not measured yet)."""
        margin = self.margin()
        if margin is None or trial_id not in self.values:
            return None
        for other_id in self.values:
            if other_id == trial_id:
                continue
            step = min(self.latest(trial_id), self.latest(other_id))
            if step < self.start:
                continue
            mine, theirs = self.best_by(trial_id, step), self.best_by(other_id, step)
            if mine is not None and theirs is not None and mine < theirs - margin:
                return other_id, step, margin
        return None

    def best_by(self, trial_id: str, step: int) -> float | None:
        """The trial's best value up to ``step`` (None: it has no evaluation there yet)."""
        return max((value for at, value in self.values[trial_id].items() if at <= step), default=None)

    def latest(self, trial_id: str) -> int:
        """The last step the trial has reported at (0: none)."""
        return max(self.values.get(trial_id, {0: 0}))
