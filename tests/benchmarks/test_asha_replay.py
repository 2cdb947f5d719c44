"""The ASHA replay of ``benchmarks/asha_replay.py`` makes the decisions Ray's own ASHA bracket makes."""

from __future__ import annotations

import importlib.util
import os
from types import SimpleNamespace

import numpy as np

from tests.conftest import ROOT


def _replay_module():
    spec = importlib.util.spec_from_file_location("asha_replay", os.path.join(ROOT, "benchmarks", "asha_replay.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_trial_at_a_time_stops_where_rays_bracket_stops():
    from ray.tune.schedulers import TrialScheduler
    from ray.tune.schedulers.async_hyperband import _Bracket

    rng = np.random.default_rng(3)
    steps = range(100, 1201, 100)
    curves = [dict(zip(steps, np.cumsum(rng.normal(1.0, 1.5, len(steps))))) for _ in range(12)]
    _, _, stopped = _replay_module().replay(curves, list(range(12)), 100, 3, 1200, concurrency=1)
    bracket = _Bracket(100, 1200, 3, s=0)
    for index, curve in enumerate(curves):
        trial = SimpleNamespace(trial_id=str(index))
        ray_stop = next((s for s in steps if bracket.on_result(trial, s, curve[s]) == TrialScheduler.STOP), 1200)
        assert stopped[index] == ray_stop, index
    assert 100 in stopped and 1200 in stopped  # the check saw both early stops and trials trained to the end


def test_two_at_a_time_the_replay_stops_where_the_sweeps_schedulers_stop():
    from ray.tune.schedulers import ASHAScheduler, TrialScheduler

    from restore_core.sweep.asha import RecheckingASHA

    def scheduler_judge(kind):
        sched = kind(time_attr="step", metric="m", mode="max", grace_period=100, max_t=1200, reduction_factor=3)

        def judge(trial: int, step: int, value: float) -> bool:
            ray_trial = SimpleNamespace(trial_id=str(trial))
            if ray_trial.trial_id not in sched._trial_info:
                sched.on_trial_add(None, ray_trial)
            return sched.on_trial_result(None, ray_trial, {"step": step, "m": value}) == TrialScheduler.STOP
        return judge

    module = _replay_module()
    rng = np.random.default_rng(5)
    steps = range(100, 1201, 100)
    curves = [dict(zip(steps, np.cumsum(rng.normal(1.0, 1.5, len(steps))))) for _ in range(12)]
    differ = 0
    for _ in range(5):
        order = list(rng.permutation(12))
        plain = module.replay(curves, order, 100, 3, 1200, 2)[2]
        recheck = module.replay(curves, order, 100, 3, 1200, 2, recheck=True)[2]
        assert plain == module.replay(curves, order, 100, 3, 1200, 2, judge=scheduler_judge(ASHAScheduler))[2]
        assert recheck == module.replay(curves, order, 100, 3, 1200, 2, judge=scheduler_judge(RecheckingASHA))[2]
        assert all(r <= p for r, p in zip(recheck, plain))  # it only stops trials earlier
        differ += recheck != plain
    assert differ  # the orders tried include some where rechecking stops a trial Ray's rule lets on


def test_the_pick_counts_only_trials_trained_to_the_end():
    module = _replay_module()
    labels = ["a", "a", "b", "b"]
    curves = [{100: 5.0, 200: 9.0}, {100: 4.0, 200: 7.0}, {100: 6.0, 200: 10.0}, {100: 1.0, 200: 2.0}]
    assert module.config_means(labels, curves) == {"a": 8.0, "b": 6.0}
    # b's strong trial was stopped at the first rung: only its weak one finished, so a (8.0) beats b (2.0)
    assert module.picked(labels, curves, [200, 200, 100, 200], 200) == "a"
    assert module.picked(labels, curves, [200, 200, 200, 100], 200) == "b"  # b's finished trial: 10.0
    assert module.picked(labels, curves, [200, 200, 200, 100], 200, mode="min") == "a"  # a's mean of -min = -4.5
