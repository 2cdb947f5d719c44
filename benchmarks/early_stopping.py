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

The sweeps: the grid with FIFO (every trial to the end: the reference), the grid with ASHA at the space's settings
(first rung at the first evaluation, 1/12 of training; keep the best sixth; recheck; quorum 4), the grid with ASHA at
``--asha-grace``/``--asha-reduction``/``--[no-]asha-recheck`` (default: a quarter, thirds, the space's recheck; the
space's quorum), and Optuna (TPE) proposing as many configurations as the grid has, with the space's ASHA;
``random`` adds Optuna's random sampler with the same budget (what TPE is without its model), ``gp`` Optuna's
Gaussian-process sampler, and ``--search-seeds`` repeats them over sampler seeds. Trials are deterministic for their
seed, so a FIFO grid run made earlier with the same profile (e.g. by ``overhead.py``) serves as the reference without
training it again. Goal: within 0.2 dB of the grid's best using at most 35 % of its steps.

With ``--seeds N`` every sweep runs each configuration over N seeds (ASHA judges all of them at the same rungs) and
the table adds the configuration each sweep picks: the highest mean over its seeds trained to the end, valued at its
mean over all seeds in the FIFO grid (for the grid's configurations; a sampled one is valued by its own trials).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from analysis import load_run  # noqa: E402
from search_spaces import get_space  # noqa: E402

GRID_ROWS = 10
SETUPS = ("asha", "asha-other", "optuna", "gp", "random")


def run(name: str, args: list[str], sets: list[str], storage: str) -> str:
    run_name = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")
    command = [sys.executable, os.path.join(ROOT, "sweeps/run.py"), "--space", "lsid_lr", "--storage", storage,
               "--name", run_name, "--verbose", "0", "--no-analysis", "--dashboard-port", "8296", *args]
    for item in sets:
        command += ["--set", item]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return os.path.join(storage, "lsid_lr", run_name)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="override train.steps (default: the quick profile's)")
    parser.add_argument("--grid-run", help="a finished FIFO grid run of lsid_lr with the same profile to reuse")
    parser.add_argument("--asha-grace", type=float, default=0.25, help="first rung of the other ASHA (fraction)")
    parser.add_argument("--asha-reduction", type=float, default=3, help="reduction factor of the other ASHA")
    parser.add_argument("--asha-recheck", action=argparse.BooleanOptionalAction,
                        help="the other ASHA with or without --asha-recheck (default: the space's)")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per configuration in every sweep")
    parser.add_argument("--setups", nargs="+", choices=SETUPS, default=["asha", "asha-other", "optuna"],
                        help="which sweeps to run besides the grid with FIFO (random: Optuna's random sampler)")
    parser.add_argument("--search-seeds", type=int, nargs="+", default=[0],
                        help="run the optuna, gp and random setups once per search seed")
    parser.add_argument("--num-samples", type=int, default=GRID_ROWS,
                        help="configurations the optuna, gp and random setups propose (default: the grid's ten)")
    args = parser.parse_args()
    sets = ["train.threads=1"] + ([f"train.steps={args.steps}"] if args.steps else [])
    other = ["--asha-grace", f"{args.asha_grace:g}", "--asha-reduction", f"{args.asha_reduction:g}"]
    space = get_space("lsid_lr")
    other_recheck = space.asha_recheck if args.asha_recheck is None else args.asha_recheck
    other.append("--asha-recheck" if other_recheck else "--no-asha-recheck")
    sampled = ["--scheduler", "asha", "--num-samples", str(args.num_samples)]
    recheck = {True: ", recheck", False: ""}
    quorum = f", quorum {space.asha_quorum}" if space.asha_quorum > 1 else ""
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
    storage = tempfile.mkdtemp(prefix="early-stopping-")
    seeds = ["--seeds", str(args.seeds)]
    grid_dir = args.grid_run or run("grid FIFO", ["--search", "grid", "--scheduler", "fifo", *seeds], sets, storage)
    rows = [summary("grid + FIFO" + (" (reused run)" if args.grid_run else ""), grid_dir, args.seeds)]
    if rows[0]["trials"] < GRID_ROWS * args.seeds:
        sys.exit(f"error: {grid_dir} has {rows[0]['trials']} trials with seeds below {args.seeds}; "
                 f"--seeds {args.seeds} needs {GRID_ROWS * args.seeds}")
    rows += [summary(name, run(name, [*setup, *seeds], sets, storage), args.seeds)
             for key, name, setup in setups if key in args.setups]
    grid = rows[0]
    print(f"runs under {storage}")
    print("| setup | trials | stopped early | training steps | share of the grid's steps | best val/psnr "
          "| Δ to grid's best | best trial | picked configuration | its value (grid mean over seeds) | Δ |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---|---:|---:|")
    for row in rows:
        value = grid["means"].get(row["pick"], row["pick_value"])
        print(f"| {row['setup']} | {row['trials']} | {row['stopped']} | {row['steps']} | "
              f"{100 * row['steps'] / grid['steps']:.0f} % | {row['best']:.2f} | {row['best'] - grid['best']:+.2f} | "
              f"{row['best_label']} | {row['pick']} | {value:.2f} | {value - grid['pick_value']:+.2f} |")


if __name__ == "__main__":
    main()
