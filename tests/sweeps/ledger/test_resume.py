"""``--resume`` after the driver was killed: a real sweep in its own process, SIGKILLed while the last trial runs,
then continued. Ended trials are kept untouched, the unfinished one goes on from its checkpoint, and the tables
come out as if nothing had happened. A sweep stopped by Ctrl-C or SIGTERM saves its state, writes no tables, says
how to continue and exits 130 (143). Runs made by hand check what ``--resume`` (and ``--dry-run --resume``) accepts
and refuses before anything starts."""

from __future__ import annotations

import glob
import json
import os
import signal
import time

import pytest

from analysis import load_run
from search_spaces import get_space
from sweeps.ledger.retry import clear_failed
from sweeps.ledger.status import read_status
from sweeps.run import main
from sweeps.settings.manifest import record_resume
from sweeps.settings.options import SweepOptions
from sweeps.settings.recorded import recorded_settings
from sweeps.settings.resolve import resolve_settings
from tests.conftest import free_port
from tests.sweeps import spaces
from tests.sweeps.driver_forks import ForkedDriver, start_driver


def _trial(run_dir: str, row: str) -> str | None:
    for params in glob.glob(os.path.join(run_dir, "*", "params.json")):
        try:
            with open(params, encoding="utf-8") as handle:
                if json.load(handle).get("row") == row:
                    return os.path.dirname(params)
        except json.JSONDecodeError:  # Ray is writing it just now
            continue
    return None


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def _kill_when_slow_trial_has_a_checkpoint(proc: ForkedDriver, run_dir: str, limit: float = 120) -> None:
    """SIGKILL the driver once the slow trial's second report is in the run directory: Ray uploads the trial's
    results together with its snapshot of the experiment, so the snapshot then knows a checkpoint to resume from
    (a driver killed between a checkpoint and the next snapshot loses that checkpoint's work, at most one
    evaluation interval)."""
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        slow = _trial(run_dir, "slow")
        ended = glob.glob(os.path.join(run_dir, "*", "status.json"))
        if slow and len(ended) == 2 and read_status(slow) is None and os.path.exists(os.path.join(slow, "result.json")):
            if _read(os.path.join(slow, "result.json")).count("\n") >= 2:
                proc.kill()  # SIGKILL: no handler runs, like a lost login node or an OOM-killed driver
                proc.wait(timeout=30)
                return
        time.sleep(0.05)
    raise AssertionError(f"the sweep did not reach its last trial in time (exit code {proc.poll()})")


def test_a_killed_sweep_resumes_where_it_stopped(ray_session, tmp_path, capsys):
    spaces.register()
    run_dir = str(tmp_path / "ops_resume" / "r1")
    log = tmp_path / "driver.log"
    # the driver connects to the session's Ray (no second Ray start) and asks for a GPU this machine lacks
    proc = start_driver(["--space", "ops_resume", "--profile", "smoke", "--storage", str(tmp_path), "--name", "r1",
                         "--max-concurrent", "1", "--gpus-per-trial", "0.25", "--address",
                         ray_session.get_runtime_context().gcs_address, "--verbose", "0"], str(log))
    try:
        _kill_when_slow_trial_has_a_checkpoint(proc, run_dir)
    finally:
        if proc.poll() is None:
            proc.kill()
    driver_output = log.read_text()
    assert "notice: no GPU on any node of the cluster" in driver_output and "trials run on CPU" in driver_output
    assert not os.path.exists(os.path.join(run_dir, "results.csv"))  # the sweep never ended
    quick = {row: _trial(run_dir, row) for row in ("quick-a", "quick-b")}
    # Ray uploads its staging copy of the experiment in a background thread, rewriting every file; the kill may cut
    # that upload, so a quick trial's result.json may hold only the start of its reports here (Ray uploads the whole
    # file again when the resume ends, from the same staging folder, as the Ray session is the same).
    before = {row: _read(os.path.join(path, "result.json")) for row, path in quick.items()}

    # --resume finds the run by its name alone and takes every setting from its manifest
    assert main(["--resume", "--name", "r1", "--storage", str(tmp_path), "--verbose", "0"]) == 0
    frame = load_run(run_dir).set_index("label")
    assert sorted(frame.index) == ["quick-a", "quick-b", "slow"]
    assert (frame["status"] == "completed").all() and frame.loc["slow", "steps"] == 120
    for row, path in quick.items():  # not run again: one attempt's two reports, which began as they did before
        after = _read(os.path.join(path, "result.json"))
        reports = [json.loads(line) for line in after.splitlines()]
        assert after.startswith(before[row])
        assert [(r["step"], r["iterations_since_restore"]) for r in reports] == [(2, 1), (4, 2)]
    slow = [json.loads(line) for line in _read(os.path.join(_trial(run_dir, "slow"), "result.json")).splitlines()]
    starts = [r["step"] for r in slow if r["iterations_since_restore"] == 1]
    assert starts[0] == 12 and starts[-1] > 12  # the resumed attempt went on from a checkpoint
    assert [r["step"] for r in slow][-1] == 120
    results = _read(os.path.join(run_dir, "results.csv"))
    assert results.count("completed") == 3 and os.path.exists(os.path.join(run_dir, "table.md"))
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert manifest["resumed"] == ["--resume --name r1 --storage " + str(tmp_path) + " --verbose 0"]
    assert manifest["options"]["gpus_per_trial"] == 0.25 and manifest["resources_per_trial"]["gpu_used"] == 0.0
    assert "best trial:" in capsys.readouterr().out


