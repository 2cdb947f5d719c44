"""--asha-recheck and --asha-quorum: Ray's ASHA decisions, plus stopping a promoted trial once later arrivals at its
rung outrank it, and letting early arrivals wait for others at their rung."""

from __future__ import annotations

import os

import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from sweeps.driver.asha import RecheckingASHA
from sweeps.ray_private import asha_bracket, asha_rungs, asha_stopped
from sweeps.settings.options import SweepOptions

CONTINUE, STOP = TrialScheduler.CONTINUE, TrialScheduler.STOP


def scheduler(kind, mode: str = "max"):
    return kind(time_attr="step", metric="psnr", mode=mode, grace_period=100, max_t=1200, reduction_factor=6)


def report(sched, trial_id: str, step: int, value: float) -> str:
    trial = Trial("run_trial", trial_id=trial_id, stub=True)  # Ray's own trial object, never started
    if asha_bracket(sched, trial_id) is None:
        sched.on_trial_add(None, trial)
    return sched.on_trial_result(None, trial, {"step": step, "psnr": value})


@pytest.mark.parametrize("mode, sign", [("max", 1.0), ("min", -1.0)])
def test_a_first_arrival_outranked_at_its_rung_stops_at_its_next_result(mode, sign):
    plain, recheck = scheduler(ASHAScheduler, mode), scheduler(RecheckingASHA, mode)
    for sched in (plain, recheck):
        assert report(sched, "slow", 100, sign * 10.0) == CONTINUE  # first at the rung: goes on
        assert report(sched, "fast", 100, sign * 15.0) == CONTINUE
    assert report(plain, "slow", 200, sign * 11.0) == CONTINUE  # Ray's rule judged it once, at step 100
    assert report(recheck, "slow", 200, sign * 11.0) == STOP  # 10 is below the best sixth of {15}
    assert report(recheck, "fast", 200, sign * 16.0) == CONTINUE
    # a tie with the best stays: 15 is not below the 83rd percentile of {10, 15}
    assert report(recheck, "tied", 100, sign * 15.0) == CONTINUE
    assert report(recheck, "tied", 200, sign * 15.5) == CONTINUE
    assert asha_stopped(recheck) == 1


def test_a_trial_is_judged_again_only_at_its_highest_rung():
    sched = scheduler(RecheckingASHA)
    report(sched, "a", 100, 10.0)
    for step in range(200, 601, 100):
        assert report(sched, "a", step, 20.0) == CONTINUE  # alone at rung 600 from step 600 on
    assert report(sched, "b", 100, 30.0) == CONTINUE  # outranks a at rung 100, which a has left behind
    assert report(sched, "a", 700, 20.0) == CONTINUE
    assert report(sched, "c", 100, 31.0) == CONTINUE
    for step in range(200, 601, 100):
        report(sched, "c", step, 25.0)
    assert report(sched, "a", 800, 20.0) == STOP  # now c outranks it at rung 600


def test_the_space_or_the_option_chooses_it_and_the_manifest_records_it():
    from sweeps.driver.runner import plan_sweep
    from sweeps.driver.tuner import build_scheduler
    from sweeps.settings.manifest import build_manifest

    plan = plan_sweep(SweepOptions(space="lsid_lr"))  # lsid_lr: on
    assert type(build_scheduler(plan)) is RecheckingASHA
    assert build_manifest(plan, [])["asha"]["recheck"] is True
    assert build_manifest(plan, [])["asha"]["quorum"] == 1  # the race keeps trials in step instead
    plan = plan_sweep(SweepOptions(space="lsid_lr", asha_recheck=False))  # the race stays
    assert type(build_scheduler(plan)) is RecheckingASHA and build_scheduler(plan)._recheck is False
    assert build_scheduler(plan)._race is not None
    plan = plan_sweep(SweepOptions(space="lsid_lr", asha_recheck=False, asha_noise=0))  # Ray's rule alone
    assert (build_scheduler(plan)._recheck, build_scheduler(plan)._quorum, build_scheduler(plan)._race) == (
        False, 1, None)
    assert build_manifest(plan, [])["asha"]["recheck"] is False and build_manifest(plan, [])["asha"]["quorum"] == 1
    plan = plan_sweep(SweepOptions(space="lamba_loss", scheduler="asha"))  # the platform's default: off
    assert (build_scheduler(plan)._recheck, build_scheduler(plan)._quorum) == (False, 1)


