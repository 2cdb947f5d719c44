"""The sweep's Optuna study kept in the run directory (``optuna.journal``), which ``optuna-dashboard`` opens while
the sweep runs and after it: every proposed configuration with its params, its metric at each evaluation (by
training step) and the value the sampler was told."""

from __future__ import annotations

import math
import os
import warnings
from typing import Any

import numpy as np
from ray.tune.search import Repeater
from ray.tune.search.optuna import OptunaSearch

from analysis.optuna_study import LIVE_JOURNAL, journal_storage
from sweeps import ray_private
from sweeps.settings.plan import SweepPlan


class StepOptunaSearch(OptunaSearch):
    """Ray's Optuna searcher, reporting intermediate values at the trial's training step (Ray's own counts reports,
    which an evaluation every 50 steps would show as steps 1, 2, 3) and skipping values Optuna refuses (NaN).

    A multi-objective searcher (``metric`` and ``mode`` lists) keeps them when Ray passes the run's single metric (the
    first objective, which the scheduler and the checkpoints use): Ray's would replace the list with it."""

    def set_search_properties(self, metric, mode, config, **spec) -> bool:
        if isinstance(self.metric, list):
            metric, mode = None, None
        return super().set_search_properties(metric, mode, config, **spec)

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if isinstance(self.metric, list):
            return  # Optuna keeps no intermediate values of multi-objective studies
        study_trial = ray_private.optuna_running_trial(self, trial_id)
        value, step = result.get(self.metric), result.get("step")
        if study_trial is not None and isinstance(value, (int, float)) and math.isfinite(value) \
                and isinstance(step, int):
            study_trial.report(float(value), step)


class SeedRepeater(Repeater):
    """Ray's Repeater, which tells the sampler the mean over seeds when a configuration's seeds have all ended; it
    also passes on the evaluations of the configuration's first seed, so that the study has intermediate values."""

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if ray_private.repeater_first_of_group(self, trial_id):
            self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, **kwargs) -> None:
        """Ray's, and with several objectives the mean over seeds of each (Ray's averages one metric only)."""
        metrics = self.searcher.metric
        if not isinstance(metrics, list):
            super().on_trial_complete(trial_id, result, **kwargs)
            return
        group = ray_private.repeater_group(self, trial_id)
        group.report(trial_id, tuple(float((result or {}).get(m, math.nan)) for m in metrics))
        if group.finished_reporting():
            with warnings.catch_warnings():  # an objective no seed reported stays NaN: Optuna records the trial FAIL
                warnings.simplefilter("ignore", RuntimeWarning)
                means = np.nanmean(np.array(group.scores(), dtype=float), axis=0)
            self.searcher.on_trial_complete(group.primary_trial_id, result=dict(zip(metrics, means.tolist())),
                                            **kwargs)


def study_storage(plan: SweepPlan) -> dict[str, Any]:
    """The searcher's storage arguments: the journal in the run directory, named after the run (nothing for a run
    on remote storage, whose journal could not be appended to in place: ``python -m analysis RUN --optuna`` writes
    one from a copy of the run)."""
    if plan.settings.remote_storage:
        return {}
    run_dir = plan.run_dir
    return {"storage": journal_storage(os.path.join(run_dir, LIVE_JOURNAL)),
            "study_name": os.path.basename(run_dir.rstrip("/"))}
