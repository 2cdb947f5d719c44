#!/usr/bin/env python
"""A trial worker's start with the runtime env Ray Tune gives every trainable (``PL_DISABLE_FORK=1``), against the
platform's start without it (``sweeps/ray_private.py: trials_without_tune_env``): with any runtime env a worker goes
through Ray's ``setup_worker.py`` first.

    python benchmarks/worker_start.py                      # 3 rounds of one sweep each way, 3 trials each
    python benchmarks/worker_start.py --rounds 5 --trials 4

Each sweep is the lsid_lr smoke profile (``--fresh-workers``, one trial at a time: every trial starts a worker of
its own) on a local Ray it starts, run from a process of its own; the two ways take turns, the first alternating
from round to round. Each sweep's timeline (``RESTORE_TIMELINE``) gives the time from the driver's fit to the first
trial's start (Ray Tune's setup and the first worker), and the gaps between one trial's release and the next one's
start (a worker each). Prints the median of each, each way, and their ratio.
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

PLATFORM = "without Ray Tune's env (the platform)"
TUNE = "with Ray Tune's env (PL_DISABLE_FORK)"
# sweeps/run.py with Ray Tune's own trainable env kept: the driver's call that drops it does nothing
KEEP_TUNE_ENV = ("import runpy, sys; sys.path.insert(0, sys.argv[1]); import sweeps.driver.tuner as tuner; "
                 "tuner.trials_without_tune_env = lambda: None; sys.argv = sys.argv[2:]; "
                 "runpy.run_path(sys.argv[0], run_name='__main__')")


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


def one_sweep(way: str, trials: int, folder: str, index: int) -> tuple[float, float, list[float]]:
    """Run one sweep ``way``; returns its wall seconds, its first worker's start and the later workers' starts."""
    timeline = os.path.join(folder, f"t{index}.jsonl")
    argv = ["sweeps/run.py", "--space", "lsid_lr", "--profile", "smoke", "--search", "optuna", "--num-samples",
            str(trials), "--seeds", "1", "--scheduler", "fifo", "--max-concurrent", "1", "--fresh-workers",
            "--no-analysis", "--verbose", "0", "--storage", folder, "--name", f"s{index}",
            "--dashboard-port", str(free_port())]
    command = [sys.executable, *argv] if way == PLATFORM else [sys.executable, "-c", KEEP_TUNE_ENV, ROOT, *argv]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, env={**os.environ, ENV: timeline})
    wall = time.perf_counter() - start
    if done.returncode:
        raise SweepFailed(f"{way} #{index}", done.returncode)
    first, later = worker_starts(read_marks(timeline))
    return wall, first, later


def build_parser() -> cli.UserFacingParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--rounds", type=cli.whole_number(1), default=3, help="sweeps each way")
    parser.add_argument("--trials", type=cli.whole_number(2), default=3, help="trials of each sweep, a worker each")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        found = {PLATFORM: [], TUNE: []}
        with tempfile.TemporaryDirectory(prefix="worker-start-", ignore_cleanup_errors=True) as folder:
            index = 0
            for round_ in range(args.rounds):
                for way in (PLATFORM, TUNE) if round_ % 2 == 0 else (TUNE, PLATFORM):
                    try:
                        found[way].append(one_sweep(way, args.trials, folder, index))
                    except SweepFailed as failed:
                        print(f"error: {failed}", file=sys.stderr)
                        return failed.returncode
                    index += 1
                    print(f"round {round_ + 1}/{args.rounds}, {way}: {found[way][-1][0]:.1f} s", file=sys.stderr)
        medians = {way: (statistics.median(w for w, _, _ in runs), statistics.median(f for _, f, _ in runs),
                         statistics.median(g for _, _, gaps in runs for g in gaps)) for way, runs in found.items()}
        print(f"{args.rounds} sweeps each way, {args.trials} trials each, one at a time (medians)")
        print("| trial workers | sweep (s) | fit to the first trial (s) | a trial's release to the next's start (s) |")
        print("|---|---:|---:|---:|")
        for way, (wall, first, gap) in medians.items():
            print(f"| {way} | {wall:.2f} | {first:.2f} | {gap:.2f} |")
        ratios = [medians[PLATFORM][i] / medians[TUNE][i] for i in range(3)]
        print(f"| ratio | {ratios[0]:.3f} | {ratios[1]:.3f} | {ratios[2]:.3f} |")
        return 0

    return cli.run_user_facing(run, interrupted="interrupted")


if __name__ == "__main__":
    sys.exit(main())
