#!/usr/bin/env python
"""The platform's overhead: the same lsid_lr trials through ``sweeps/run.py`` (Ray Tune, FIFO, grid) and through a
bare loop that calls the same training function with the same concurrency, in one run; prints both wall times and
their ratio.

    python benchmarks/overhead.py                       # 20 trials (10 schedules × 2 seeds), quick profile
    python benchmarks/overhead.py --steps 150           # shorter trials: an upper bound of the overhead
    python benchmarks/overhead.py --steps 150 --fresh   # also the sweep with a new worker process per trial
    python benchmarks/overhead.py --storage runs        # keep the sweep's run: runs/lsid_lr/overhead
    python benchmarks/overhead.py --steps 150 --seeds 1 --concurrency 1 --side-by-side --timeline t.jsonl
    python benchmarks/overhead.py --steps 150 --seeds 1 --concurrency 1 --side-by-side --bare-test

The bare loop is ``benchmarks/bare_loop.py``, a script run as a process of its own, as a researcher would run one:
it imports torch and the core, prepares the data once and forks ``--concurrency`` worker processes (one torch thread
each), exactly the resources the sweep gives its trials. Both paths are timed from their process's start to its end:
the sweep's time includes starting Ray, checkpoints and result files, and the test evaluation of every trial's
selected checkpoint (the analysis at the end is left out: the bare loop has none); with ``--bare-test`` the bare loop
does that work too, as a script would: it keeps each trial's checkpoint of its best validation evaluation and
evaluates it on test when the trial ends, so the ratio is what the platform adds to the same work. The bare loop's
trials run at the niceness Ray gives its workers (15), so that the scheduler favours neither path. By default the
two paths run one after the other, so a machine whose load changes measures its load; ``--side-by-side`` runs the
bare loop while the sweep runs, so that both see the same load (with ``--concurrency 1`` on two cores, one core
each). ``--timeline`` has every process of both paths mark the parts of each trial in a file
(``benchmarks/trial_cost.py --timeline`` prints their breakdown); the table then also gives each path's start (the
interpreter and its imports), the ratio against the bare loop less its start, as this benchmark measured it
when the bare loop ran in its own, already warm, process, and the ratio had the sweep's training steps taken as long
as the bare loop's (the same work, which the machine's load can speed up on one path by more than the overhead).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from analysis import load_run  # noqa: E402
from analysis.load import lower_is_better  # noqa: E402
from benchmarks.sweep_runs import ROOT as REPO  # noqa: E402
from benchmarks.sweep_runs import SweepFailed, check_sweep_argv, in_storage, run_sweep  # noqa: E402
from benchmarks.timeline import driver_span, read_marks, trials  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.errors import UserError  # noqa: E402
from restore_core.timeline import ENV  # noqa: E402
from sweeps.settings.plan import SweepPlan  # noqa: E402


class BareFailed(Exception):
    """The bare loop's script ended with an error (its own output, above, says which)."""

    def __init__(self, returncode: int):
        super().__init__(f"the bare loop failed (benchmarks/bare_loop.py exit status {returncode}; its output is "
                         "above)")
        self.returncode = returncode


def bare(configs: list[dict], concurrency: int, niceness: int = 0,
         tested_on: tuple[str, bool] | None = None) -> tuple[float, float]:
    """Wall seconds of the bare loop, run as a script of its own (``benchmarks/bare_loop.py``) from its start to its
    end, as a researcher's script pays them, and the wall time it started at."""
    with tempfile.TemporaryDirectory(prefix="bare-loop-") as folder:
        path = os.path.join(folder, "configs.json")
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(configs, handle)
        argv = [sys.executable, os.path.join(REPO, "benchmarks/bare_loop.py"), "--configs", path,
                "--concurrency", str(concurrency), "--niceness", str(niceness)]
        if tested_on is not None:
            argv += ["--test-on", tested_on[0], *(["--lower-is-better"] if tested_on[1] else [])]
        launched, start = time.time(), time.perf_counter()
        done = subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - start
    if done.returncode:
        raise BareFailed(done.returncode)
    steps = json.loads(done.stdout.strip().splitlines()[-1])["steps"]
    assert steps == [config["train"]["steps"] for config in configs], steps
    return seconds, launched


def sweep_argv(name: str, seeds: int, sets: list[str], concurrency: int, extra: list[str], storage: str) -> list[str]:
    """The ``sweeps/run.py`` arguments of a sweep measured."""
    argv = ["--space", "lsid_lr", "--search", "grid", "--scheduler", "fifo", "--seeds", str(seeds),
            "--max-concurrent", str(concurrency), "--storage", storage, "--name", name, "--verbose", "0",
            "--dashboard-port", "8297", "--no-analysis", *extra]
    for item in sets:
        argv += ["--set", item]
    return argv


