"""A trial's reports as its ``result.json`` holds them, and the two kills that the crash tests inflict on a sweep: its
driver's process at a moment found by watching the run directory, and a trial's worker process once it has
reported a given step (a preempted or OOM-killed worker)."""

from __future__ import annotations

import glob
import json
import os
import signal
import threading
import time
from collections.abc import Callable

from tests.sweeps.driver_forks import start_driver


def reports(trial_dir: str) -> list[dict]:
    """The trial's reports that are whole lines (the driver may be writing the last one)."""
    try:
        with open(os.path.join(trial_dir, "result.json"), encoding="utf-8") as handle:
            lines = handle.read().split("\n")[:-1]
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def lives(trial_dir: str) -> list[list[dict]]:
    """The trial's reports by attempt: each retry or resume starts counting ``iterations_since_restore`` again."""
    out: list[list[dict]] = []
    for report in reports(trial_dir):
        if report["iterations_since_restore"] == 1 or not out:
            out.append([])
        out[-1].append(report)
    return out


def trial_dirs(run_dir: str) -> list[str]:
    return sorted(os.path.dirname(p) for p in glob.glob(os.path.join(run_dir, "*", "params.json")))


def kill_when(args: list[str], reached: Callable[[str, str], bool], run_dir: str, log_path: str,
              env: dict[str, str] | None = None) -> dict:
    """Run the driver (``tests/sweeps/spaces.py``, which registers the operations spaces, forked by
    tests/sweeps/driver_forks.py) with ``args`` in the environment ``env`` (None: this one), its output in
    ``log_path``, SIGKILL it the moment ``reached(run_dir, log)`` holds, and return what the run directory held then
    (trial folder: reports, ended, checkpoint folders)."""
    proc = start_driver(args, log_path, env=env)
    try:
        deadline = time.time() + 600
        while proc.poll() is None and time.time() < deadline:
            with open(log_path, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
            if reached(run_dir, text):
                proc.kill()  # SIGKILL: nothing of the driver runs any more, as when its machine dies
                proc.wait(timeout=60)
                return {os.path.basename(t): (len(reports(t)), os.path.exists(os.path.join(t, "status.json")),
                                              sorted(os.listdir(t))) for t in trial_dirs(run_dir)}
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            proc.kill()
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        output = handle.read()[-3000:]
    raise AssertionError(f"{reached.__name__} was never reached (exit code {proc.poll()}):\n{output}")


def kill_worker(run_dir: str, row: str, step: int, stop: threading.Event, killed: list[int]) -> None:
    """SIGKILL the worker process of the trial of ``row`` once it has reported ``step`` or later (its pid is in Ray's
    result.json), and append the pid to ``killed``; polls until then or until ``stop`` is set (run it in a thread
    beside the sweep)."""
    while not stop.is_set():
        for trial in trial_dirs(run_dir) if os.path.isdir(run_dir) else []:
            try:
                with open(os.path.join(trial, "params.json"), encoding="utf-8") as handle:
                    if json.load(handle).get("row") != row:
                        continue
                late = [r for r in reports(trial) if r["step"] >= step]
            except (OSError, json.JSONDecodeError):
                continue
            if late:
                os.kill(late[0]["pid"], signal.SIGKILL)
                killed.append(late[0]["pid"])
                return
        stop.wait(0.01)