def _attempts_reported(trial: str) -> int:
    """How many attempts of a trial have reported: the whole lines of its result.json that are an attempt's first."""
    lines = _read(os.path.join(trial, "result.json")).split("\n")[:-1]  # the last piece may be half-written
    return sum(json.loads(line)["iterations_since_restore"] == 1 for line in lines)


def _signal_when_slow_trial_reports(proc: ForkedDriver, run_dir: str, signum: int, attempt: int = 1,
                                    limit: float = 120) -> None:
    """Send ``signum`` to the driver once the slow trial's attempt number ``attempt`` has reported (it is running,
    with a checkpoint)."""
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        slow = _trial(run_dir, "slow")
        if slow and read_status(slow) is None and os.path.exists(os.path.join(slow, "result.json")):
            if _attempts_reported(slow) >= attempt:
                proc.send_signal(signum)
                return
        time.sleep(0.05)
    raise AssertionError(f"the sweep did not reach its last trial in time (exit code {proc.poll()})")


def test_a_sweep_stopped_by_a_signal_says_how_to_continue_and_resumes(ray_session, tmp_path, capsys):
    """Ctrl-C stops the sweep's driver and SIGTERM the driver of its resume (one sweep serves both signals, each
    sent while the slow trial runs); a last resume finishes the run."""
    spaces.register()
    run_dir = str(tmp_path / "ops_resume" / "r1")
    common = ["--storage", str(tmp_path), "--name", "r1", "--address", ray_session.get_runtime_context().gcs_address,
              "--verbose", "0"]
    first = ["--space", "ops_resume", "--profile", "smoke", "--max-concurrent", "1", *common]
    for number, (args, signum, code, said) in enumerate([(first, signal.SIGINT, 130, "interrupted"),
                                                         (["--resume", *common], signal.SIGTERM, 143,
                                                          "stopped by SIGTERM")]):
        out, err = tmp_path / f"driver{number}.out", tmp_path / f"driver{number}.err"
        proc = start_driver(args, str(out), str(err))
        try:
            _signal_when_slow_trial_reports(proc, run_dir, signum, attempt=number + 1)
            assert proc.wait(timeout=60) == code, (signum, err.read_text()[-3000:])
        finally:
            if proc.poll() is None:
                proc.kill()
        lines = err.read_text().strip().splitlines()
        assert lines[-1] == f"{said}; continue with --resume --name r1 --storage {tmp_path}"
        assert not any("SIGTERM received" in line for line in lines)  # Ray's abort of the driver
        assert "best trial" not in out.read_text()
        for name in ("results.csv", "table.md", "report.html"):  # a partial run gets no tables
            assert not os.path.exists(os.path.join(run_dir, name)), name
        assert read_status(_trial(run_dir, "slow")) is None  # not recorded as ended: the resume continues it

    assert main(["--resume", "--name", "r1", "--storage", str(tmp_path), "--verbose", "0", "--trial-timeout",
                 "600"]) == 0
    frame = load_run(run_dir).set_index("label")
    assert sorted(frame.index) == ["quick-a", "quick-b", "slow"]
    assert (frame["status"] == "completed").all() and frame.loc["slow", "steps"] == 120
    slow = [json.loads(line) for line in _read(os.path.join(_trial(run_dir, "slow"), "result.json")).splitlines()]
    starts = [r["step"] for r in slow if r["iterations_since_restore"] == 1]
    # each resumed attempt went on from a checkpoint Ray saved when its driver stopped
    assert starts[0] == 12 and len(starts) == 3 and min(starts[1:]) > 12
    assert os.path.exists(os.path.join(run_dir, "table.md")) and "best trial:" in capsys.readouterr().out
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert manifest["trial_timeout_s"] == 600 and manifest["options"]["trial_timeout"] == 600  # for later resumes
    assert main(["--resume", "--name", "r1", "--storage", str(tmp_path), "--dry-run"]) == 0
    assert "\ntrial time-out: 600 s per attempt, as the run recorded\n" in capsys.readouterr().out