def platform(name: str, argv: list[str], plan: SweepPlan) -> tuple[float, float]:
    """Wall seconds of the sweep through ``sweeps/run.py`` and the wall time it started at."""
    launched, start = time.time(), time.perf_counter()
    run_sweep(name, argv)
    elapsed = time.perf_counter() - start
    check_completed(plan)
    return elapsed, launched


def side_by_side(name: str, argv: list[str], plan: SweepPlan, configs: list[dict], concurrency: int,
                 niceness: int, tested_on: tuple[str, bool] | None) -> tuple[tuple[float, float], tuple[float, float]]:
    """Wall seconds of the bare loop and of the sweep, run at the same time, each in its own process, each with the
    wall time it started at."""
    launched, start = time.time(), time.perf_counter()
    sweep = subprocess.Popen([sys.executable, os.path.join(REPO, "sweeps/run.py"), *argv], cwd=REPO,
                             stdout=subprocess.DEVNULL)
    try:
        bare_run = bare(configs, concurrency, niceness, tested_on)
        returncode = sweep.wait()
    except BaseException:
        sweep.terminate()
        sweep.wait()
        raise
    sweep_s = time.perf_counter() - start
    if returncode:
        raise SweepFailed(name, returncode)
    check_completed(plan)
    return bare_run, (sweep_s, launched)


def check_completed(plan: SweepPlan) -> None:
    frame = load_run(plan.run_dir)
    assert len(frame) == len(plan.trials) and (frame["status"] == "completed").all(), frame[["label", "status"]]


def plan_paths(args: argparse.Namespace, storage: str) -> tuple[list[tuple[str, str, list[str], SweepPlan]],
                                                                 list[dict]]:
    """The sweeps measured (label, name, ``sweeps/run.py`` arguments, checked plan) and the bare loop's configs: the
    first sweep's trials, with everything ``--extra`` changes (``--set``, ``--profile``, ``--seeds``, ...).

    Raises:
        UserError: a sweep ``sweeps/run.py`` would refuse, or ``--extra`` that makes the sweep other than a grid
            with FIFO (the bare loop trains every trial to the end).
    """
    sets = ["train.threads=1"] + ([f"train.steps={args.steps}"] if args.steps is not None else [])
    sweeps = [("sweeps/run.py (workers reused)", "overhead",
               sweep_argv("overhead", args.seeds, sets, args.concurrency, args.extra, storage))]
    if args.fresh:
        sweeps.append(("sweeps/run.py --fresh-workers", "overhead-fresh-workers",
                       sweep_argv("overhead-fresh-workers", args.seeds, sets, args.concurrency,
                                  [*args.extra, "--fresh-workers"], storage)))
    checked = [(label, name, argv, check_sweep_argv(name, argv)) for label, name, argv in sweeps]
    plan = checked[0][3]
    if (plan.search, plan.scheduler) != ("grid", "fifo"):
        raise UserError(f"--extra {' '.join(args.extra)}: the sweep would run --search {plan.search} --scheduler "
                        f"{plan.scheduler}; the overhead is measured on the grid with FIFO, the same trials as the "
                        "bare loop trains to the end (leave --search and --scheduler out of --extra)")
    return checked, [plan.space.resolve(plan.base, trial) for trial in plan.trials]


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--seeds", type=cli.whole_number(1), default=2, help="trials = 10 schedules × seeds")
    parser.add_argument("--steps", type=cli.whole_number(1), default=None,
                        help="override train.steps (default: the quick profile's)")
    parser.add_argument("--concurrency", type=cli.whole_number(1), default=2,
                        help="trials at once, in both paths (one torch thread each)")
    parser.add_argument("--fresh", action="store_true",
                        help="also run the sweep with --fresh-workers (a new process per trial), for comparison")
    parser.add_argument("--side-by-side", action="store_true",
                        help="run the bare loop and each sweep at the same time (both see the same load)")
    parser.add_argument("--bare-niceness", type=cli.whole_number(0), default=15,
                        help="the bare loop's processes run at this niceness: Ray starts the sweep's workers at 15 "
                        "(RAY_worker_niceness), so on a busy machine neither path is favoured by the scheduler")
    parser.add_argument("--bare-test", action="store_true",
                        help="the bare loop also keeps each trial's best-validation checkpoint and evaluates it on "
                        "test at the trial's end, as the sweep does: the same work on both paths")
    parser.add_argument("--timeline", default=None,
                        help="every process marks each trial's parts in this JSON-lines file (appended to)")
    parser.add_argument("--storage", default=None,
                        help="keep the sweeps' runs under this folder (<storage>/lsid_lr/overhead, and "
                        "overhead-fresh-workers with --fresh); default: a temporary folder, removed at the end")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[],
                        help="more sweeps/run.py arguments; the bare loop trains the configs they give (--set, "
                        "--profile, --seeds)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        return in_storage(args.storage, "overhead-", lambda storage: compare(args, storage))

    return cli.run_user_facing(run, interrupted="interrupted")


