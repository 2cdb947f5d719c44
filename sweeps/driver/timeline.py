"""The driver's side of a trial's timeline (:mod:`restore_core.timeline`): when Ray Tune starts a trial, receives
each of its results and ends it, marked in the same file as the workers' parts (``benchmarks/trial_cost.py
--timeline`` reads them together)."""

from __future__ import annotations

import os

from ray.tune import Callback

from restore_core.timeline import ENV, mark


class TimelineMarks(Callback):
    """Marks ``driver: start``, ``driver: result`` and ``driver: end`` with the trial's id."""

    def on_trial_start(self, iteration, trials, trial, **info):
        mark("driver: start", trial=trial.trial_id)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        mark("driver: result", trial=trial.trial_id, step=result.get("step"))

    def on_trial_complete(self, iteration, trials, trial, **info):
        mark("driver: end", trial=trial.trial_id)

    def on_trial_error(self, iteration, trials, trial, **info):
        mark("driver: end", trial=trial.trial_id, error=True)


def timeline_callbacks() -> list[Callback]:
    """The marks, when the timeline is on (``RESTORE_TIMELINE`` set); else none, and Ray calls nothing more."""
    return [TimelineMarks()] if os.environ.get(ENV) else []
