"""--asha-noise: the noise of one evaluation measured from repeated evaluations, trials compared by their best value
at their latest common step, and ASHA with the race keeping trials in step."""

from __future__ import annotations

import math

import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from sweeps.driver.asha import RecheckingASHA
from sweeps.driver.race import MAD_TO_SIGMA, NoiseRace, measured_noise

CONTINUE, STOP, PAUSE = TrialScheduler.CONTINUE, TrialScheduler.STOP, TrialScheduler.PAUSE


def zigzag(amplitude: float, steps=range(100, 1300, 100), slope: float = 0.01) -> dict[int, float]:
    """A straight curve, ±amplitude at alternate evaluations: each value lies 2·amplitude from its neighbours' mean."""
    return {s: slope * s + amplitude * (-1) ** (s // 100) for s in steps}


def test_the_noise_of_a_zigzag_is_its_second_difference_scaled_to_one_evaluation():
    sigma = measured_noise([zigzag(0.1), zigzag(0.1, slope=-0.02)])
    assert sigma == pytest.approx(MAD_TO_SIGMA * 0.2 / math.sqrt(1.5))  # |y_k − (y_k−1 + y_k+1)/2| = 0.2
    # a straight or flat curve has none; a bend adds its own second difference at one evaluation only
    assert measured_noise([{s: 0.01 * s for s in range(100, 1300, 100)}]) == 0
    bent = {s: min(s, 500) / 100 for s in range(100, 1300, 100)}  # a rise that flattens at step 500
    assert measured_noise([bent]) == 0  # one second difference of 0.5 among ten zeros


def test_the_noise_is_robust_to_a_diverging_trial_and_needs_five_differences():
    curves = [zigzag(0.1), zigzag(0.1), {100: 20.0, 200: 5.0, 300: 22.0, 400: 6.0}]  # two 15 dB drops
    assert measured_noise(curves) == pytest.approx(MAD_TO_SIGMA * 0.2 / math.sqrt(1.5))
    # |y_k − (y_k−1 + y_k+1)/2| = 0.75, 1.0, 1.25, 1.5, 1.5: the median, 1.25
    curve = {100: 1.0, 200: 2.0, 300: 1.5, 400: 3.0, 500: 2.0, 600: 4.0, 700: 3.0}
    assert measured_noise([curve]) == pytest.approx(MAD_TO_SIGMA * 1.25 / math.sqrt(1.5))
    assert measured_noise([{s: v for s, v in curve.items() if s <= 500}]) is None  # three differences
    assert measured_noise([zigzag(0.1)], start=1000) is None  # from step 1000 on: one difference


def test_a_trial_trails_by_its_best_value_at_the_latest_step_both_reached():
    race = NoiseRace(start=100, sigma=0.18)  # margin √2 × 0.18 = 0.255
    constant = [18.82, 22.12, 22.13, 23.16, 23.77, 23.70, 22.05, 24.07]  # 1e-3 on lsid_lr's quick profile
    decayed = [18.82, 22.12, 22.13, 23.21, 23.43, 23.50, 23.47, 23.58]  # the same to step 300, then 1e-4
    for step, (a, b) in enumerate(zip(constant, decayed), start=1):
        race.record("constant", 100 * step, a)
        race.record("decayed", 100 * step, b)
        if step == 4:  # step 400: 23.16 against 23.21, within the noise
            assert race.trailing("constant") is None and race.trailing("decayed") is None
    # from step 500 on the decayed schedule trails by 0.34 and more; the constant rate's drop at 700 is no matter,
    # its best value so far stays 23.77
    assert race.trailing("decayed") == ("constant", 800, pytest.approx(math.sqrt(2) * 0.18))
    assert race.trailing("constant") is None
    assert race.best_by("constant", 700) == 23.77 and race.latest("constant") == 800


def test_trials_are_compared_where_both_have_reported_and_not_before_the_first_rung():
    race = NoiseRace(start=200, sigma=0.1)
    race.record("ahead", 100, 15.0)  # before the first rung: not compared
    race.record("behind", 100, 10.0)
    assert race.trailing("behind") is None
    for step, value in ((200, 20.0), (300, 21.0), (400, 25.0)):
        race.record("ahead", step, value)
    race.record("behind", 200, 20.5)  # compared at step 200, the latest both reached: it leads there
    assert race.trailing("behind") is None and race.trailing("ahead") == ("behind", 200, pytest.approx(0.1414, 1e-3))
    race.record("behind", 300, 20.6)  # at 300: 21.0 against its best 20.6 (+0.4): now it trails
    assert race.trailing("behind") == ("ahead", 300, pytest.approx(0.1414, 1e-3))


def test_without_a_measured_noise_nobody_trails_until_five_differences_exist():
    race = NoiseRace(start=100)  # auto
    for step in (100, 200, 300):
        race.record("a", step, 10.0 + step / 100)
        race.record("b", step, 20.0 + step / 100)
    assert race.noise() is None and race.trailing("a") is None  # two differences so far
    for trial in ("c", "d", "e"):
        for step in (100, 200, 300):
            race.record(trial, step, 15.0 + (step == 200) * 0.3)
    assert race.noise() == pytest.approx(MAD_TO_SIGMA * 0.3 / math.sqrt(1.5))  # median of 0, 0, .3, .3, .3
    assert race.trailing("a")[0] == "b"


class Controller:
    """The trials the scheduler sees and ``stop_trial`` (what it asks of Ray's TuneController)."""

    def __init__(self, *ids: str):
        self.trials = [Trial("run_trial", trial_id=i, stub=True) for i in ids]
        self.stopped: list[str] = []

    def get_trials(self) -> list[Trial]:
        return self.trials

    def trial(self, trial_id: str) -> Trial:
        return next(t for t in self.trials if t.trial_id == trial_id)

    def stop_trial(self, trial: Trial) -> None:
        self.stopped.append(trial.trial_id)
        trial.set_status(Trial.TERMINATED)


def racing(noise=0.18) -> RecheckingASHA:
    return RecheckingASHA(time_attr="step", metric="psnr", mode="max", grace_period=100, max_t=1200,
                          reduction_factor=6, recheck=True, noise=noise)


def report(sched, controller, trial_id, step, value) -> str:
    trial = controller.trial(trial_id)
    if trial_id not in sched._trial_info:
        sched.on_trial_add(controller, trial)
    trial.set_status(Trial.RUNNING)
    action = sched.on_trial_result(controller, trial, {"step": step, "psnr": value})
    trial.set_status({CONTINUE: Trial.RUNNING, PAUSE: Trial.PAUSED, STOP: Trial.TERMINATED}[action])
    return action


def test_a_trial_ahead_of_one_not_started_gives_its_worker_up_and_the_one_behind_runs_first():
    controller = Controller("a", "b", "c")
    sched = racing()
    assert report(sched, controller, "a", 100, 20.0) == PAUSE  # b and c have not started
    assert sched.waiting_at("a") == 100 and sched.choose_trial_to_run(controller).trial_id == "b"
    assert report(sched, controller, "b", 100, 20.1) == PAUSE  # c has not started
    assert report(sched, controller, "c", 100, 5.0) == STOP  # below the best sixth at rung 100 (Ray's rule)
    # nothing left to start: the held trials go on, the one furthest behind first (the better one at a tie)
    assert sched.choose_trial_to_run(controller).trial_id == "b" and controller.stopped == []
    assert report(sched, controller, "b", 200, 22.0) == CONTINUE  # a is held one evaluation behind: not far enough
    assert report(sched, controller, "b", 300, 22.5) == PAUSE  # a is two behind
    assert sched.waiting_at("b") == 300 and sched.choose_trial_to_run(controller).trial_id == "a"
    assert report(sched, controller, "a", 200, 21.0) == STOP  # 21.0 against b's 22.0 at step 200: it trails
    assert sched.choose_trial_to_run(controller).trial_id == "b"
    assert report(sched, controller, "b", 400, 23.0) == CONTINUE  # alone: nothing to wait for


def test_a_held_trial_that_trails_by_now_is_stopped_before_any_trial_resumes():
    controller = Controller("a", "b", "c")
    sched = racing(noise=0.1)
    assert [report(sched, controller, trial, 100, 20.0) for trial in "abc"] == [PAUSE, PAUSE, CONTINUE]
    assert report(sched, controller, "c", 200, 21.0) == CONTINUE  # a and b are held one evaluation behind
    assert report(sched, controller, "c", 300, 21.2) == PAUSE  # two behind
    assert sched.choose_trial_to_run(controller).trial_id == "a"  # a and b tie at 100: the first
    assert report(sched, controller, "a", 200, 22.0) == CONTINUE  # leads c at 200; b is not two behind yet
    assert report(sched, controller, "a", 300, 22.5) == PAUSE  # b is
    assert sched.choose_trial_to_run(controller).trial_id == "b"  # furthest behind, after c is stopped: it trails
    assert controller.stopped == ["c"] and controller.trial("c").status == Trial.TERMINATED


def test_the_option_replaces_the_quorum_and_the_manifest_records_it():
    from restore_core.errors import UserError
    from sweeps.driver.describe import describe_asha
    from sweeps.driver.runner import plan_sweep
    from sweeps.driver.tuner import build_scheduler
    from sweeps.settings.manifest import build_manifest
    from sweeps.settings.options import SweepOptions

    plan = plan_sweep(SweepOptions(space="lsid_lr"))  # lsid_lr: 0.18
    sched = build_scheduler(plan)
    assert (sched._race.sigma, sched._quorum) == (0.18, 1)
    assert build_manifest(plan, [])["asha"]["noise"] == 0.18
    described = describe_asha(plan.asha, plan.base["train"]["eval_every"])
    assert "by more than 0.255 (√2 × noise 0.18), and trials are kept in step" in described
    plan = plan_sweep(SweepOptions(space="lsid_lr", asha_noise=0, asha_quorum=4))  # the quorum as before
    assert (build_scheduler(plan)._race, build_scheduler(plan)._quorum) == (None, 4)
    assert build_scheduler(plan_sweep(SweepOptions(space="lsid_lr", asha_noise="auto")))._race.sigma is None
    assert build_scheduler(plan_sweep(SweepOptions(space="lamba_loss", scheduler="asha")))._race is None
    with pytest.raises(UserError, match="--asha-noise and --asha-quorum both keep early arrivals"):
        plan_sweep(SweepOptions(space="lsid_lr", asha_noise=0.2, asha_quorum=4))
    with pytest.raises(UserError, match="--asha-noise must be auto or a number >= 0"):
        plan_sweep(SweepOptions(space="lsid_lr", asha_noise=-0.1))
    with pytest.raises(UserError, match="--asha-noise only applies to ASHA"):
        plan_sweep(SweepOptions(space="lsid_lr", scheduler="fifo", asha_noise=0.2))
