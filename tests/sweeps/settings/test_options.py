"""SweepOptions.check: every value no sweep can run with is refused with a one-line reason; resolve_settings fills
in the rest from the space, the defaults or the run's manifest; build_plan turns them into the sweep's configs."""

import json

import pytest

from restore_core.errors import UserError
from search_spaces import get_space
from sweeps.driver.describe import asha_rungs, describe_plan, judged_steps
from sweeps.driver.runner import plan_sweep
from sweeps.ray_private import asha_rungs as recorded_rungs
from sweeps.settings.options import RECORDED, SweepOptions
from sweeps.settings.recorded import recorded_settings
from sweeps.settings.resolve import resolve_settings


@pytest.mark.parametrize("changes, message", [
    ({"search": "bayes"}, "unknown search algorithm 'bayes'; known: grid, random, optuna"),
    ({"scheduler": "pbt"}, "unknown scheduler 'pbt'; known: fifo, asha"),
    ({"seeds": 0}, "--seeds must be a whole number >= 1; got 0"),
    ({"search_seed": -1}, "--search-seed must be a whole number >= 0; got -1"),
    ({"num_samples": -1}, "--num-samples must be a whole number >= 1; got -1"),
    ({"max_concurrent": 0}, "--max-concurrent must be a whole number >= 1; got 0"),
    ({"cpus_per_trial": float("nan")}, "--cpus-per-trial must be a number > 0; got nan"),
    ({"gpus_per_trial": 2.5}, "--gpus-per-trial above 1 must be a whole number of GPUs"),
    ({"trial_timeout": -5.0}, "--trial-timeout must be a number of seconds > 0; got -5"),
    ({"trial_timeout": float("inf")}, "--trial-timeout must be a number of seconds in (0, 9.2e9] (leave it out for "
                                      "no limit); got inf"),
    ({"address": "nope"}, "--address nope: expected host:port of the Ray head with a port in 1..65535"),
    ({"storage": ""}, "--storage is empty; give a folder (default: runs) or a URI of s3://"),
    ({"storage": "foo://x"}, "--storage foo://x: unknown storage scheme 'foo'"),
    ({"dashboard_port": 70000}, "--dashboard-port must be a TCP port in 1..65535; got 70000"),
    ({"resume": True}, "--resume needs --name"),
    ({"name": ".."}, "--name must be a plain folder name without '/'"),
    ({"asha_grace": 0.0}, "--asha-grace must be a fraction of training in (0, 1]; got 0"),
    ({"asha_grace": 1.5}, "--asha-grace must be a fraction of training in (0, 1]; got 1.5"),
    ({"asha_reduction": 1.0}, "--asha-reduction must be a number > 1 (3 keeps the best third); got 1"),
    ({"asha_quorum": 0}, "--asha-quorum must be a whole number >= 1 (1: a trial never waits); got 0"),
])
def test_bad_options_are_refused(changes, message):
    options = SweepOptions(space="lsid_lr", **changes)
    with pytest.raises(UserError) as err:
        options.check()
    assert str(err.value).startswith(message)


def test_good_options_pass_and_round_trip_through_the_manifest():
    options = SweepOptions(space="lsid_lr", profile="smoke", gpus_per_trial=0.25, seeds=3, search="optuna",
                           search_seed=7, sets={"train.steps": 8}, trial_timeout=60.0, max_failures=2,
                           asha_grace=0.1, asha_reduction=4, asha_recheck=False, asha_quorum=2)
    options.check()
    space = get_space("lsid_lr")
    settings = resolve_settings(options, space)
    manifest = json.loads(json.dumps({"space": "lsid_lr", "options": settings.record(), "trial_timeout_s": 60.0}))
    resumed = resolve_settings(SweepOptions(name=settings.name, resume=True), space,
                               recorded_settings(manifest, "manifest.json"))
    assert {k: getattr(resumed, k) for k in RECORDED} == {k: getattr(settings, k) for k in RECORDED}
    assert {k: getattr(settings, k) for k in options.given()} == options.given()  # as given
    assert (settings.num_samples, settings.scheduler, settings.cpus_per_trial) == (10, "asha", 1.0)  # the defaults
    assert resumed.trial_timeout == 60.0 and resumed.max_failures == 2  # the limit goes on; Ray keeps the retries


