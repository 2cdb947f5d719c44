"""An objective the trials do not report stops the sweep at the first result, in one line naming what they report.

Which metrics a trial reports depends on its task and the user's registered metrics, so it is known once the first
trial has reported. Ray checks its own metrics in every result (the run's metric, and the searcher's objectives),
before any callback sees it, and fails ``fit()`` with a traceback naming the missing one; a grid's later objectives,
which no Ray object uses, :class:`ObjectivesCheck` checks. :func:`fit_checking_objectives` turns either into the
one-line :class:`~restore_core.errors.UserError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ray.tune import Callback, ResultGrid
from ray.tune.error import TuneError

from restore_core.errors import UserError
from sweeps.settings.objectives import Objective, missing_objectives

# Ray's message for a result without a metric it expects, and the result it quotes (its keys: what the trial reports)
RAY_MISSING = re.compile(r"did not include the specified metric\(s\) `([^`]+)`")
RAY_RESULT_KEY = re.compile(r"'((?:val|cost)/[^']+)': ")


class ObjectivesCheck(Callback):
    """Stops the sweep at the first result that lacks an objective, keeping the one-line message."""

    def __init__(self, objectives: list[Objective]):
        self.objectives = objectives
        self.message: str | None = None

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        # every evaluation the training loop reports has its step; Ray's own results (a trial's end) have none
        if self.message is None and "step" in result:
            self.message = missing_objectives(self.objectives, set(result))
            if self.message:
                raise UserError(self.message)


def fit_checking_objectives(fit: Callable[[], ResultGrid], check: ObjectivesCheck) -> ResultGrid:
    """``fit()``, with an objective the trials do not report raised as one :class:`UserError` line.

    Raises:
        UserError: an objective missing from the trials' results (the run directory keeps the trials that started).
    """
    try:
        return fit()
    except (TuneError, ValueError) as error:
        text = str(error)
        message = check.message
        if message is None and RAY_MISSING.search(text):
            reported = set(RAY_RESULT_KEY.findall(text))
            message = missing_objectives(check.objectives, reported) if reported else None
        if message is None:
            raise
        raise UserError(message) from None