def compare(args: argparse.Namespace, storage: str) -> int:
    if args.timeline and os.path.exists(args.timeline):
        raise UserError(f"--timeline {args.timeline} already exists; name a new file (the marks are appended)")
    sweeps, configs = plan_paths(args, storage)
    if args.timeline:
        os.environ[ENV] = os.path.abspath(args.timeline)  # the bare loop's script and the sweeps inherit it
    first = sweeps[0][3]
    tested_on = (first.metric, lower_is_better(first.metric, first.mode)) if args.bare_test else None
    bare_label = f"bare loop ({args.concurrency} processes{', with the test evaluation' if args.bare_test else ''})"
    rows = []  # (path, seconds, the bare loop's seconds it is compared with)
    launched = {}  # the wall time each path started at, for the timeline's rows (printed for a single sweep)
    try:
        if args.side_by_side:
            for label, name, argv, plan in sweeps:
                (bare_s, bare_at), (sweep_s, sweep_at) = side_by_side(name, argv, plan, configs, args.concurrency,
                                                                      args.bare_niceness, tested_on)
                rows += [(f"{bare_label}, beside the next row", bare_s, bare_s), (label, sweep_s, bare_s)]
                launched = {"bare": bare_at, "sweep": sweep_at}
        else:
            bare_s, launched["bare"] = bare(configs, args.concurrency, args.bare_niceness, tested_on)
            rows = [(bare_label, bare_s, bare_s)]
            for label, name, argv, plan in sweeps:
                sweep_s, sweep_at = platform(name, argv, plan)
                rows.append((label, sweep_s, bare_s))
                launched["sweep"] = sweep_at
    except (SweepFailed, BareFailed) as failed:
        print(f"error: {failed}", file=sys.stderr)
        return failed.returncode
    print(json.dumps({"trials": len(configs), "steps": configs[0]["train"]["steps"], "concurrency": args.concurrency,
                      "side_by_side": args.side_by_side}))
    print("| path | wall time (s) | ratio to the bare loop |\n|---|---:|---:|")
    for name, seconds, bare_s in rows:
        print(f"| {name} | {seconds:.1f} | {seconds / bare_s:.3f} |")
    if args.timeline and len(sweeps) == 1:
        print_timeline_rows(read_marks(args.timeline), sweeps[0][0], rows[-1][1], rows[-1][2], launched)
    return 0


def print_timeline_rows(marks: list[dict], label: str, sweep_s: float, bare_s: float,
                        launched: dict[str, float]) -> None:
    """The ratio less the sweep's test evaluation after the trials, the ratio with the sweep's training steps taken
    as long as the bare loop's (:func:`steps_at_bare_speed`), and each path's start (the interpreter and its
    imports, to its first mark), with the ratio against the bare loop less its start: the bare loop as this
    benchmark measured it before it ran as a script of its own (from a process that had imported the core)."""
    tested = driver_span(marks, "driver: test evaluation", "driver: tested")
    if tested is not None:
        print(f"| {label}, less its test evaluation ({tested:.1f} s) | {sweep_s - tested:.1f} | "
              f"{(sweep_s - tested) / bare_s:.3f} |")
    equal = steps_at_bare_speed(marks, sweep_s)
    if equal is not None:
        print(f"| {label}, its training steps at the bare loop's speed ({equal[1]:.1f} s of steps against "
              f"{equal[2]:.1f}) | {equal[0]:.1f} | {equal[0] / bare_s:.3f} |")
    started = {path: next((m["t"] - launched[path] for m in marks if m["event"] == event), None)
               for path, event in (("sweep", "driver: imported"), ("bare", "bare: imported"))}
    if None not in started.values():
        print(f"| {label}, against the bare loop less its start | {sweep_s:.1f} | "
              f"{sweep_s / (bare_s - started['bare']):.3f} |")
        print(f"\nstart (the interpreter and its imports, to the first mark): sweeps/run.py {started['sweep']:.1f} s, "
              f"the bare loop {started['bare']:.1f} s")


def steps_at_bare_speed(marks: list[dict], sweep_s: float) -> tuple[float, float, float] | None:
    """The sweep's wall time had its trials' training steps taken as long as the bare loop's: the two paths' steps
    are the same work, but on a shared machine (and beside each other) one path's can run several percent faster,
    more than the overhead measured. Returns (that time, the sweep's steps, the bare loop's steps), in seconds, or
    None when the timeline lacks a whole trial of either path or their counts differ."""
    found, _ = trials(marks)
    sweep, bare = found.get("sweep", []), found.get("bare", [])
    if not sweep or len(sweep) != len(bare):
        return None
    sweep_steps = sum(trial["training steps"] for trial in sweep)
    bare_steps = sum(trial["training steps"] for trial in bare)
    return sweep_s - sweep_steps + bare_steps, sweep_steps, bare_steps


if __name__ == "__main__":
    sys.exit(main())
