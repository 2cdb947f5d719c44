"""ASHA for small sweeps: Ray's ``ASHAScheduler``, plus two rules against its bias for early arrivals.

Ray's ASHA judges a trial once at each rung, against the values recorded there before it: the first trial to reach
a rung always goes on, and the second goes on unless it is worse than the first. With the ten trials of a study's
grid and two running at a time, those early arrivals decide much of what a sweep spends (a slow learner that
reports first trains to the end). Both rules keep every stop Ray's rule makes and add their own:

- ``--asha-recheck``: at each later result, a trial is judged again at the highest rung it has passed, against
  everyone else recorded there by then, and stops once it would no longer be promoted.
- ``--asha-quorum N``: a trial that Ray's rule lets on from a rung where fewer than N trials (itself included) are
  recorded waits (Ray pauses it, with a checkpoint) while other trials are waiting to start. A worker that comes
  free first stops the waiting trials that the trials recorded since outrank at their rung, then resumes the best
  waiting trial whose rung has N trials recorded (any waiting trial once nothing else is left to start), and
  otherwise starts the next trial. A trial never waits when nothing else could use its worker.

Replayed over ``lsid_lr``'s FIFO grid runs both spend less at the same best trial (docs/PERFORMANCE.md); with the
best third kept (reduction 3, the platform's default) both lose the best configuration more often on some spaces,
so they are the space's settings, not the platform's. With neither, it decides as Ray's ASHA does.

A resumed sweep (``--resume``) gets back the scheduler the sweep started with, but not what it recorded: Ray saves
the trials' state and not the scheduler's. Each trial that has reported is recorded at its rungs again from its
``result.json`` as Ray's rule would have recorded it, so that ended trials still count at their rungs.
"""

from __future__ import annotations

import json

from ray.tune.experiment import Trial
from ray.tune.schedulers import AsyncHyperBandScheduler, TrialScheduler

from sweeps.driver.race import NoiseRace
from sweeps.ray_private import (
    asha_bracket,
    asha_count_stop,
    asha_cutoff,
    asha_record,
    asha_rungs,
    asha_signed_report,
    read_trial_file,
)


