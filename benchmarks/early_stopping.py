#!/usr/bin/env python
"""What early stopping saves: lsid_lr with the full grid (FIFO) against ASHA and against Optuna + ASHA with the same
budget of trials (the grid's ten), in one run. Prints the training steps each used and the best val/psnr each
reached.

    python benchmarks/early_stopping.py                                 # quick profile, four sweeps
    python benchmarks/early_stopping.py --grid-run <fifo grid run>      # reuse a FIFO grid run's seed-0 trials
    python benchmarks/early_stopping.py --asha-grace 0.25 --asha-reduction 3 --steps 600
    python benchmarks/early_stopping.py --seeds 2 --grid-run <fifo grid run with 2 seeds> --setups asha optuna
    python benchmarks/early_stopping.py --grid-run <fifo grid run> --setups optuna random --search-seeds 0 1 2
    python benchmarks/early_stopping.py --grid-run <fifo grid run> --setups optuna --num-samples 20
    python benchmarks/early_stopping.py --grid-run <fifo grid run> --setups optuna gp --search-seeds 0 1 2
    python benchmarks/early_stopping.py --storage runs/early-stopping   # keep the runs (the grid for --grid-run)

The sweeps: the grid with FIFO (every trial to the end: the reference), the grid with ASHA at the space's settings
(first rung at the first evaluation, 1/12 of training; keep the best sixth; recheck; the race with the space's noise,
``--asha-noise``), the grid with ASHA at
``--asha-grace``/``--asha-reduction``/``--[no-]asha-recheck`` (default: a quarter, thirds, the space's recheck; the
space's quorum), and Optuna (TPE) proposing as many configurations as the grid has, with the space's ASHA;
``random`` adds Optuna's random sampler with the same budget (what TPE is without its model), ``gp`` Optuna's
Gaussian-process sampler, and ``--search-seeds`` repeats them over sampler seeds. Trials are deterministic for their
seed, so a FIFO grid run made earlier with the same profile (e.g. kept by ``overhead.py --storage``) serves as the
reference without training it again. Goal: within 0.1 dB of the grid's best using at most 25 % of its steps (one seed).

With ``--seeds N`` every sweep runs each configuration over N seeds (ASHA judges all of them at the same rungs) and
the table adds the configuration each sweep picks: the highest mean over its seeds trained to the end, valued at its
mean over all seeds in the FIFO grid (for the grid's configurations; a sampled one is valued by its own trials).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from analysis import load_run, read_manifest  # noqa: E402
from benchmarks.sweep_runs import SweepFailed, check_sweep_argv, in_storage, run_sweep  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.errors import DataError  # noqa: E402
from search_spaces import get_space  # noqa: E402
from sweeps.settings.plan import SweepPlan  # noqa: E402

GRID_ROWS = 10
SETUPS = ("asha", "asha-other", "optuna", "gp", "random")
SPACE = "lsid_lr"


def run_name(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def sweep_argv(name: str, args: list[str], sets: list[str], storage: str) -> list[str]:
    """The ``sweeps/run.py`` arguments of one setup's sweep."""
    argv = ["--space", SPACE, "--storage", storage, "--name", run_name(name), "--verbose", "0", "--no-analysis",
            "--dashboard-port", "8296", *args]
    for item in sets:
        argv += ["--set", item]
    return argv


def check_sweeps(sweeps: list[tuple[str, list[str]]]) -> list[SweepPlan]:
    """Every setup's sweep checked as ``sweeps/run.py --dry-run`` would, before the first one starts. Returns their
    plans.

    Raises:
        UserError: naming the setup whose sweep would be refused.
    """
    return [check_sweep_argv(name, argv) for name, argv in sweeps]