def test_each_default_is_the_spaces_or_the_platforms():
    settings = resolve_settings(SweepOptions(space="lsid_lr"), get_space("lsid_lr"))
    assert (settings.profile, settings.search, settings.scheduler, settings.seeds) == ("quick", "grid", "asha", 1)
    assert (settings.asha_grace, settings.asha_reduction, settings.asha_recheck, settings.asha_quorum,
            settings.asha_noise) == (1 / 12, 6, True, 1, 0.18)  # lsid_lr's
    assert (settings.num_samples, settings.search_seed, settings.cpus_per_trial, settings.gpus_per_trial) == \
        (None, None, 1.0, None)  # a grid samples nothing; auto GPUs
    assert settings.name.startswith("quick-grid-asha-") and settings.storage == "runs"
    sampled = resolve_settings(SweepOptions(space="lsid_lr", search="random"), get_space("lsid_lr"))
    assert (sampled.num_samples, sampled.search_seed) == (10, 0)


def test_storage_uris_are_not_made_absolute():
    space = get_space("lsid_lr")
    assert resolve_settings(SweepOptions(storage="s3://bucket/runs/"), space).space_dir == "s3://bucket/runs/lsid_lr"
    assert resolve_settings(SweepOptions(storage="runs"), space).space_dir.endswith("/runs/lsid_lr")


def test_workers_are_reused_unless_fresh_workers_is_given():
    from sweeps.cli import build_parser, options_from_args

    parser = build_parser()
    assert options_from_args(parser.parse_args(["--space", "lsid_lr"])).fresh_workers is False
    assert options_from_args(parser.parse_args(["--space", "lsid_lr", "--fresh-workers"])).fresh_workers is True


@pytest.mark.parametrize("grace, reduction, expected", [
    (None, None, {"max_t": 1200, "grace_period": 100, "reduction_factor": 6}),  # the space's
    (1 / 12, 4, {"max_t": 1200, "grace_period": 100, "reduction_factor": 4}),
    (0.01, None, {"max_t": 1200, "grace_period": 100, "reduction_factor": 6}),  # >= one evaluation
    (0.29, 3, {"max_t": 1200, "grace_period": 300, "reduction_factor": 3}),  # whole evaluations
])
def test_asha_rungs_come_from_the_options_or_the_space(grace, reduction, expected):
    plan = plan_sweep(SweepOptions(space="lsid_lr", scheduler="asha", asha_grace=grace, asha_reduction=reduction))
    assert plan.asha.kwargs() == {**expected, "recheck": True, "quorum": 1, "noise": 0.18}  # lsid_lr's


@pytest.mark.parametrize("options, message", [
    ({"space": "lamba_loss", "asha_reduction": 6},
     "--asha-reduction only applies to ASHA, but this run's scheduler is fifo (the space 'lamba_loss' defaults to it); "
     "add --scheduler asha or leave them out"),
    ({"space": "lsid_lr", "scheduler": "fifo", "asha_grace": 0.25, "asha_reduction": 3, "asha_recheck": False,
      "asha_quorum": 2},
     "--asha-grace, --asha-reduction, --no-asha-recheck and --asha-quorum only apply to ASHA, but this run's "
     "scheduler is fifo; "
     "add --scheduler asha or leave them out"),
    ({"space": "lsid_lr", "num_samples": 5},
     "--num-samples sets how many configurations random/optuna/gp search proposes, but this run's search is grid (the "
     "space 'lsid_lr' defaults to it), which runs the study's 10 rows; add --search optuna or leave it out"),
    ({"space": "lsid_lr", "search": "grid", "search_seed": 3},
     "--search-seed seeds the configurations random/optuna/gp search proposes, but this run's search is grid, which "
     "proposes none; add --search optuna or leave it out"),
])
def test_options_the_run_would_ignore_are_refused(options, message):
    with pytest.raises(UserError) as error:
        plan_sweep(SweepOptions(**options))
    assert str(error.value) == message


@pytest.mark.parametrize("grace, max_t, reduction", [(100, 1200, 3), (300, 1200, 3), (100, 1200, 6), (1, 100, 4)])
def test_asha_rungs_are_rays_milestones(grace, max_t, reduction):
    from ray.tune.schedulers.async_hyperband import _Bracket

    bracket = _Bracket(grace, max_t, reduction, s=0)
    assert asha_rungs(grace, max_t, reduction) == sorted(int(m) for m, _ in recorded_rungs(bracket))


