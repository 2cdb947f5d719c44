"""ASHA that checks its promotions again: Ray's ``ASHAScheduler``, plus one rule for small sweeps.

Ray's ASHA judges a trial once at each rung, against the values recorded there before it: the first trial to reach
a rung always goes on, and the second goes on unless it is worse than the first. With the ten trials of a study's
grid and two running at a time, those early arrivals decide much of what a sweep spends (a slow learner that
reports first trains to the end). ``--asha-recheck`` keeps every decision of Ray's rule and adds one: at each later
result, a trial is judged again at the highest rung it has passed, against everyone else recorded there by then,
and stops once it would no longer be promoted. Replayed over ``lsid_lr``'s FIFO grid runs it spends less on every
seed at the same best trial (docs/PERFORMANCE.md); with the best third kept (reduction 3) the replays lose the
best schedule more often, so it is the space's setting, not the platform's.
"""

from __future__ import annotations

from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler


class RecheckingASHA(AsyncHyperBandScheduler):
    """Ray's ASHA (one bracket); a promoted trial stops as soon as the later arrivals at its highest rung outrank it.

    Uses the bracket's bookkeeping (``_trial_info``, ``_rungs``, ``cutoff``), which
    ``tests/restore_core/sweep/test_asha.py`` checks against this Ray's decisions.
    """

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        bracket = self._trial_info.get(trial.trial_id)
        before = _highest_rung(bracket, trial.trial_id)
        action = super().on_trial_result(tune_controller, trial, result)
        if action != TrialScheduler.CONTINUE or before is None or _highest_rung(bracket, trial.trial_id) != before:
            return action  # stopped, not yet promoted anywhere, or just judged at a new rung by Ray's rule
        recorded = dict(bracket._rungs)[before]
        others = {key: value for key, value in recorded.items() if key != trial.trial_id}
        cutoff = bracket.cutoff(others)
        if cutoff is not None and recorded[trial.trial_id] < cutoff:
            self._num_stopped += 1
            return TrialScheduler.STOP
        return action


def _highest_rung(bracket, trial_id: str) -> int | None:
    """The highest rung (in steps) where ``trial_id`` has a recorded value; the bracket keeps rungs highest first."""
    if bracket is None:
        return None
    return next((milestone for milestone, recorded in bracket._rungs if trial_id in recorded), None)