def reused_grid(run_dir: str, seeds: int, plan: SweepPlan) -> dict:
    """The summary of a reused reference, which must be a FIFO grid run of lsid_lr with ``seeds`` seeds or more,
    made from the base config of the sweeps compared with it (``plan``'s: profile, steps and ``--set`` values).

    Raises:
        DataError: naming what the run is instead, or where its base config differs.
    """
    manifest = read_manifest(run_dir)
    made = (manifest.get("space"), manifest.get("search"), manifest.get("scheduler"))
    if made != (SPACE, "grid", "fifo"):
        raise DataError(f"--grid-run {run_dir} is a run of space {made[0]} with --search {made[1]} --scheduler "
                        f"{made[2]}; expected a finished run of {SPACE} with --search grid --scheduler fifo")
    differences = config_differences(manifest["base_config"], json.loads(json.dumps(plan.base)))
    if differences:
        profile = manifest.get("profile", plan.settings.profile)
        made_with = f"profile {profile}: " if profile != plan.settings.profile else ""
        raise DataError(f"--grid-run {run_dir} was made with {made_with}{'; '.join(differences[:3])}"
                        f"{'; ...' if len(differences) > 3 else ''}; its steps and best value are no reference for "
                        f"these sweeps: expected a FIFO grid run of {SPACE} with the {plan.settings.profile} profile "
                        "and the same --steps")
    row = summary("grid + FIFO (reused run)", run_dir, seeds)
    if row["trials"] < GRID_ROWS * seeds:
        raise DataError(f"--grid-run {run_dir} has {row['trials']} trials with seeds below {seeds}; --seeds {seeds} "
                        f"needs {GRID_ROWS * seeds}")
    return row


def config_differences(made: dict, wanted: dict, prefix: str = "") -> list[str]:
    """Where the nested config ``made`` differs from ``wanted``, by dotted key: ``train.steps 600 (here 1200)``."""
    differences = []
    for key in sorted(set(made) | set(wanted), key=str):
        theirs, ours = made.get(key, _NOT_SET), wanted.get(key, _NOT_SET)
        if isinstance(theirs, dict) and isinstance(ours, dict):
            differences += config_differences(theirs, ours, f"{prefix}{key}.")
        elif theirs != ours:
            differences.append(f"{prefix}{key} {_shown(theirs)} (here {_shown(ours)})")
    return differences


_NOT_SET = object()


def _shown(value) -> str:
    return "not set" if value is _NOT_SET else json.dumps(value)


def summary(name: str, run_dir: str, seeds: int) -> dict:
    frame = load_run(run_dir)
    frame = frame[frame["seed"] < seeds]
    best = frame.loc[frame["best/val/psnr"].idxmax()]
    finished = frame[frame["status"] == "completed"].groupby("label")["best/val/psnr"].mean()
    return {"setup": name, "trials": len(frame), "steps": int(frame["steps"].sum()),
            "best": float(best["best/val/psnr"]), "best_label": best["label"],
            "stopped": int((frame["status"] == "stopped early").sum()),
            "pick": finished.idxmax(), "pick_value": float(finished.max()),
            "means": frame.groupby("label")["best/val/psnr"].mean().to_dict()}


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--steps", type=cli.whole_number(1), default=None,
                        help="override train.steps (default: the quick profile's)")
    parser.add_argument("--grid-run", help="a finished FIFO grid run of lsid_lr with the same profile to reuse")
    parser.add_argument("--asha-grace", type=cli.number_above(0, 1), default=0.25,
                        help="first rung of the other ASHA (fraction of training)")
    parser.add_argument("--asha-reduction", type=cli.number_above(1), default=3,
                        help="reduction factor of the other ASHA (3 keeps the best third)")
    parser.add_argument("--asha-recheck", action=argparse.BooleanOptionalAction,
                        help="the other ASHA with or without --asha-recheck (default: the space's)")
    parser.add_argument("--seeds", type=cli.whole_number(1), default=1, help="seeds per configuration in every sweep")
    parser.add_argument("--setups", nargs="+", choices=SETUPS, default=["asha", "asha-other", "optuna"],
                        help="which sweeps to run besides the grid with FIFO (random: Optuna's random sampler)")
    parser.add_argument("--search-seeds", type=cli.whole_number(0), nargs="+", default=[0],
                        help="run the optuna, gp and random setups once per search seed")
    parser.add_argument("--num-samples", type=cli.whole_number(1), default=GRID_ROWS,
                        help="configurations the optuna, gp and random setups propose (default: the grid's ten)")
    parser.add_argument("--storage", default=None,
                        help="keep the sweeps' runs under this folder (<storage>/lsid_lr/<setup>); default: a "
                        "temporary folder, removed at the end")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        return in_storage(args.storage, "early-stopping-", lambda storage: compare(args, storage))

    return cli.run_user_facing(run, interrupted="interrupted")


