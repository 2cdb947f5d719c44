"""A trial stopped by ``--trial-timeout`` is a failed trial to Ray too: ``--resume --retry-failed`` runs it again
from its last checkpoint, and it ends recorded with its new time-out (not left "unfinished", nor with the old end).
Both sweeps run in the session's Ray, as a resume on a cluster that outlived the run's driver does: Ray goes on using
the earlier driver's staging copy of the trial's folder."""

from __future__ import annotations

import glob
import json
import os

from analysis import load_run
from search_spaces import SPACES, Row, SearchSpace, register_space
from sweeps.ledger.retry import clear_failed
from sweeps.ledger.status import RETRIED_FILE, read_status
from sweeps.run import main
from tests.sweeps import spaces


def timed_out(seconds: int) -> str:
    return f"timed out: still running after {seconds} s (--trial-timeout {seconds})"


HANG = SearchSpace(
    name="ops_hang",
    description="operations test: one trial that hangs",
    reproduces="nothing (tests of the sweep platform)",
    base=spaces.BASE,
    rows=(Row("hang", spaces.fault("hang", 3)),),
    search="grid",
    scheduler="fifo",
)


def _ray_trials(run_dir: str) -> list[tuple[str, dict]]:
    """How Ray's newest snapshot of the experiment holds each trial: its status (TERMINATED, ERROR, ...) and its
    run metadata (failures counted)."""
    path = max(glob.glob(os.path.join(run_dir, "experiment_state-*.json")))
    with open(path, encoding="utf-8") as handle:
        trials = json.load(handle)["trial_data"]
    return [(json.loads(trial)["status"], json.loads(metadata)) for trial, metadata in trials]


def test_retry_failed_runs_a_timed_out_trial_again(ray_session, tmp_path):
    if HANG.name not in SPACES:
        register_space(HANG)
    run_dir = str(tmp_path / "ops_hang" / "h")
    common = ["--name", "h", "--storage", str(tmp_path), "--no-analysis", "--verbose", "0"]
    # the trial reports at step 2 (0.35 s into a smoke trial on the idle machine), then hangs at step 3 until the limit
    # stops it
    assert main(["--space", "ops_hang", "--profile", "smoke", "--trial-timeout", "6", *common]) == 0
    (trial_dir,) = {os.path.dirname(p) for p in glob.glob(os.path.join(run_dir, "*", "params.json"))}
    assert read_status(trial_dir) == {"status": "error", "error": timed_out(6)}
    assert [status for status, _ in _ray_trials(run_dir)] == ["ERROR"]  # what Tuner.restore(resume_errored=) reruns

    # a new limit for the rerun, so that its end tells the rerun from the first attempt; a short one: the rerun needs
    # no report before it (it goes on from the checkpoint at step 2 and hangs at step 3 at once)
    assert main(["--resume", "--retry-failed", "--trial-timeout", "4", *common]) == 0
    assert read_status(trial_dir) == {"status": "error", "error": timed_out(4)}
    (status, metadata), = _ray_trials(run_dir)
    assert status == "ERROR" and metadata["num_failures"] == 2  # it ran, and failed, in each sweep
    with open(os.path.join(trial_dir, RETRIED_FILE), encoding="utf-8") as handle:
        retried = handle.read()
    assert timed_out(6) in retried and timed_out(4) not in retried  # the first attempt's end, kept
    frame = load_run(run_dir)
    assert list(frame["status"]) == ["error"] and list(frame["reason"]) == [timed_out(4)]
    assert list(frame["steps"]) == [2]  # the rerun went on from the checkpoint at step 2 and hung at step 3 again


def _run_with_snapshot(storage, snapshot: str) -> str:
    """An lsid_lr run (smoke, FIFO) whose first two trials failed: Ray's snapshot ``snapshot`` holds the first as
    TERMINATED (a time-out of a trial that returned), the second as ERROR."""
    from search_spaces import get_space
    from tests.sweeps.ledger.test_resume import OLDER_OPTIONS

    run_dir = storage / "lsid_lr" / "r"
    run_dir.mkdir(parents=True)
    options = {**OLDER_OPTIONS, "scheduler": "fifo"}
    (run_dir / "manifest.json").write_text(json.dumps({"space": "lsid_lr", "options": options}))
    ends = [{"status": "error", "error": timed_out(5)}, {"status": "error", "error": "RuntimeError: x"}]
    for i, (trial, end) in enumerate(zip(get_space("lsid_lr").grid_trials(), ends)):
        (run_dir / f"t{i}").mkdir()
        (run_dir / f"t{i}" / "params.json").write_text(json.dumps(trial))
        (run_dir / f"t{i}" / "status.json").write_text(json.dumps(end))
    (run_dir / "experiment_state-2026-01-01_00-00-00.json").write_text(snapshot)
    return str(run_dir)


SNAPSHOT = json.dumps({"trial_data": [[json.dumps({"relative_logdir": f"t{i}", "status": status}), "{}"]
                                      for i, status in enumerate(("TERMINATED", "ERROR"))]})


def test_retry_failed_keeps_the_end_of_a_trial_ray_holds_as_ended(tmp_path, capsys):
    run_dir = _run_with_snapshot(tmp_path, SNAPSHOT)
    assert main(["--resume", "--retry-failed", "--name", "r", "--storage", str(tmp_path), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "\nresume: 2 of 10 trials ended (2 failed), 9 to run:\n  1e-3  (seed 0): again from its last checkpoint" \
           in out
    assert ("\n1 failed trial(s) that --retry-failed cannot run again (Ray holds them as TERMINATED), kept as they "
            "are:\n  default (1e-4→1e-5 @50%)  (seed 0)\n") in out
    assert clear_failed(run_dir) == ["t1"]  # Ray's restore runs only t1 again: t0's end stays on record
    assert read_status(os.path.join(run_dir, "t0")) == {"status": "error", "error": timed_out(5)}
    assert read_status(os.path.join(run_dir, "t1")) is None


def test_a_corrupt_snapshot_of_the_experiment_is_named(tmp_path, capsys):
    run_dir = _run_with_snapshot(tmp_path, SNAPSHOT.replace("relative_logdir", "logdir"))
    before = {str(p): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    assert main(["--resume", "--retry-failed", "--name", "r", "--storage", str(tmp_path), "--dry-run"]) == 2
    path = os.path.join(run_dir, "experiment_state-2026-01-01_00-00-00.json")
    assert capsys.readouterr().err == (
        f"error: --resume: {path} has a trial in 'trial_data' without its folder ('relative_logdir') and status; a "
        "run's experiment_state-*.json is the snapshot of the experiment that Ray Tune writes\n")
    assert {str(p): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()} == before
