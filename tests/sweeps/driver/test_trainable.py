"""The trainable in a real sweep: each injected fault recorded with its reason, a killed worker retried from its
checkpoint, a hung trial stopped by ``--trial-timeout`` (and retried, as a failure), resources given back,
TensorBoard files readable, the ended trials evaluated on test while the others train."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import weakref

import pytest
import torch

from analysis import load_run
from restore_core.run_files import STAGED_CHECKPOINT_PREFIX
from sweeps.driver.trainable import drop_frames, release_memory
from sweeps.ledger.watchdog import TrialTimeout, Watchdog
from tests.sweeps.conftest import TRIAL_TIMEOUT
from tests.sweeps.spaces import FAULT_SLOW

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _results(run_dir: str, trial_id: str) -> list[dict]:
    with open(os.path.join(run_dir, trial_id, "result.json"), encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _by_label(run_dir: str):
    frame = load_run(run_dir)
    assert frame["label"].is_unique
    return frame.set_index("label")


def test_every_fault_is_recorded_with_its_reason_and_the_rest_finish(fault_sweep):
    frame = _by_label(fault_sweep.run_dir)
    assert set(frame.index) == {"hang", "slow", "raise", "oom", "nan", "collapse", "ok"}
    assert frame.loc["ok", "status"] == "completed" and frame.loc["ok", "steps"] == 4
    assert frame.loc["raise", "status"] == "error"
    assert frame.loc["raise", "reason"] == "RuntimeError: injected fault at step 3 (train.fault=raise)"
    assert frame.loc["oom", "status"] == "error"
    assert frame.loc["oom", "reason"] == "torch.OutOfMemoryError: injected out-of-memory at step 3 (train.fault=oom)"
    assert frame.loc["nan", "status"] == "nan" and frame.loc["nan", "reason"] == "loss became NaN or inf"
    assert frame.loc["collapse", "status"] == "collapsed"
    # the failed trials keep what they reported before failing (the evaluation at step 2)
    assert frame.loc["raise", "steps"] == 2 and frame.loc["raise", "best/val/psnr"] > 0


def test_each_ended_trial_is_evaluated_on_test_by_the_driver_while_the_others_train(fault_sweep):
    frame = _by_label(fault_sweep.run_dir)
    tests = {label: os.path.join(fault_sweep.run_dir, frame.loc[label, "trial_id"], "test.json")
             for label in frame.index}
    tested = {label for label, path in tests.items() if os.path.exists(path)}
    assert tested == {"slow", "collapse", "ok"}  # not the failed trials, nor the one whose loss became NaN
    # the driver evaluated all three as they ended (sweeps/driver/early_test.py), none was left for after the trials
    assert "evaluated 3 trial(s) on the test split as they ended (" in fault_sweep.output
    assert "on the test split in" not in fault_sweep.output
    # the first of them tens of seconds before the sweep ended: the hung trial waits out its time-out twice
    assert min(os.path.getmtime(tests[label]) for label in tested) < fault_sweep.ended - TRIAL_TIMEOUT / 2
    assert frame.loc["ok", "test/step"] == 4 and frame.loc["ok", "test/psnr"] > 0


def test_the_last_progress_table_says_how_each_trial_ended(fault_sweep):
    output = fault_sweep.output
    table = output[output.rindex("Number of trials"):output.rindex("Number of errored trials")]
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in table.splitlines()
             if line.startswith("| run_trial")]
    header = [cell.strip() for cell in next(line for line in table.splitlines() if "| Trial name" in line)
              .split("|")[1:-1]]
    ended = {row[header.index("row")]: (row[header.index("status")], row[header.index("stop")]) for row in cells}
    assert ended == {"hang": ("ERROR", "timed out"), "raise": ("ERROR", "error"), "oom": ("ERROR", "error"),
                     "nan": ("TERMINATED", "nan"), "collapse": ("TERMINATED", "collapsed"),
                     "slow": ("TERMINATED", "completed"), "ok": ("TERMINATED", "completed")}


def test_a_hung_trial_is_stopped_by_the_trial_timeout_and_retried(fault_sweep):
    message = f"timed out: still running after {TRIAL_TIMEOUT} s (--trial-timeout {TRIAL_TIMEOUT})"
    frame = _by_label(fault_sweep.run_dir)
    assert frame.loc["hang", "status"] == "error" and frame.loc["hang", "reason"] == message
    assert frame.loc["hang", "steps"] == 2  # it reported at step 2, then hung at step 3; the sweep still ended
    # a failure to Ray like any other: --max-failures 1 ran it once more (from step 2, hanging at step 3 again)
    with open(os.path.join(fault_sweep.run_dir, frame.loc["hang", "trial_id"], "error.txt"), encoding="utf-8") as f:
        assert f.read().count(f"TrialTimedOut: {message}\n") == 2


def test_a_killed_worker_is_retried_from_its_checkpoint(fault_sweep):
    assert fault_sweep.killed_pid is not None
    frame = _by_label(fault_sweep.run_dir)
    assert frame.loc["slow", "status"] == "completed" and frame.loc["slow", "steps"] == FAULT_SLOW["train"]["steps"]
    results = _results(fault_sweep.run_dir, frame.loc["slow", "trial_id"])
    pids = {r["pid"] for r in results}
    assert fault_sweep.killed_pid in pids and len(pids) == 2  # a second worker finished it
    restarts = [r["step"] for r in results if r["iterations_since_restore"] == 1]
    assert restarts[0] == 12 and len(restarts) == 2 and restarts[1] > 12  # continued, not started over
    with open(os.path.join(fault_sweep.run_dir, frame.loc["slow", "trial_id"], "retried-errors.txt")) as handle:
        assert f"pid: {fault_sweep.killed_pid}" in handle.read()  # the failed attempt stays on record


def test_a_finished_trials_worker_takes_the_next_trial(fault_sweep):
    frame = _by_label(fault_sweep.run_dir)
    trials_of_pid: dict[int, set[str]] = {}
    for label, trial_id in frame["trial_id"].items():
        for result in _results(fault_sweep.run_dir, trial_id):
            trials_of_pid.setdefault(result["pid"], set()).add(label)
    # seven trials on two CPUs: without reuse every trial (and the retry) would have its own process
    assert max(len(labels) for labels in trials_of_pid.values()) >= 2, trials_of_pid
    assert len(trials_of_pid) < len(frame) + 1


def test_the_trials_resources_are_given_back(fault_sweep, ray_session):
    deadline = time.time() + 30
    while time.time() < deadline:
        if ray_session.available_resources().get("CPU", 0) == ray_session.cluster_resources()["CPU"]:
            break
        time.sleep(0.5)
    assert ray_session.available_resources().get("CPU", 0) == ray_session.cluster_resources()["CPU"]


def test_no_staged_checkpoint_is_in_the_run_and_every_kept_one_loads(fault_sweep):
    folders = [os.path.join(fault_sweep.run_dir, name) for name in os.listdir(fault_sweep.run_dir)]
    trials = [folder for folder in folders if os.path.isfile(os.path.join(folder, "result.json"))]
    kept = [os.path.join(folder, name, "state.pt") for folder in trials for name in os.listdir(folder)
            if name.startswith("checkpoint_")]
    assert trials and kept
    assert not [name for folder in trials for name in os.listdir(folder) if name.startswith(STAGED_CHECKPOINT_PREFIX)]
    assert all(torch.load(path, weights_only=False)["step"] > 0 for path in kept)


def test_tensorboard_has_every_reported_scalar_and_the_image_grids(fault_sweep):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    frame = _by_label(fault_sweep.run_dir)
    trial_dir = os.path.join(fault_sweep.run_dir, frame.loc["ok", "trial_id"])
    events = EventAccumulator(trial_dir, size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    results = _results(fault_sweep.run_dir, frame.loc["ok", "trial_id"])
    reported = {k for k, v in results[-1].items() if isinstance(v, (int, float)) and not isinstance(v, bool)
                and ("/" in k or k in ("lr", "progress"))}
    assert {"train/loss", "val/psnr", "val/ssim", "val/ref_psnr", "val/delta_psnr", "cost/params"} <= reported
    # the model's cost is measured once: hparams and text (tests/sweeps/driver/test_tensorboard.py), not curves
    assert {k for k in reported if not k.startswith("cost/")} <= set(tags["scalars"])
    assert not {k for k in tags["scalars"] if k.startswith("cost/")}
    for result in results:
        logged = {e.step: e.value for e in events.Scalars("val/psnr")}
        assert logged[result["step"]] == pytest.approx(result["val/psnr"], rel=1e-5)
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4]
    assert {"images/input", "images/output", "images/target"} <= set(tags["images"])
    grid = events.Images("images/output")
    assert [g.step for g in grid] == [2, 4]
    # two validation tiles of 64x64 side by side (train.log_images=2 in the smoke profile)
    assert (grid[-1].width, grid[-1].height) == (128, 64) and grid[-1].encoded_image_string.startswith(b"\x89PNG")


def test_drop_frames_lets_go_of_the_tensors_a_failed_step_held():
    """The helper the trainable calls on any error (its call there is not exercised here: that needs a failing trial
    run through Ray)."""
    refs = []

    def failing_step():
        activations = torch.zeros(1 << 16)
        refs.append(weakref.ref(activations))
        raise torch.OutOfMemoryError("out of memory")

    try:
        failing_step()
    except torch.OutOfMemoryError as error:
        assert refs[0]() is not None  # the traceback's frame holds it ...
        drop_frames(error)
        release_memory()
        assert refs[0]() is None  # ... until drop_frames clears them (the exception itself is kept)


def test_a_workers_imports_are_frozen_once_and_a_trials_garbage_is_still_collected():
    """In a fresh process, as in a Ray worker: the first trial freezes what is alive, a later one freezes nothing
    more; release_memory() frees a cycle a trial left and freezes what outlived the trial (what it imported), so
    that the next collection walks only what came after, and frees the next trial's cycle too."""
    code = (
        "import gc, weakref\n"
        "from sweeps.driver.trainable import freeze_what_the_worker_imported, release_memory\n"
        "freeze_what_the_worker_imported()\n"
        "frozen = gc.get_freeze_count()\n"
        "freeze_what_the_worker_imported()\n"
        "same = gc.get_freeze_count() == frozen\n"
        "class Model: pass\n"
        "imported = [[] for _ in range(500)]  # what a trial imports on first use: alive after it\n"
        "model = Model(); model.cycle = model; ref = weakref.ref(model); del model\n"
        "release_memory()\n"
        "first = ref() is None and gc.get_freeze_count() >= frozen + 500 and len(gc.get_objects()) < 100\n"
        "model = Model(); model.cycle = model; ref = weakref.ref(model); del model\n"
        "release_memory()\n"
        "print(frozen > 1000, same, first, ref() is None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True", "True", "True", "True"]


def test_the_watchdog_interrupts_a_loop_and_stays_quiet_otherwise():
    messages = []
    watchdog = Watchdog(0.3, "too slow", messages.append, grace=5).start()
    started = time.perf_counter()
    with pytest.raises(TrialTimeout):
        try:
            while True:
                time.sleep(0.05)
        finally:
            watchdog.finish()
    assert 0.3 <= time.perf_counter() - started < 2 and messages == ["too slow"]
    quiet = Watchdog(0.2, "never", messages.append, grace=0.1).start()
    quiet.finish()
    time.sleep(0.4)
    assert not quiet.fired and messages == ["too slow"]
    assert not [t for t in threading.enumerate() if t.name == "trial-watchdog"]  # both watchdogs' threads ended