def test_retry_failed_forgets_only_the_failed_trials(tmp_path):
    for name, status in (("a", {"status": "error", "error": "RuntimeError: x"}), ("b", {"status": "terminated"})):
        os.makedirs(tmp_path / name)
        (tmp_path / name / "status.json").write_text(json.dumps(status))
        (tmp_path / name / "error.txt").write_text("Traceback\nRuntimeError: x\n")
    assert clear_failed(str(tmp_path)) == ["a"]
    assert sorted(os.listdir(tmp_path / "a")) == ["retried-errors.txt"]  # the error kept, the rest cleared
    assert (tmp_path / "a" / "retried-errors.txt").read_text().endswith("RuntimeError: x\n")
    assert read_status(str(tmp_path / "b")) == {"status": "terminated"}


# What sweeps/run.py recorded as a run's options before it recorded the resolved settings (None: the space's default)
OLDER_OPTIONS = {"space": "lsid_lr", "profile": "smoke", "search": None, "scheduler": None, "num_samples": None,
                 "seeds": 1, "search_seed": None, "sets": {}, "cpus_per_trial": 1.0, "gpus_per_trial": None,
                 "asha_grace": None, "asha_reduction": None, "asha_recheck": None, "asha_quorum": None,
                 "max_concurrent": None, "max_failures": 0, "trial_timeout": None, "name": "r", "storage": "runs"}


def _hand_made_run(storage, statuses: list[dict | None] = ()) -> str:
    """An lsid_lr run started with the space's defaults (grid, ASHA, reduction 6, which the manifest records as
    None); its first trials have the given ends (None: unfinished)."""
    run_dir = storage / "lsid_lr" / "r"
    run_dir.mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({"space": "lsid_lr", "options": OLDER_OPTIONS}))
    for i, (trial, status) in enumerate(zip(get_space("lsid_lr").grid_trials(), statuses)):
        (run_dir / f"t{i}").mkdir()
        (run_dir / f"t{i}" / "params.json").write_text(json.dumps(trial))
        if status is not None:
            (run_dir / f"t{i}" / "status.json").write_text(json.dumps(status))
    return str(run_dir)


def _tree(folder) -> dict[str, bytes]:
    return {str(p): p.read_bytes() if p.is_file() else b"" for p in sorted(folder.rglob("*"))}


def _dry_resume(storage, *args: str) -> int:
    return main(["--resume", "--name", "r", "--storage", str(storage), *args, "--dashboard-port", str(free_port()),
                 "--dry-run"])


