#!/usr/bin/env python
"""Replay ASHA over the curves of a finished FIFO grid run: which trials each setting would have stopped, the
training steps it would have used and the best value it would have kept. No training; seconds.

    python benchmarks/asha_replay.py runs/lsid_lr/<fifo-grid-run>
    python benchmarks/asha_replay.py <run> --grace 0.083 0.25 --reduction 3 4 --concurrency 2 --orders 200
    python benchmarks/asha_replay.py <run> --grace 0.083 --reduction 3 6 --recheck off on --quorum 1 4
    python benchmarks/asha_replay.py <run> --grace 0.083 --reduction 6 --recheck on --noise off measured auto 0.18

Every trial of a FIFO run trained to the end and reported at every evaluation, so its curve is what the same
trial would report under ASHA (trials are deterministic for their seed). The replay hands those reports to the
sweep's own schedulers, Ray's ``ASHAScheduler`` (one bracket; at the highest rung a trial has passed and not yet been
judged at, it stops when its value is below the ``1 − 1/reduction`` percentile of the values recorded there before
it), for ``--concurrency`` trials running side by side at equal speed, started in the run's trial order or in random
orders. Asynchronous promotion favours early arrivals (the first trial at a rung always continues), so the order
matters with few trials; the random orders (the same ones for every setting) show the spread. ``--recheck off on``
adds the scheduler of ``--asha-recheck``: a trial let on is judged again at each later result at its highest rung,
against every other trial recorded there by then. ``--quorum N`` (``--asha-quorum``): a trial let on from a rung
with fewer than N recorded waits (paused, its worker free) while other trials can start; the replay asks the
scheduler which trial a free worker takes, as Ray does, and a resumed trial goes on from the step it paused at.
``--noise`` (``--asha-noise``): the race between rungs, with the noise of one evaluation given, ``measured`` over
this run's own evaluations (printed first: what a space declares), or ``auto`` (measured as the replayed sweep runs);
with the race the quorum is not used.

``--pool-seeds`` replays a run with several seeds as one sweep (what ``--seeds N`` with ASHA does: every trial of every
seed is judged at the same rungs) and adds the configuration it would pick: the one with the highest mean over its
trials trained to the end, valued at its mean over all seeds in the FIFO run (the regret of the pick).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import os
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from analysis import load_curves, read_manifest  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.errors import DataError  # noqa: E402
from sweeps.driver.describe import asha_rungs  # noqa: E402
from sweeps.driver.race import measured_noise  # noqa: E402


def asha_scheduler(grace: int, reduction: float, max_t: int, recheck: bool = False, quorum: int = 1,
                   noise: float | str | None = None):
    """The sweep's own ASHA scheduler (Ray's ASHA with ``--asha-recheck``/``--asha-quorum``/``--asha-noise``), for
    values signed so that higher is better."""
    from sweeps.driver.asha import RecheckingASHA

    return RecheckingASHA(time_attr="step", metric="value", mode="max", grace_period=grace, max_t=max_t,
                          reduction_factor=reduction, recheck=recheck, quorum=quorum, noise=noise)


class Controller:
    """What a scheduler sees of Ray's controller: the trials in the order they were added, with their status, and
    ``stop_trial`` (a scheduler stops a paused trial through it)."""

    def __init__(self, scheduler, order: list[int]):
        from ray.tune.experiment import Trial

        self.scheduler, self.status = scheduler, Trial
        # what the scheduler reads of a trial; none has reported yet (a resumed trial would be recorded again)
        self.trials = [SimpleNamespace(trial_id=str(i), index=i, status=Trial.PENDING, has_reported_at_least_once=False)
                       for i in order]
        self.by_index = {t.index: t for t in self.trials}
        for trial in self.trials:
            scheduler.on_trial_add(self, trial)

    def get_trials(self) -> list[SimpleNamespace]:
        return self.trials

    def stop_trial(self, trial) -> None:
        self.scheduler.on_trial_remove(self, trial)
        trial.status = self.status.TERMINATED


def replay(curves: list[dict[int, float]], order: list[int], grace: int, reduction: float, max_t: int,
           concurrency: int, mode: str = "max", recheck: bool = False,
           quorum: int = 1, noise: float | str | None = None) -> tuple[int, float, list[int]]:
    """Steps used, best value kept and the furthest step of each trial, for trials started in ``order``.

    ``curves`` holds, per trial, its reported value by step (every evaluation up to ``max_t``). Trials run at equal
    speed on ``concurrency`` workers; a paused trial gives its worker up and later resumes from its last report.
    """
    from ray.tune.schedulers import TrialScheduler

    sign = 1.0 if mode == "max" else -1.0
    scheduler = asha_scheduler(grace, reduction, max_t, recheck, quorum, noise)
    controller = Controller(scheduler, order)
    running = controller.status.RUNNING
    reached = [0] * len(curves)
    events: list[tuple[float, int, int, int]] = []  # (time, start rank, trial, step)
    starts = itertools.count()
    current = [-1] * len(curves)  # per trial, the rank of its latest start


    def start_next(now: float) -> None:
        trial = scheduler.choose_trial_to_run(controller)
        if trial is None:
            return
        trial.status, rank = running, next(starts)
        current[trial.index] = rank
        for step in sorted(curves[trial.index]):
            if step > reached[trial.index]:
                heapq.heappush(events, (now + step - reached[trial.index], rank, trial.index, step))

    for _ in range(concurrency):
        start_next(0.0)
    while events:
        now, rank, index, step = heapq.heappop(events)
        trial = controller.by_index[index]
        if trial.status != running or rank != current[index]:
            continue  # a report of a start the trial has since left (it paused, and may have resumed since)
        reached[index] = step
        result = {"step": step, "value": sign * curves[index][step]}
        decision = scheduler.on_trial_result(controller, trial, result)
        if decision == TrialScheduler.CONTINUE and step < max_t:
            continue
        if decision == TrialScheduler.PAUSE:
            trial.status = controller.status.PAUSED
        else:
            scheduler.on_trial_complete(controller, trial, result)
            trial.status = controller.status.TERMINATED
        start_next(now)
    best = max(sign * v for t, c in enumerate(curves) for s, v in c.items() if s <= reached[t])
    return sum(reached), sign * best, reached


def picked(labels: list[str], curves: list[dict[int, float]], stopped_at: list[int], max_t: int,
           mode: str = "max") -> str:
    """The configuration a run that stopped trials at ``stopped_at`` would pick: the best mean best value over its
    trials trained to ``max_t``."""
    finished = [(label, curve) for label, curve, stop in zip(labels, curves, stopped_at) if stop >= max_t]
    means = config_means([label for label, _ in finished], [curve for _, curve in finished], mode)
    return (max if mode == "max" else min)(means, key=means.__getitem__)


def config_means(labels: list[str], curves: list[dict[int, float]], mode: str = "max") -> dict[str, float]:
    """Per configuration, the mean over its trials (seeds) of each trial's best value."""
    best = (max if mode == "max" else min)
    values: dict[str, list[float]] = {}
    for label, curve in zip(labels, curves):
        values.setdefault(label, []).append(best(curve.values()))
    return {label: float(np.mean(v)) for label, v in values.items()}


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("run_dir", help="a finished run with --scheduler fifo (every trial trained to the end)")
    parser.add_argument("--grace", type=cli.number_above(0, 1), nargs="+", default=[1 / 12, 1 / 6, 0.25],
                        help="grace periods as fractions of training")
    parser.add_argument("--reduction", type=cli.number_above(1), nargs="+", default=[2, 3, 4],
                        help="reduction factors (3 keeps the best third at each rung)")
    parser.add_argument("--concurrency", type=cli.whole_number(1), default=2, help="trials running side by side")
    parser.add_argument("--orders", type=cli.whole_number(1), default=200, help="random trial orders per setting")
    parser.add_argument("--recheck", nargs="+", choices=("off", "on"), default=["off"],
                        help="without and/or with judging a promoted trial again at each later result "
                        "(--asha-recheck)")
    parser.add_argument("--quorum", type=cli.whole_number(1), nargs="+", default=[1],
                        help="trials recorded at a rung before one let on from it goes on (--asha-quorum; 1: Ray's)")
    parser.add_argument("--noise", type=noise_setting, nargs="+", default=["off"],
                        help="the race's noise of one evaluation (--asha-noise): off, a number, auto, or measured "
                        "(over this run's evaluations)")
    parser.add_argument("--seeds", type=cli.whole_number(1), default=None,
                        help="replay the trials of seeds 0..N-1 only (a run whose later seeds did not finish serves "
                        "for the first ones; default: every seed)")
    parser.add_argument("--pool-seeds", action="store_true",
                        help="replay all seeds as one sweep (as --seeds N runs) and value the configuration it picks")
    return parser


