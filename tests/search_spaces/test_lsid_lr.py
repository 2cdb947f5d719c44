"""The lsid_lr space: the study's rows, its continuous form, and real sweeps of it through Ray Tune."""

import subprocess

import pytest

from analysis import load_run
from analysis.load import read_results, trial_dirs
from restore_core.schema import validate_config
from search_spaces import get_space, list_spaces
from sweeps.driver.domains import sampled_param_space
from sweeps.run import main
from tests.conftest import ROOT
from tests.worker_forks import python_command

SPACE = get_space("lsid_lr")


def test_rows_are_the_studys_schedules():
    rows = {r.label: r.overrides["optim"] for r in SPACE.rows}
    assert len(rows) == 10 and set(rows) == set(SPACE.reported)
    assert rows["default (1e-4→1e-5 @50%)"] == {"lr": 1e-4, "milestones": [0.5]}
    assert rows["1e-3→1e-4 @2.5%"]["milestones"] == [100 / 4000]
    assert rows["1e-3→1e-4 @12.5%"]["milestones"] == [500 / 4000]
    assert rows["1e-3→1e-4 @25%"]["milestones"] == [1000 / 4000]
    assert rows["1e-3→1e-6 in quarters"] == {"lr": 1e-3, "milestones": [0.25, 0.5, 0.75]}
    assert [rows[k]["lr"] for k in ("1e-3", "1e-4", "1e-5", "1e-6", "1e-7")] == [1e-3, 1e-4, 1e-5, 1e-6, 1e-7]


@pytest.mark.parametrize("profile", ["smoke", "quick"])
def test_every_trial_config_of_the_grid_validates(profile):
    base = SPACE.base_config(profile)
    trials = SPACE.grid_trials(seeds=2)
    assert len(trials) == 20
    configs = [validate_config(SPACE.resolve(base, t)) for t in trials]
    assert {c.train.seed for c in configs} == {0, 1}


def test_continuous_form_for_optuna_and_random_search():
    space = sampled_param_space(SPACE)
    assert set(space) == {"optim.lr", "optim.milestones"}
    trial = {"optim.lr": 3e-4, "optim.milestones": "quarters", "__trial_index__": 2}
    config = SPACE.resolve(SPACE.base_config("smoke"), trial)
    assert config["optim"]["milestones"] == [0.25, 0.5, 0.75] and config["train"]["seed"] == 2
    assert SPACE.label(trial) == "lr=0.0003, decay=quarters"
    assert SPACE.scientific == ("optim.lr", "optim.milestones") and SPACE.nuisance == ("train.seed",)
    assert set(SPACE.fixed) == {"model", "loss", "data.patch", "train.batch_size", "train.steps", "optim.gamma"}
    assert SPACE.metric == "val/psnr"


def test_grid_with_asha_sweep_end_to_end(ray_session, tmp_path, capsys):
    assert main(["--space", "lsid_lr", "--profile", "smoke", "--search", "grid", "--scheduler", "asha",
                 "--storage", str(tmp_path), "--name", "grid", "--verbose", "1"]) == 0
    run_dir = tmp_path / "lsid_lr" / "grid"
    frame = load_run(str(run_dir))
    assert len(frame) == 10 and set(frame["label"]) == set(SPACE.reported)
    assert set(frame["status"]) <= {"completed", "stopped early"} and "completed" in set(frame["status"])
    # the last progress table says why each trial ended: ASHA's stops read "stopped early", not "running"
    output = capsys.readouterr().out
    ended = [line for line in output[output.rindex("Number of trials"):].splitlines() if "| TERMINATED |" in line]
    assert len(ended) == 10 and not any("running" in line for line in ended)
    assert sum("stopped early" in line for line in ended) == (frame["status"] == "stopped early").sum()
    assert (frame["best/val/psnr"] > 0).all() and (frame["last/cost/params"] > 0).all()
    # What the plan guarantees whatever the values and the order of arrival (two trials at a time on the session's
    # 2 CPUs; one rung, at step 2 of 4, keeping the best 1/6; the race keeping trials in step). A trial that reaches
    # the rung while others are still waiting to start gives its worker up (paused, with a checkpoint) unless it
    # stops there, so only the last two to start can run from step 0 to 4 in one go. Once all ten are recorded at
    # the rung, every trial below the best sixth of the other nine is outranked: ranks 4 to 10 at least (three
    # tied at the top keep the third), and only the two that ran straight through can escape being stopped there;
    # checked with the scheduler itself over random orders and values, ties among them (tests/benchmarks/
    # test_asha_replay.py).
    reports = {d: read_results(d) for d in trial_dirs(str(run_dir))}
    assert all(rs[-1]["step"] in (2, 4) for rs in reports.values())
    stopped_at_the_rung = [d for d, rs in reports.items() if rs[-1]["step"] == 2]
    resumed = [d for d, rs in reports.items() if rs[-1]["step"] == 4 and rs[-1]["iterations_since_restore"] == 1
               and rs[-1]["training_iteration"] == 2]
    straight_through = [d for d, rs in reports.items() if [r["iterations_since_restore"] for r in rs] == [1, 2]]
    assert len(stopped_at_the_rung) + len(resumed) + len(straight_through) == 10
    assert len(straight_through) <= 2, "an early arrival at the rung went on while others waited to start"
    assert (frame["status"] == "stopped early").sum() == len(stopped_at_the_rung) >= 5
    # every trial was evaluated on test once it ended, those ASHA stopped at the rung too: the checkpoint of its best
    # validation evaluation, from the steps it reached
    assert frame["test/psnr"].notna().all() and (frame["test/step"] == frame["best/step"]).all()
    assert (frame.loc[frame["status"] == "stopped early", "test/step"] == 2).all()
    # a resumed trial went on from its checkpoint at the rung (its second report is its first since the restore)
    assert all([r["step"] for r in reports[d]] == [2, 4] for d in resumed)
    # the table says where a paused trial waits; the results on disk keep what the trial reported
    assert all("waiting at " in line for line in output.splitlines() if "| PAUSED " in line)
    assert {r["stop_reason"] for rs in reports.values() for r in rs} <= {"running", "completed"}
    assert all([r["step"] for r in rs] == sorted({r["step"] for r in rs}) for rs in reports.values())
    assert (run_dir / "manifest.json").exists() and (run_dir / "results.csv").exists()
    assert "| configuration |" in (run_dir / "table.md").read_text() and (run_dir / "report.html").exists()


def test_optuna_sweep_with_seeds_end_to_end(smoke_run):
    """The session's shared sweep (tests/conftest.py): ``--search optuna --scheduler fifo --num-samples 2
    --seeds 2``."""
    frame = load_run(smoke_run)
    assert len(frame) == 4 and (frame["status"] == "completed").all()
    # each proposed configuration ran with seeds 0 and 1
    assert sorted(frame.groupby("label")["seed"].apply(sorted).tolist()) == [[0, 1], [0, 1]]
    assert frame["config/optim.lr"].between(1e-7, 1e-2).all()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--space", "lsid_lrr"], "error: unknown space 'lsid_lrr' (did you mean 'lsid_lr'?); known: "),
        (["--space", "lsid_lr", "--set", "train.stepz=3"], "error: unknown config key 'train.stepz'"),
    ],
)
def test_cli_errors_are_one_line_with_exit_code_2(forked_workers, args, message):
    proc = subprocess.run([*python_command(), "sweeps/run.py", *args, "--dry-run"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith(message) and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_list_shows_the_spaces(capsys):
    assert main(["--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in list_spaces())