def test_a_resume_may_repeat_the_settings_the_run_took_from_its_space(tmp_path, capsys):
    _hand_made_run(tmp_path)
    assert _dry_resume(tmp_path, "--scheduler", "asha", "--search", "grid", "--asha-reduction", "6",
                       "--asha-grace", str(1 / 12), "--asha-recheck", "--asha-noise", "0.18", "--profile", "smoke",
                       "--max-failures", "0") == 0
    assert "profile smoke, search grid, scheduler asha" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--scheduler", "fifo"], "--scheduler differs ('asha' recorded, 'fifo' given)"),
    (["--asha-reduction", "3"], "--asha-reduction differs (6 recorded, 3.0 given)"),
    (["--no-asha-recheck"], "--asha-recheck differs (True recorded, False given)"),
    (["--search", "optuna"], "--search differs ('grid' recorded, 'optuna' given)"),
    (["--num-samples", "8"], "--num-samples differs (None recorded, 8 given)"),  # grid search samples nothing
    (["--max-failures", "2"], "--max-failures differs (0 recorded, 2 given)"),  # Ray keeps both with the run
    (["--max-concurrent", "2"], "--max-concurrent differs (None recorded, 2 given)"),
])
def test_a_resume_refuses_other_settings(tmp_path, capsys, args, message):
    _hand_made_run(tmp_path)
    assert _dry_resume(tmp_path, *args) == 2
    err = capsys.readouterr().err
    assert err == (f"error: --resume continues run 'r' with the settings it started with; {message}: drop it, or "
                   "start a new --name\n")


@pytest.mark.parametrize("text, problem", [
    ("{bad", "is not valid JSON (Expecting property name enclosed in double quotes at line 1)"),
    ("[]", "holds a JSON array, not an object"),
    ('{"options": {}}', "has no 'space' name, or its 'options' is not an object"),
    (b"\xff", "is not UTF-8 text (byte 0)"),
])
def test_a_corrupt_manifest_is_named(tmp_path, capsys, text, problem):
    run_dir = _hand_made_run(tmp_path)
    manifest = os.path.join(run_dir, "manifest.json")
    with open(manifest, "wb") as handle:
        handle.write(text if isinstance(text, bytes) else text.encode())
    before = _tree(tmp_path)
    assert main(["--resume", "--name", "r", "--storage", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"error: --resume: {manifest} {problem}; a run's manifest.json is the JSON "
                                       "object sweeps/run.py writes into every run directory it starts\n")
    assert _tree(tmp_path) == before


def test_the_dry_run_of_a_resume_lists_the_trials_still_to_run(tmp_path, capsys):
    failed = {"status": "error", "error": "RuntimeError: x"}
    _hand_made_run(tmp_path, [{"status": "terminated"}, failed, None])
    before = _tree(tmp_path)
    assert _dry_resume(tmp_path) == 0  # without --space: the run's manifest names it
    out = capsys.readouterr().out
    assert f"run directory: {tmp_path}/lsid_lr/r\n" in out
    assert ("\nresume: 2 of 10 trials ended (1 failed, kept as they are; add --retry-failed to run them again), 8 to "
            "run:\n  1e-4  (seed 0): on from its last checkpoint\n  1e-5  (seed 0): not started yet\n") in out
    assert out.count("not started yet") == 7 and "10 trials:" not in out
    assert _dry_resume(tmp_path, "--retry-failed") == 0
    out = capsys.readouterr().out
    assert "\nresume: 2 of 10 trials ended (1 failed), 9 to run:\n" in out
    assert "  1e-3  (seed 0): again from its last checkpoint (--retry-failed)\n" in out
    assert _tree(tmp_path) == before


def test_a_trial_timeout_given_on_a_resume_is_recorded_for_later_resumes(tmp_path, capsys):
    run_dir = _hand_made_run(tmp_path)
    assert _dry_resume(tmp_path) == 0
    assert "\ntrial time-out: none, as the run recorded\n" in capsys.readouterr().out
    assert _dry_resume(tmp_path, "--trial-timeout", "60") == 0
    assert ("\ntrial time-out: 60 s per attempt (the run had none); the resume records it in manifest.json for later "
            "resumes too\n") in capsys.readouterr().out
    # what the resume that ran with --trial-timeout 60 writes before Ray starts
    path = os.path.join(run_dir, "manifest.json")
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    settings = resolve_settings(SweepOptions(name="r", resume=True, trial_timeout=60.0), get_space("lsid_lr"),
                                recorded_settings(manifest, path))
    record_resume(manifest, settings, ["--resume"])
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
    assert _dry_resume(tmp_path) == 0  # a resume without the flag keeps the limit the last one set
    assert "\ntrial time-out: 60 s per attempt, as the run recorded\n" in capsys.readouterr().out
    assert _dry_resume(tmp_path, "--trial-timeout", "30") == 0
    assert "\ntrial time-out: 30 s per attempt (the run had 60 s); the resume records it" in capsys.readouterr().out
