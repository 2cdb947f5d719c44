#!/usr/bin/env python
"""Large sweeps: what the driver costs as the number of trials grows. The same smoke-sized sweep (lsid_lr's smoke
profile: a 0.125-width SID U-Net, 4 steps, 2 evaluations; random search, ASHA) is run with each number of trials, one
after another in this run, each in its own driver process starting its own Ray; prints, for each, the driver's peak
memory, the peak memory of the driver with the Ray processes it started, the wall time per trial against the
trials' own training time, the run directory's size, and the time ``python -m analysis`` takes on it, then how each
grows per 100 trials (the slope between the smallest and the largest sweep, so fixed costs such as starting Ray drop
out).

    python benchmarks/large_sweep.py                               # 100, 250 and 500 trials
    python benchmarks/large_sweep.py --trials 20,50 --json out.json
    python benchmarks/large_sweep.py --storage runs/bench          # keep the runs: runs/bench/lsid_lr/large-<n>

Per-trial overhead is ``(wall time x concurrency - training time) / trials``: the time a trial's slot is busy with
something other than the trial's own loop (scheduling, starting the trial, checkpoints, result files), leaving
out the test evaluation of every trial's selected checkpoint that the driver runs after the trials (shown apart).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time

import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.sweep_runs import SweepFailed, check_sweep_argv, free_port, in_storage  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.errors import UserError  # noqa: E402

SWEEP = ["--space", "lsid_lr", "--profile", "smoke", "--search", "random", "--scheduler", "asha", "--verbose", "0",
         "--no-analysis"]
SAMPLE_S = 0.5  # how often the memory of the driver and its Ray is read


def sweep_argv(trials: int, concurrency: int, storage: str) -> list[str]:
    return [*SWEEP, "--num-samples", str(trials), "--max-concurrent", str(concurrency), "--storage", storage,
            "--name", f"large-{trials}", "--search-seed", "0", "--dashboard-port", str(free_port())]


def rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.Error:
        return 0


def run_measured(argv: list[str], log_path: str) -> dict:
    """Run ``sweeps/run.py argv`` in its own process (stderr to ``log_path``) and sample the memory of the driver and
    of the driver with every process it started (its Ray: GCS, raylet, workers) until it ends; also the seconds of
    the test evaluation that follows the trials (as the driver says)."""
    start = time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "sweeps", "run.py"), *argv], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=log)
    driver = psutil.Process(proc.pid)
    peak_driver = peak_tree = 0
    while proc.poll() is None:
        peak_driver = max(peak_driver, rss(driver))
        try:
            tree = [driver, *driver.children(recursive=True)]
        except psutil.Error:
            tree = []
        peak_tree = max(peak_tree, sum(rss(p) for p in tree))
        time.sleep(SAMPLE_S)
    wall = time.perf_counter() - start
    with open(log_path, encoding="utf-8", errors="replace") as log:
        text = log.read()
    if proc.returncode:
        sys.stderr.write(text[-3000:])
        raise SweepFailed(argv[argv.index("--name") + 1], proc.returncode)
    tested = [float(s) for s in re.findall(r"on the test split in ([0-9.]+) s", text)]
    return {"wall_s": wall, "test_evaluation_s": sum(tested), "driver_peak_mib": peak_driver / 2**20,
            "driver_and_ray_peak_mib": peak_tree / 2**20}


def trial_times(run_dir: str) -> tuple[int, float]:
    """The number of trial folders and the sum of their own training time (Ray's ``time_total_s`` of each trial's
    last report)."""
    count, total = 0, 0.0
    for name in os.listdir(run_dir):
        path = os.path.join(run_dir, name, "result.json")
        if not os.path.isfile(path):
            continue
        count += 1
        with open(path, encoding="utf-8") as handle:
            lines = [line for line in handle.read().split("\n") if line.strip()]
        if lines:
            total += json.loads(lines[-1])["time_total_s"]
    return count, total


def folder_size(folder: str) -> tuple[int, int]:
    """The bytes and the number of files under ``folder``."""
    size = files = 0
    for parent, _, names in os.walk(folder):
        for name in names:
            size += os.path.getsize(os.path.join(parent, name))
            files += 1
    return size, files


def measure(trials: int, concurrency: int, storage: str) -> dict:
    argv = sweep_argv(trials, concurrency, storage)
    run_dir = os.path.join(storage, "lsid_lr", f"large-{trials}")
    print(f"{trials} trials ...", file=sys.stderr, flush=True)
    os.makedirs(storage, exist_ok=True)
    row = {"trials": trials, **run_measured(argv, os.path.join(storage, f"large-{trials}.log"))}
    count, training = trial_times(run_dir)
    if count != trials:
        raise UserError(f"the {trials}-trial sweep left {count} trial folders in {run_dir}")
    size, files = folder_size(run_dir)
    start = time.perf_counter()
    analysis = subprocess.run([sys.executable, "-m", "analysis", run_dir], cwd=ROOT, stdout=subprocess.DEVNULL)
    if analysis.returncode:
        raise SweepFailed(f"analysis of large-{trials}", analysis.returncode)
    row.update(training_s=training, wall_per_trial_s=row["wall_s"] / trials,
               overhead_per_trial_s=((row["wall_s"] - row["test_evaluation_s"]) * concurrency - training) / trials,
               run_dir_mib=size / 2**20, files=files, analysis_s=time.perf_counter() - start)
    return row


def growth(rows: list[dict]) -> dict:
    """Per 100 more trials, between the smallest and the largest sweep."""
    small, large = rows[0], rows[-1]
    scale = 100 / (large["trials"] - small["trials"])
    keys = ("wall_s", "test_evaluation_s", "driver_peak_mib", "driver_and_ray_peak_mib", "run_dir_mib", "files",
            "analysis_s")
    return {key: (large[key] - small[key]) * scale for key in keys}


def show(rows: list[dict], grown: dict | None) -> None:
    print("| trials | wall s | of it test evaluation s | s/trial | overhead s/trial | driver MiB | driver+Ray MiB "
          "| run dir MiB | files | analysis s |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['trials']} | {r['wall_s']:.0f} | {r['test_evaluation_s']:.0f} | {r['wall_per_trial_s']:.2f} "
              f"| {r['overhead_per_trial_s']:.2f} "
              f"| {r['driver_peak_mib']:.0f} | {r['driver_and_ray_peak_mib']:.0f} | {r['run_dir_mib']:.1f} "
              f"| {r['files']} | {r['analysis_s']:.1f} |")
    if grown:
        print(f"| per 100 more | {grown['wall_s']:.0f} | {grown['test_evaluation_s']:.0f} | | | "
              f"{grown['driver_peak_mib']:+.0f} "
              f"| {grown['driver_and_ray_peak_mib']:+.0f} | {grown['run_dir_mib']:+.1f} | {grown['files']:+.0f} "
              f"| {grown['analysis_s']:+.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = cli.UserFacingParser(description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", default="100,250,500", help="comma-separated trial counts (default 100,250,500)")
    parser.add_argument("--max-concurrent", type=int, default=2, help="trials at once (default 2)")
    parser.add_argument("--storage", help="keep the runs under this folder (default: a temporary folder, removed)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    def run() -> int:
        try:
            counts = sorted({int(t) for t in args.trials.split(",") if t.strip()})
        except ValueError:
            counts = []
        if not counts or counts[0] < 1:
            raise UserError(f"--trials {args.trials}: give comma-separated whole numbers >= 1, e.g. 100,250,500")
        if args.max_concurrent < 1:
            raise UserError(f"--max-concurrent must be a whole number >= 1; got {args.max_concurrent}")

        def work(storage: str) -> int:
            for trials in counts:  # every sweep checked before the first one starts
                check_sweep_argv(f"{trials}-trial", sweep_argv(trials, args.max_concurrent, storage))
            try:
                rows = [measure(trials, args.max_concurrent, storage) for trials in counts]
            except SweepFailed as failed:
                print(f"error: {failed}", file=sys.stderr)
                return failed.returncode
            grown = growth(rows) if len(rows) > 1 else None
            show(rows, grown)
            if args.json:
                with open(args.json, "w", encoding="utf-8") as handle:
                    json.dump({"max_concurrent": args.max_concurrent, "rows": rows, "per_100_trials": grown},
                              handle, indent=1)
            return 0

        return in_storage(args.storage, "large-sweep-", work)

    return cli.run_user_facing(run, interrupted="interrupted; nothing of the sweeps is kept unless --storage was given")


if __name__ == "__main__":
    sys.exit(main())