class RecheckingASHA(AsyncHyperBandScheduler):
    """Ray's ASHA (one bracket) with ``recheck`` and ``quorum`` (see the module).

    Reads and adds to the bracket's bookkeeping through :mod:`sweeps.ray_private`, which
    ``tests/sweeps/test_ray_private.py`` checks against the installed Ray.
    """

    def __init__(self, *args, recheck: bool = True, quorum: int = 1, noise: float | str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._recheck = recheck
        self._quorum = quorum
        self._waiting: dict[str, int] = {}  # paused trial → the rung it waits at
        # --asha-noise (a measured σ, or "auto"): the race (sweeps/driver/race.py) and the trials it holds back, by
        # the step they reached
        self._race = None if noise is None else NoiseRace(kwargs.get("grace_period", 1),
                                                          None if noise == "auto" else float(noise))
        self._held: dict[str, int] = {}

    def on_trial_add(self, tune_controller, trial) -> None:
        super().on_trial_add(tune_controller, trial)
        if trial.has_reported_at_least_once:  # a trial restored by --resume (or requeued after an error)
            for result in _reports(trial):  # rungs it is recorded at already keep their value
                asha_record(self, trial, result)
                self._race_record(trial.trial_id, result)

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        if self._race is not None:
            return self._racing_result(tune_controller, trial, result)
        bracket = asha_bracket(self, trial.trial_id)
        before = _highest_rung(bracket, trial.trial_id)
        action = super().on_trial_result(tune_controller, trial, result)
        if action != TrialScheduler.CONTINUE:
            return action
        rung = _highest_rung(bracket, trial.trial_id)
        if rung != before:  # just let on from a new rung by Ray's rule
            if len(_recorded(bracket, rung)) < self._quorum and _any_pending(tune_controller):
                self._waiting[trial.trial_id] = rung
                return TrialScheduler.PAUSE
            return action
        if self._recheck and rung is not None and _outranked(bracket, trial.trial_id, rung):
            asha_count_stop(self)
            return TrialScheduler.STOP
        return action

    def choose_trial_to_run(self, tune_controller) -> Trial | None:
        if self._race is not None:
            return self._racing_choice(tune_controller)
        trials = tune_controller.get_trials()
        waiting = [t for t in trials if t.status == Trial.PAUSED and t.trial_id in self._waiting]
        for trial in waiting:
            bracket = asha_bracket(self, trial.trial_id)
            if _outranked(bracket, trial.trial_id, self._waiting[trial.trial_id]):
                del self._waiting[trial.trial_id]
                asha_count_stop(self)
                tune_controller.stop_trial(trial)
        waiting = [t for t in waiting if t.trial_id in self._waiting]
        pending = any(t.status == Trial.PENDING for t in trials)
        ready = [t for t in waiting if not pending or len(self._recorded_at(t)) >= self._quorum]
        if ready:
            best = max(ready, key=lambda t: self._recorded_at(t)[t.trial_id])
            del self._waiting[best.trial_id]
            return best
        return super().choose_trial_to_run(tune_controller)  # the next trial to start (none waits unready then)

    def on_trial_remove(self, tune_controller, trial) -> None:
        self._waiting.pop(trial.trial_id, None)
        self._held.pop(trial.trial_id, None)
        super().on_trial_remove(tune_controller, trial)

    def on_trial_complete(self, tune_controller, trial, result: dict) -> None:
        self._waiting.pop(trial.trial_id, None)
        self._held.pop(trial.trial_id, None)
        super().on_trial_complete(tune_controller, trial, result)

    def on_trial_error(self, tune_controller, trial) -> None:
        self._held.pop(trial.trial_id, None)
        super().on_trial_error(tune_controller, trial)

    def waiting_at(self, trial_id: str) -> int | None:
        """The step where the paused trial ``trial_id`` waits (its rung, or with ``noise`` the step it reached);
        None when it is not waiting."""
        return self._waiting.get(trial_id, self._held.get(trial_id))

    # -- --asha-noise: the race, and trials kept in step -----------------------------------------------------------
    def _race_record(self, trial_id: str, result: dict) -> None:
        report = asha_signed_report(self, result)
        if self._race is not None and report is not None:
            self._race.record(trial_id, int(report[0]), report[1])

    def _racing_result(self, tune_controller, trial, result: dict) -> str:
        """Ray's rule and the recheck, then the race: a trial that trails another by more than the noise stops; one
        that is ahead of a trial that is not running (not started yet, or held more than one evaluation behind)
        gives its worker up, so that trials are compared at the same steps before any runs ahead."""
        previous = self._race.latest(trial.trial_id)
        self._held.pop(trial.trial_id, None)
        self._race_record(trial.trial_id, result)
        action = super().on_trial_result(tune_controller, trial, result)
        if action != TrialScheduler.CONTINUE:
            return action
        if self._outranked_at_rung(trial.trial_id) or self._race.trailing(trial.trial_id) is not None:
            asha_count_stop(self)
            return TrialScheduler.STOP
        step = self._race.latest(trial.trial_id)
        behind = [other for other in (tune_controller.get_trials() if tune_controller is not None else [])
                  if other.trial_id != trial.trial_id and (other.status == Trial.PENDING or (
                      other.trial_id in self._held and self._held[other.trial_id] < previous))]
        if step < self._max_t and behind:
            self._held[trial.trial_id] = step
            return TrialScheduler.PAUSE
        return action

    def _outranked_at_rung(self, trial_id: str) -> bool:
        """With the recheck: whether the trials recorded at the highest rung ``trial_id`` reached outrank it now."""
        bracket = asha_bracket(self, trial_id)
        rung = _highest_rung(bracket, trial_id)
        return self._recheck and rung is not None and _outranked(bracket, trial_id, rung)

    def _racing_choice(self, tune_controller) -> Trial | None:
        """Stop the held trials that trail by now, or that the trials recorded since outrank at their rung (with
        the recheck); then start the next trial, else resume the held trial that is furthest behind (the best of
        them at a tie)."""
        trials = tune_controller.get_trials()
        for trial in trials:
            if trial.status == Trial.PAUSED and trial.trial_id in self._held and (
                    self._race.trailing(trial.trial_id) is not None or self._outranked_at_rung(trial.trial_id)):
                del self._held[trial.trial_id]
                asha_count_stop(self)
                tune_controller.stop_trial(trial)
        pending = next((trial for trial in trials if trial.status == Trial.PENDING), None)
        if pending is not None:
            return pending
        held = [trial for trial in trials if trial.status == Trial.PAUSED and trial.trial_id in self._held]
        if held:
            return min(held, key=lambda t: (self._held[t.trial_id],
                                            -self._race.best_by(t.trial_id, self._held[t.trial_id])))
        return super().choose_trial_to_run(tune_controller)

    def _recorded_at(self, trial) -> dict[str, float]:
        return _recorded(asha_bracket(self, trial.trial_id), self._waiting[trial.trial_id])


def _highest_rung(bracket, trial_id: str) -> int | None:
    """The highest rung (in steps) where ``trial_id`` has a recorded value; the bracket keeps rungs highest first."""
    if bracket is None:
        return None
    return next((milestone for milestone, recorded in asha_rungs(bracket) if trial_id in recorded), None)


def _recorded(bracket, rung: int) -> dict[str, float]:
    return dict(asha_rungs(bracket))[rung]


def _outranked(bracket, trial_id: str, rung: int) -> bool:
    """Whether the others recorded at ``rung`` now put ``trial_id`` below the cut Ray's rule promotes."""
    recorded = _recorded(bracket, rung)
    cutoff = asha_cutoff(bracket, {key: value for key, value in recorded.items() if key != trial_id})
    return cutoff is not None and recorded[trial_id] < cutoff


def _reports(trial) -> list[dict]:
    """The reports in the trial's ``result.json`` under the run's storage, in the order they were written (none when
    it cannot be read; a line cut short is skipped)."""
    data = read_trial_file(trial, "result.json")
    if data is None:
        return []
    text = data.decode("utf-8", errors="replace")
    reports = []
    for line in text.splitlines():
        try:
            report = json.loads(line)
        except ValueError:
            continue
        if isinstance(report, dict):
            reports.append(report)
    return reports


def _any_pending(tune_controller) -> bool:
    """Whether a trial is waiting to start (a pausing trial's worker would have something to do)."""
    return tune_controller is not None and any(t.status == Trial.PENDING for t in tune_controller.get_trials())