def noise_setting(text: str) -> str | float:
    """``--noise``: off, auto, measured or a number >= 0."""
    if text in ("off", "auto", "measured"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected off, auto, measured or a number >= 0; got '{text}'")
    return value


def read_fifo_curves(run_dir: str, seeds: int | None = None) -> tuple[pd.DataFrame, str, str]:
    """The learning curves of a finished FIFO run (its trials with seeds below ``seeds``; None: all), its metric and
    mode.

    Raises:
        DataError: the folder is no run, was not run with the FIFO scheduler, has no evaluations of its metric, or
            has trials that did not train to the end.
    """
    manifest = read_manifest(run_dir)
    scheduler = manifest.get("scheduler")
    if scheduler != "fifo":
        raise DataError(f"{run_dir} was run with --scheduler {scheduler}; the replay needs a finished run with "
                        f"--scheduler fifo, where every trial trained to the end")
    metric, mode = manifest["metric"], manifest["mode"]
    frame = load_curves(run_dir)
    if seeds is not None:
        frame = frame[frame["seed"] < seeds]
    frame = frame.dropna(subset=[metric]) if metric in frame else frame.iloc[0:0]
    if frame.empty:
        raise DataError(f"{run_dir} has no evaluations of {metric}; the replay needs a finished run with "
                        f"--scheduler fifo")
    max_t = frame["step"].max()
    short = sorted(t for t, steps in frame.groupby("trial_id")["step"] if steps.max() < max_t)
    if short:
        raise DataError(f"{run_dir}: {len(short)} trial(s) stopped before step {int(max_t)} ({', '.join(short[:3])}"
                        f"{', ...' if len(short) > 3 else ''}); the replay needs every trial trained to the end "
                        f"(finish an interrupted run with sweeps/run.py --resume)")
    return frame, metric, mode


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_user_facing(lambda: run(args), interrupted="interrupted")


def run(args: argparse.Namespace) -> None:
    frame, metric, mode = read_fifo_curves(args.run_dir, args.seeds)
    max_t = int(frame["step"].max())
    eval_every = int(frame["step"].min())
    print(f"{args.run_dir}: {frame['trial_id'].nunique()} trials, {max_t} steps, metric {metric} ({mode})")
    run_noise = measured_noise(dict(zip(rows["step"].astype(int), rows[metric]))
                               for _, rows in frame.groupby("trial_id"))
    print(f"noise of one evaluation, measured over the run's evaluations: {run_noise:.4g}" if run_noise is not None
          else "noise of one evaluation: too few evaluations to measure it")
    print("| seed | grace (steps) | reduction | rungs | recheck | quorum | noise | steps, run order | share "
          "| best, run order "
          "| Δ best | share, random orders (median, 90 %) | Δ best, random orders (median, worst 10 %) |"
          + (" picked configuration, run order | its Δ to the best configuration (mean over seeds) "
             "| Δ of the pick, random orders (median, worst 10 %) |" if args.pool_seeds else ""))
    print("|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
          + ("---|---:|---:|" if args.pool_seeds else ""))
    groups = [("all", frame)] if args.pool_seeds else list(frame.groupby("seed"))
    for seed, group in groups:
        trials = sorted(group["trial_id"].unique())
        labels = [group.loc[group["trial_id"] == t, "label"].iloc[0] for t in trials]
        curves = [dict(zip(rows["step"].astype(int), rows[metric]))
                  for rows in (group[group["trial_id"] == t] for t in trials)]
        means = config_means(labels, curves, mode)
        best_mean = (max if mode == "max" else min)(means.values())
        full = sum(max(c) for c in curves)
        grid_best = max(max(c.values()) for c in curves) if mode == "max" else min(min(c.values()) for c in curves)
        rng = np.random.default_rng(0)  # the same random orders for every setting
        orders = [list(rng.permutation(len(curves))) for _ in range(args.orders)]
        for fraction in args.grace:
            grace = max(eval_every, round(max_t * fraction / eval_every) * eval_every)
            settings = itertools.product(args.reduction, args.recheck, args.quorum, args.noise)
            for reduction, recheck, quorum, noise in settings:
                noise = run_noise if noise == "measured" else None if noise in ("off", 0) else noise
                if noise is not None and quorum > 1:
                    continue  # the race replaces the quorum (sweeps/run.py refuses both)
                steps, best, stopped = replay(curves, list(range(len(curves))), grace, reduction, max_t,
                                              args.concurrency, mode, recheck == "on", quorum, noise)
                pick = picked(labels, curves, stopped, max_t, mode)
                shares, deltas, pick_deltas = [], [], []
                for order in orders:
                    s, b, stops = replay(curves, order, grace, reduction, max_t, args.concurrency, mode,
                                         recheck == "on", quorum, noise)
                    shares.append(s / full)
                    deltas.append(b - grid_best)
                    pick_deltas.append(means[picked(labels, curves, stops, max_t, mode)] - best_mean)
                worst = np.percentile(deltas, 10 if mode == "max" else 90)
                extra = ""
                if args.pool_seeds:
                    worst_pick = np.percentile(pick_deltas, 10 if mode == "max" else 90)
                    extra = (f" {pick} | {means[pick] - best_mean:+.2f} | {np.median(pick_deltas):+.2f}, "
                             f"{worst_pick:+.2f} |")
                rungs = asha_rungs(grace, max_t, reduction)
                shown = "off" if noise is None else noise if noise == "auto" else f"{noise:.3g}"
                print(f"| {seed} | {grace} | {reduction:g} | {rungs} | {recheck} | {quorum} | {shown} | {steps} | "
                      f"{100 * steps / full:.1f} % | {best:.2f} | {best - grid_best:+.2f} | "
                      f"{100 * np.median(shares):.1f} %, {100 * np.percentile(shares, 90):.1f} % | "
                      f"{np.median(deltas):+.2f}, {worst:+.2f} |{extra}")


if __name__ == "__main__":
    sys.exit(main())
