#!/usr/bin/env python
"""A sweep's start, two ways side by side in one run, read from each sweep's timeline.

``--compare tune-env`` (the default): a trial worker's start with the runtime env Ray Tune gives every trainable
(``PL_DISABLE_FORK=1``), against the platform's start without it (``sweeps/ray_private/cluster.py:
trials_without_tune_env``): with any runtime env a worker goes through Ray's ``setup_worker.py`` first.

``--compare dashboard``: a local Ray started in Ray's own order (the dashboard, waited for, then the raylet) against
the platform's (``sweeps/ray_private/cluster.py: dashboard_beside_raylet``: the dashboard starts beside the raylet).

    python benchmarks/worker_start.py                      # 3 rounds of one sweep each way, 3 trials each
    python benchmarks/worker_start.py --rounds 5 --trials 4
    python benchmarks/worker_start.py --compare dashboard --rounds 4

Each sweep is the lsid_lr smoke profile (``--fresh-workers``, one trial at a time: every trial starts a worker of
its own) on a local Ray it starts, run from a process of its own; the two ways take turns, the first alternating
from round to round. Each sweep's timeline (``RESTORE_TIMELINE``) gives Ray's start (from the driver's prepared data
to Ray up), the time from the driver's fit to the first trial's start (Ray Tune's setup and the first worker), the
time from the prepared data to the first trial's start (both), and the gaps between one trial's release and the
next one's start (a worker each). Prints the median of each, each way, and their ratio.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.sweep_runs import SweepFailed, free_port  # noqa: E402
from benchmarks.timeline import read_marks  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.errors import DataError  # noqa: E402
from restore_core.timeline import ENV  # noqa: E402

PLATFORM = "the platform"
# sweeps/run.py with Ray Tune's own trainable env kept: the driver's call that drops it does nothing
KEEP_TUNE_ENV = ("import runpy, sys; sys.path.insert(0, sys.argv[1]); import sweeps.driver.tuner as tuner; "
                 "tuner.trials_without_tune_env = lambda: None; sys.argv = sys.argv[2:]; "
                 "runpy.run_path(sys.argv[0], run_name='__main__')")
# sweeps/run.py starting its local Ray in Ray's own order: the dashboard first, waited for, then the raylet
DASHBOARD_FIRST = ("import contextlib, runpy, sys; sys.path.insert(0, sys.argv[1]); "
                   "import sweeps.cluster.connect as connect; "
                   "connect.dashboard_beside_raylet = lambda port: contextlib.nullcontext(); sys.argv = sys.argv[2:]; "
                   "runpy.run_path(sys.argv[0], run_name='__main__')")
# --compare: (the other way's name, its driver's wrapper)
OTHER_WAYS = {"tune-env": ("with Ray Tune's env (PL_DISABLE_FORK)", KEEP_TUNE_ENV),
              "dashboard": ("the dashboard before the raylet (Ray's order)", DASHBOARD_FIRST)}


def worker_starts(marks: list[dict]) -> tuple[float, list[float]]:
    """From one sweep's timeline (trials one at a time): the seconds from the driver's fit to the first trial's start,
    and from each trial's release to the next trial's start.

    Raises:
        DataError: the timeline has no fit, or a trial that started without being released before the next one.
    """
    fit = next((m["t"] for m in marks if m["event"] == "driver: fit"), None)
    events = sorted((m for m in marks if m["event"] in ("trial", "released")), key=lambda m: m["t"])
    if fit is None or not events or events[0]["event"] != "trial":
        raise DataError("the timeline has no fit followed by a trial's start")
    gaps = []
    for before, after in zip(events, events[1:]):
        if before["event"] == after["event"]:
            raise DataError("two trials overlap in the timeline: run them one at a time")
        if after["event"] == "trial":
            gaps.append(after["t"] - before["t"])
    return events[0]["t"] - fit, gaps


def ray_start(marks: list[dict]) -> tuple[float, float]:
    """From one sweep's timeline: the seconds from the driver's prepared data to Ray up, and to the first trial's
    start.

    Raises:
        DataError: the timeline lacks the driver's data or Ray marks, or a trial.
    """
    first = {}
    for mark in sorted(marks, key=lambda m: m["t"]):
        first.setdefault(mark["event"], mark["t"])
    if not {"driver: data", "driver: ray", "trial"} <= first.keys():
        raise DataError("the timeline has no driver's data and Ray marks followed by a trial's start")
    return first["driver: ray"] - first["driver: data"], first["trial"] - first["driver: data"]


def one_sweep(way: str, wrapper: str | None, trials: int, folder: str, index: int) -> tuple[float, ...]:
    """Run one sweep ``way`` (through ``wrapper``, the other way's driver, if any); returns its wall seconds, Ray's
    start, its first worker's start, the data to the first trial, and the later workers' starts."""
    timeline = os.path.join(folder, f"t{index}.jsonl")
    argv = ["sweeps/run.py", "--space", "lsid_lr", "--profile", "smoke", "--search", "optuna", "--num-samples",
            str(trials), "--seeds", "1", "--scheduler", "fifo", "--max-concurrent", "1", "--fresh-workers",
            "--no-analysis", "--verbose", "0", "--storage", folder, "--name", f"s{index}",
            "--dashboard-port", str(free_port())]
    command = [sys.executable, *argv] if wrapper is None else [sys.executable, "-c", wrapper, ROOT, *argv]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, ENV: timeline})
    wall = time.perf_counter() - start
    if done.returncode:
        raise SweepFailed(f"{way} #{index}", done.returncode)
    marks = read_marks(timeline)
    first, later = worker_starts(marks)
    ray_up, data_to_trial = ray_start(marks)
    return wall, ray_up, first, data_to_trial, later


def build_parser() -> cli.UserFacingParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--rounds", type=cli.whole_number(1), default=3, help="sweeps each way")
    parser.add_argument("--trials", type=cli.whole_number(2), default=3, help="trials of each sweep, a worker each")
    parser.add_argument("--compare", choices=sorted(OTHER_WAYS), default="tune-env",
                        help="the other way: Ray Tune's trainable env kept, or Ray's order of the dashboard's start")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        other, wrapper = OTHER_WAYS[args.compare]
        wrappers = {PLATFORM: None, other: wrapper}
        found: dict[str, list[tuple]] = {PLATFORM: [], other: []}
        with tempfile.TemporaryDirectory(prefix="worker-start-", ignore_cleanup_errors=True) as folder:
            index = 0
            for round_ in range(args.rounds):
                for way in (PLATFORM, other) if round_ % 2 == 0 else (other, PLATFORM):
                    try:
                        found[way].append(one_sweep(way, wrappers[way], args.trials, folder, index))
                    except SweepFailed as failed:
                        print(f"error: {failed}", file=sys.stderr)
                        return failed.returncode
                    index += 1
                    print(f"round {round_ + 1}/{args.rounds}, {way}: {found[way][-1][0]:.1f} s", file=sys.stderr)
        print("\n".join(table(found, other, args.rounds, args.trials)))
        return 0

    return cli.run_user_facing(run, interrupted="interrupted")


def table(found: dict[str, list[tuple]], other: str, rounds: int, trials: int) -> list[str]:
    """The Markdown table: each way's medians and the platform's over the other way's."""
    medians = {way: [statistics.median(run[i] for run in runs) for i in range(4)]
               + [statistics.median(g for run in runs for g in run[4])] for way, runs in found.items()}
    lines = [f"{rounds} sweeps each way, {trials} trials each, one at a time (medians)",
             "| sweep | sweep (s) | Ray started (s) | fit to the first trial (s) | data to the first trial (s) | "
             "a trial's release to the next's start (s) |", "|---|---:|---:|---:|---:|---:|"]
    for way, values in medians.items():
        lines.append(f"| {way} | " + " | ".join(f"{v:.2f}" for v in values) + " |")
    ratios = [a / b for a, b in zip(medians[PLATFORM], medians[other])]
    lines.append("| ratio | " + " | ".join(f"{r:.3f}" for r in ratios) + " |")
    return lines


if __name__ == "__main__":
    sys.exit(main())
