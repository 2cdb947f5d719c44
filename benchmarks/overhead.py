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

The bare loop prepares the data once and forks ``--concurrency`` worker processes (one torch thread each), exactly
the resources the sweep gives its trials. The sweep's time includes starting Ray, checkpoints and result files,
and the test evaluation of every trial's selected checkpoint (the analysis at the end is left out: the bare loop has
none); with ``--bare-test`` the bare loop does that work too, as a script would: it keeps each trial's checkpoint of
its best validation evaluation and evaluates it on test when the trial ends, so the ratio is what the platform adds
to the same work. The bare loop's processes run at the niceness Ray gives its workers (15), so that the
scheduler favours neither path. By default the two paths run one after the other, so a machine whose load changes
measures its load; ``--side-by-side`` runs the bare loop while the sweep runs, so that both see the same load
(with ``--concurrency 1`` on two cores, one core each). ``--timeline`` has every process of both paths mark the
parts of each trial in a file (``benchmarks/trial_cost.py --timeline`` prints their breakdown).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from analysis import load_run  # noqa: E402
from analysis.load import lower_is_better  # noqa: E402
from benchmarks.held_out import train_keeping_best  # noqa: E402
from benchmarks.sweep_runs import ROOT as REPO  # noqa: E402
from benchmarks.sweep_runs import SweepFailed, check_sweep_argv, in_storage, run_sweep  # noqa: E402
from benchmarks.timeline import driver_span, read_marks  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.errors import UserError  # noqa: E402
from restore_core.evaluate import evaluate_checkpoint  # noqa: E402
from restore_core.loop import prepare_shared_data, train  # noqa: E402
from restore_core.timeline import ENV, mark  # noqa: E402
from sweeps.settings.plan import SweepPlan  # noqa: E402

_SHARED = None
_TESTED_ON = None  # (metric, lower is better): the bare loop evaluates each trial's best checkpoint on test


def _run(config: dict) -> int:
    import torch

    torch.set_num_threads(1)
    mark("bare trial")
    if _TESTED_ON is None:
        return train(config, data=_SHARED).metrics["step"]
    folder = tempfile.mkdtemp(prefix="bare-trial-")
    try:
        reports = train_keeping_best(config, _SHARED, folder, *_TESTED_ON)
        mark("bare test evaluation")
        evaluate_checkpoint(config, os.path.join(folder, "best"), "test", _SHARED)
        mark("bare tested")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return reports[-1]["step"]


def bare(configs: list[dict], concurrency: int, niceness: int = 0,
         tested_on: tuple[str, bool] | None = None) -> float:
    global _SHARED, _TESTED_ON
    start = time.perf_counter()
    _SHARED = prepare_shared_data(configs[0])  # inherited by the forked workers
    _TESTED_ON = tested_on
    with ProcessPoolExecutor(concurrency, mp_context=get_context("fork"), initializer=os.nice,
                             initargs=(niceness,)) as pool:
        steps = list(pool.map(_run, configs))
    assert all(s == configs[0]["train"]["steps"] for s in steps)
    return time.perf_counter() - start


def sweep_argv(name: str, seeds: int, sets: list[str], concurrency: int, extra: list[str], storage: str) -> list[str]:
    """The ``sweeps/run.py`` arguments of a sweep measured."""
    argv = ["--space", "lsid_lr", "--search", "grid", "--scheduler", "fifo", "--seeds", str(seeds),
            "--max-concurrent", str(concurrency), "--storage", storage, "--name", name, "--verbose", "0",
            "--dashboard-port", "8297", "--no-analysis", *extra]
    for item in sets:
        argv += ["--set", item]
    return argv


def platform(name: str, argv: list[str], plan: SweepPlan) -> float:
    """Wall seconds of the sweep through ``sweeps/run.py``."""
    start = time.perf_counter()
    run_sweep(name, argv)
    elapsed = time.perf_counter() - start
    check_completed(plan)
    return elapsed


def side_by_side(name: str, argv: list[str], plan: SweepPlan, configs: list[dict],
                 concurrency: int, niceness: int, tested_on: tuple[str, bool] | None) -> tuple[float, float]:
    """Wall seconds of the bare loop and of the sweep, run at the same time (the sweep in its own process)."""
    start = time.perf_counter()
    sweep = subprocess.Popen([sys.executable, os.path.join(REPO, "sweeps/run.py"), *argv], cwd=REPO,
                             stdout=subprocess.DEVNULL)
    try:
        bare_s = bare(configs, concurrency, niceness, tested_on)
        returncode = sweep.wait()
    except BaseException:
        sweep.terminate()
        sweep.wait()
        raise
    sweep_s = time.perf_counter() - start
    if returncode:
        raise SweepFailed(name, returncode)
    check_completed(plan)
    return bare_s, sweep_s


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
        os.environ[ENV] = os.path.abspath(args.timeline)  # the bare loop's forks and the sweeps inherit it
    first = sweeps[0][3]
    tested_on = (first.metric, lower_is_better(first.metric, first.mode)) if args.bare_test else None
    bare_label = f"bare loop ({args.concurrency} processes{', with the test evaluation' if args.bare_test else ''})"
    rows = []  # (path, seconds, the bare loop's seconds it is compared with)
    try:
        if args.side_by_side:
            for label, name, argv, plan in sweeps:
                bare_s, sweep_s = side_by_side(name, argv, plan, configs, args.concurrency, args.bare_niceness,
                                              tested_on)
                rows += [(f"{bare_label}, beside the next row", bare_s, bare_s), (label, sweep_s, bare_s)]
        else:
            bare_s = bare(configs, args.concurrency, args.bare_niceness, tested_on)
            rows = [(bare_label, bare_s, bare_s)]
            rows += [(label, platform(name, argv, plan), bare_s) for label, name, argv, plan in sweeps]
    except SweepFailed as failed:
        print(f"error: {failed}", file=sys.stderr)
        return failed.returncode
    print(json.dumps({"trials": len(configs), "steps": configs[0]["train"]["steps"], "concurrency": args.concurrency,
                      "side_by_side": args.side_by_side}))
    print("| path | wall time (s) | ratio to the bare loop |\n|---|---:|---:|")
    for name, seconds, bare_s in rows:
        print(f"| {name} | {seconds:.1f} | {seconds / bare_s:.3f} |")
    tested = driver_span(read_marks(args.timeline), "driver: test evaluation", "driver: tested") if (
        args.timeline and len(sweeps) == 1) else None
    if tested is not None:
        sweep_s, bare_s = rows[-1][1], rows[-1][2]
        print(f"| {sweeps[0][0]}, less its test evaluation ({tested:.1f} s) | {sweep_s - tested:.1f} | "
              f"{(sweep_s - tested) / bare_s:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