def test_without_recheck_or_quorum_it_decides_as_rays_asha():
    plain, ours = scheduler(ASHAScheduler), scheduler(RecheckingASHA)
    ours._recheck = False
    reports = [("a", 100, 10.0), ("b", 100, 15.0), ("a", 200, 11.0), ("c", 100, 9.0), ("b", 600, 20.0),
               ("d", 100, 16.0), ("d", 600, 19.0), ("a", 600, 12.0), ("e", 100, 14.0)]
    decisions = [(report(plain, *r), report(ours, *r)) for r in reports]
    assert [p for p, _ in decisions] == [o for _, o in decisions] and STOP in [p for p, _ in decisions]


def test_it_survives_the_pickling_that_resume_relies_on():
    import pickle

    sched = scheduler(RecheckingASHA)
    report(sched, "slow", 100, 10.0)
    report(sched, "fast", 100, 15.0)
    restored = pickle.loads(pickle.dumps(sched))  # the run's tuner.pkl holds the scheduler (as it was at the start)
    assert type(restored) is RecheckingASHA
    assert report(restored, "slow", 200, 11.0) == STOP


class Controller:
    """What the scheduler asks of Ray's TuneController here: its trials. (A real TuneController needs a whole
    experiment with its storage, search and actor manager; the scheduler only reads ``get_trials``.)"""

    def __init__(self, trials: list[Trial]):
        self.trials = trials

    def get_trials(self) -> list[Trial]:
        return self.trials


def test_the_progress_table_says_where_a_paused_trial_waits_and_how_it_ended(ray_session, tmp_path):
    from ray.train._internal.storage import StorageContext

    from sweeps.ledger.status import TrialStatusCallback, read_status

    sched = RecheckingASHA(time_attr="step", metric="psnr", mode="max", grace_period=100, max_t=1200,
                           reduction_factor=6, quorum=4)
    storage = StorageContext(storage_path=str(tmp_path), experiment_dir_name="exp", trial_dir_name="a")
    first = Trial("run_trial", trial_id="a", stub=True, storage=storage)
    second = Trial("run_trial", trial_id="b", stub=True)
    first.set_status(Trial.RUNNING)
    assert second.status == Trial.PENDING
    controller = Controller([first, second])
    os.makedirs(first.path)  # the trial's folder under --storage, as the trial makes it
    sched.on_trial_add(controller, first)
    result = {"step": 100, "psnr": 10.0, "stop_reason": "running"}
    assert sched.on_trial_result(controller, first, result) == TrialScheduler.PAUSE
    callback = TrialStatusCallback(sched)
    callback.on_trial_result(0, [], first, result)  # what Ray shows in the table: the report, as updated here
    assert result["stop_reason"] == "waiting at 100" and sched.waiting_at("b") is None
    first.update_last_result(result)
    callback.on_trial_complete(0, [], first)  # stopped while it waited
    assert first.last_result["stop_reason"] == "stopped early" and read_status(first.path)["status"] == "terminated"
    plain = {"step": 100, "stop_reason": "running"}
    TrialStatusCallback(scheduler(ASHAScheduler)).on_trial_result(0, [], first, plain)  # no waiting with Ray's ASHA
    assert plain["stop_reason"] == "running"


def test_a_resumed_sweep_records_its_trials_at_their_rungs_again(tmp_path):
    """Ray restores a resumed sweep's trials but not the scheduler's rungs (its tuner.pkl holds the scheduler as it
    was before the first trial): each restored trial that has reported is recorded again from its result.json."""
    import json

    from ray.train._internal.storage import StorageContext

    def restored(trial_id: str, reports: list[tuple[int, float]]) -> Trial:
        storage = StorageContext(storage_path=str(tmp_path), experiment_dir_name="exp", trial_dir_name=trial_id)
        trial = Trial("run_trial", trial_id=trial_id, stub=True, storage=storage)
        os.makedirs(trial.path)
        with open(os.path.join(trial.path, "result.json"), "w") as handle:
            handle.write("".join(json.dumps({"step": s, "psnr": v}) + "\n" for s, v in reports) + '{"step": 7')
        trial.update_last_result({"step": reports[-1][0], "psnr": reports[-1][1]})
        return trial

    sched = scheduler(RecheckingASHA)
    # ended before the interruption: stopped at rung 100, and trained past rung 600 (a cut line ends its file)
    for trial in (restored("low", [(100, 10.0)]), restored("high", [(100, 20.0), (200, 5.0), (600, 30.0)])):
        sched.on_trial_add(None, trial)
    assert dict(asha_rungs(asha_bracket(sched, "high"))) == {600: {"high": 30.0}, 100: {"low": 10.0, "high": 20.0}}
    assert report(sched, "new", 100, 15.0) == STOP  # below the best sixth of {10, 20}: the restored trials count
    assert report(sched, "newer", 100, 25.0) == CONTINUE