def test_the_dry_run_names_ashas_rungs():
    listing = describe_plan(plan_sweep(SweepOptions(space="lsid_lr")))
    assert ("\nASHA judges trials at steps 100, 600 of 1200 and lets the best 1/6 at each go on; one let on stops "
            "once later trials at its rung outrank it; between rungs a trial stops once its best value trails "
            "another's at the same step by more than 0.255 (√2 × noise 0.18), and trials are kept in step\n") in listing
    listing = describe_plan(plan_sweep(SweepOptions(space="lsid_lr", asha_noise=0, asha_quorum=4)))
    assert ("one let on from a rung with fewer than 4 trials recorded waits there while others can start\n"
            in listing)
    listing = describe_plan(plan_sweep(SweepOptions(space="lsid_lr", asha_reduction=3, asha_grace=0.25,
                                                    asha_recheck=False, asha_noise=0)))
    assert "\nASHA judges trials at steps 300, 900 of 1200 and lets the best 1/3 at each go on\n" in listing
    assert "ASHA" not in describe_plan(plan_sweep(SweepOptions(space="lsid_lr", scheduler="fifo")))
    # a rung at the last step stops nothing (the trial ends there): named as such
    listing = describe_plan(plan_sweep(SweepOptions(space="lsid_lr", sets={"train.steps": 600})))
    assert "\nASHA judges trials at steps 100 of 600 (its rung at the last step only ranks) and lets the best 1/6" \
        in listing
    listing = describe_plan(plan_sweep(SweepOptions(space="lsid_lr", asha_grace=1.0)))
    assert "\nASHA stops nothing: its first rung is the last step (1200); lower --asha-grace or train longer\n" \
        in listing


@pytest.mark.parametrize("grace, max_t, reduction, eval_every, expected", [
    (100, 1200, 6, 100, [100, 600]),  # lsid_lr's: the milestones
    (100, 1200, 2.5, 100, [100, 300, 700]),  # milestones 250 and 625 are judged at the next evaluation
    (600, 1200, 1.1, 100, [600, 700, 800, 900, 1000, 1100]),  # 8 milestones, 6 evaluations before the end
    (300, 1200, 2, 300, [300, 600]),  # the rung at 1200 only ranks
])
def test_the_dry_run_lists_the_steps_rays_asha_judges_at(grace, max_t, reduction, eval_every, expected):
    from ray.tune.experiment import Trial
    from ray.tune.schedulers.async_hyperband import _Bracket

    bracket, trial = _Bracket(grace, max_t, reduction, s=0), Trial("run_trial", trial_id="t", stub=True)
    recorded = []
    for step in range(eval_every, max_t, eval_every):  # Ray stops a trial at max_t without judging it
        before = sum(len(r) for _, r in recorded_rungs(bracket))
        bracket.on_result(trial, step, 1.0)
        if sum(len(r) for _, r in recorded_rungs(bracket)) > before:
            recorded.append(step)
    assert judged_steps(grace, max_t, reduction, eval_every) == recorded == expected


@pytest.mark.parametrize("search", ["random", "optuna", "gp"])
def test_a_seed_set_for_repeated_sampled_configurations_is_refused(search):
    with pytest.raises(UserError) as error:  # every repeat sets its own seed: 7 would be used by no trial
        plan_sweep(SweepOptions(space="lsid_lr", search=search, seeds=2, sets={"train.seed": 7}))
    assert str(error.value) == ("--set train.seed: space 'lsid_lr' sets this key in every trial (each of a "
                                "configuration's 2 repeats sets its seed, 0 to 1), so the value would have no effect; "
                                "leave it out, or use --seeds")
    plan = plan_sweep(SweepOptions(space="lsid_lr", search=search, seeds=1, sets={"train.seed": 7}))
    assert plan.base["train"]["seed"] == 7  # one seed: the trials take the base's


@pytest.mark.parametrize("argv, share", [([], None), (["--gpus-per-trial", "auto"], None),
                                         (["--gpus-per-trial", "AUTO"], None), (["--gpus-per-trial", "0"], 0.0),
                                         (["--gpus-per-trial", "0.5"], 0.5)])
def test_gpus_per_trial_is_auto_unless_given(argv, share):
    from sweeps.cli import build_parser, options_from_args

    options = options_from_args(build_parser().parse_args(["--space", "lsid_lr", *argv]))
    assert options.gpus_per_trial == share
    assert ("gpus_per_trial" in options.given()) == (share is not None)  # auto on a resume: the run's own


@pytest.mark.parametrize("sets, cpu_only", [({}, False), ({"train.device": "cpu"}, True),
                                            ({"train.device": "auto"}, False), ({"train.device": "cuda"}, False)])
def test_auto_takes_no_gpu_for_a_sweep_that_trains_on_cpu(sets, cpu_only):
    plan = plan_sweep(SweepOptions(space="lsid_lr", profile="smoke", sets=dict(sets)))
    assert plan.cpu_only() == cpu_only
