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


def test_two_at_a_time_a_promotion_is_rechecked_when_the_next_trial_arrives():
    # grace 100, max_t 300, reduction 3: one rung, at step 100. a (1.0) reaches it first and goes on, b (5.0) with it;
    # c starts when a slot frees and stops at the rung (3.0 is below the best third of {1, 5}).
    curves = [{100: 1.0, 200: 1.0, 300: 1.0}, {100: 5.0, 200: 5.0, 300: 5.0}, {100: 3.0, 200: 3.0, 300: 3.0}]
    module = _replay_module()
    steps, best, stopped = module.replay(curves, [0, 1, 2], 100, 3, 300, concurrency=2)
    assert stopped == [300, 300, 100] and steps == 700 and best == 5.0
    # rechecked, a stops at its next report, once b's 5.0 stands beside its 1.0 at the rung
    steps, best, stopped = module.replay(curves, [0, 1, 2], 100, 3, 300, concurrency=2, recheck=True)
    assert stopped == [200, 300, 100] and steps == 600 and best == 5.0
    # for a metric to minimise the same curves negated give the same stops
    negated = [{s: -v for s, v in c.items()} for c in curves]
    assert module.replay(negated, [0, 1, 2], 100, 3, 300, concurrency=2, mode="min", recheck=True)[2] == stopped


def test_with_a_quorum_early_arrivals_wait_and_the_outranked_one_stops_while_waiting():
    # grace 100, max_t 300, reduction 3, quorum 3, two workers. a (1.0) and b (5.0) reach the rung first and each
    # waits (fewer than 3 recorded, c and d waiting to start); a, outranked by b, stops at the next free worker. c
    # (3.0) stops at the rung; with nothing left to start b resumes, and d (4.0) goes on: 4 ranks in {1, 3, 4, 5}.
    curves = [{100: v, 200: v, 300: v} for v in (1.0, 5.0, 3.0, 4.0)]
    module = _replay_module()
    steps, best, stopped = module.replay(curves, [0, 1, 2, 3], 100, 3, 300, concurrency=2, recheck=True, quorum=3)
    assert stopped == [100, 300, 100, 300] and steps == 800 and best == 5.0
    # without the quorum a trains on until b's value stands beside its own at the rung
    steps, _, stopped = module.replay(curves, [0, 1, 2, 3], 100, 3, 300, concurrency=2, recheck=True)
    assert stopped == [200, 300, 100, 300] and steps == 900


def test_the_pick_counts_only_trials_trained_to_the_end():
    module = _replay_module()
    labels = ["a", "a", "b", "b"]
    curves = [{100: 5.0, 200: 9.0}, {100: 4.0, 200: 7.0}, {100: 6.0, 200: 10.0}, {100: 1.0, 200: 2.0}]
    assert module.config_means(labels, curves) == {"a": 8.0, "b": 6.0}
    # b's strong trial was stopped at the first rung: only its weak one finished, so a (8.0) beats b (2.0)
    assert module.picked(labels, curves, [200, 200, 100, 200], 200) == "a"
    assert module.picked(labels, curves, [200, 200, 200, 100], 200) == "b"  # b's finished trial: 10.0
    assert module.picked(labels, curves, [200, 200, 200, 100], 200, mode="min") == "a"  # a's mean of -min = -4.5


def test_a_resumed_trial_reports_every_step_from_where_it_paused():
    # grace 100, max_t 500, reduction 3 (rungs at 100 and 300), quorum 3, two workers, no recheck. a (3.0) and b (7.0)
    # wait at rung 100; a, outranked, stops when b pauses, and c and d start at t=100. At t=200 c (6.0) completes the
    # quorum and goes on, d (1.0) stops, and b resumes from step 100: it reports steps 200 to 500 at t=300 to 600,
    # beside c. c, started before b resumed, is first at rung 300 and goes on: both train to the end. b's reports from
    # its first start (step 300 at t=300) are void: taking them would make b skip step 200, reach rung 300 first and
    # stop c there (6.0 below b's 7.0).
    steps = range(100, 501, 100)
    curves = [{step: value for step in steps} for value in (3.0, 7.0, 6.0, 1.0)]
    used, best, stopped = _replay_module().replay(curves, [0, 1, 2, 3], 100, 3, 500, concurrency=2, quorum=3)
    assert stopped == [100, 500, 500, 100] and used == 1200 and best == 7.0


def test_with_the_race_lsid_lr_smoke_sweeps_stop_at_least_five_at_the_rung_in_any_order():
    """The bound tests/search_spaces/test_lsid_lr.py asserts of a real sweep (ten trials, two at a time, one rung at
    step 2 of 4 keeping the best sixth, the race with lsid_lr's noise): over 500 random value sets, with the smoke
    profile's ties (rows that are the same computation up to step 2), in random orders."""
    replay = _replay_module().replay
    rng = np.random.default_rng(5)
    groups = [0, 1, 0, 2, 3, 4, 5, 5, 6, 6]  # the default schedule is 1e-4 up to step 2; decays start after it
    at_the_rung = []
    for _ in range(500):
        values = rng.normal(6.46, rng.choice([0.01, 0.5]), 7)  # within the race's margin, or far outside it
        curves = [{2: float(values[g]), 4: float(values[g]) + float(rng.normal(0, 0.01))} for g in groups]
        _, _, stopped = replay(curves, list(rng.permutation(10)), 2, 6, 4, concurrency=2, recheck=True, noise=0.18)
        at_the_rung.append(stopped.count(2))
    assert min(at_the_rung) >= 5 and max(at_the_rung) <= 9