def compare(args: argparse.Namespace, storage: str) -> int:
    sets = ["train.threads=1"] + ([f"train.steps={args.steps}"] if args.steps is not None else [])
    other = ["--asha-grace", f"{args.asha_grace:g}", "--asha-reduction", f"{args.asha_reduction:g}"]
    space = get_space(SPACE)
    other_recheck = space.asha_recheck if args.asha_recheck is None else args.asha_recheck
    other.append("--asha-recheck" if other_recheck else "--no-asha-recheck")
    sampled = ["--scheduler", "asha", "--num-samples", str(args.num_samples)]
    recheck = {True: ", recheck", False: ""}
    quorum = f", quorum {space.asha_quorum}" if space.asha_quorum > 1 else ""
    quorum += f", noise {space.asha_noise}" if space.asha_noise is not None else ""
    setups = [("asha", f"grid + ASHA (the space's: grace {space.asha_grace:.3g}, reduction {space.asha_reduction:g}"
               f"{recheck[space.asha_recheck]}{quorum})", ["--search", "grid", "--scheduler", "asha"]),
              ("asha-other", f"grid + ASHA (grace {args.asha_grace:.3g}, reduction {args.asha_reduction:g}"
               f"{recheck[other_recheck]})",
               ["--search", "grid", "--scheduler", "asha", *other])]
    for seed in args.search_seeds:
        setups += [("optuna", f"Optuna TPE + ASHA (the space's), {args.num_samples} configurations, search seed {seed}",
                    ["--search", "optuna", *sampled, "--search-seed", str(seed)]),
                   ("gp", f"Optuna GP + ASHA (the space's), {args.num_samples} configurations, search seed {seed}",
                    ["--search", "gp", *sampled, "--search-seed", str(seed)]),
                   ("random", f"Optuna random + ASHA (the space's), {args.num_samples} configurations, "
                    f"search seed {seed}",
                    ["--search", "random", *sampled, "--search-seed", str(seed)])]
    seeds = ["--seeds", str(args.seeds)]
    sweeps = [(name, sweep_argv(name, [*setup, *seeds], sets, storage))
              for key, name, setup in setups if key in args.setups]
    if not args.grid_run:
        sweeps.insert(0, ("grid FIFO", sweep_argv("grid FIFO", ["--search", "grid", "--scheduler", "fifo", *seeds],
                                                  sets, storage)))
    plans = check_sweeps(sweeps)  # a bad flag of the last setup is refused now, not after the sweeps before it
    reused = reused_grid(args.grid_run, args.seeds, plans[0]) if args.grid_run else None
    try:
        for name, argv in sweeps:
            run_sweep(name, argv)
    except SweepFailed as failed:
        kept = "" if args.storage else "; the runs made so far are removed (--storage DIR keeps them)"
        print(f"error: {failed}{kept}", file=sys.stderr)
        return failed.returncode
    dirs = {name: os.path.join(storage, SPACE, run_name(name)) for name, _ in sweeps}
    rows = [reused or summary("grid + FIFO", dirs.pop("grid FIFO"), args.seeds)]
    rows += [summary(name, run_dir, args.seeds) for name, run_dir in dirs.items()]
    grid = rows[0]
    if args.storage:
        print(f"runs under {os.path.join(args.storage, SPACE)}")
    print("| setup | trials | stopped early | training steps | share of the grid's steps | best val/psnr "
          "| Δ to grid's best | best trial | picked configuration | its value (grid mean over seeds) | Δ |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|")
    for row in rows:
        value = grid["means"].get(row["pick"], row["pick_value"])
        print(f"| {row['setup']} | {row['trials']} | {row['stopped']} | {row['steps']} | "
              f"{100 * row['steps'] / grid['steps']:.0f} % | {row['best']:.2f} | {row['best'] - grid['best']:+.2f} | "
              f"{row['best_label']} | {row['pick']} | {value:.2f} | {value - grid['pick_value']:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
