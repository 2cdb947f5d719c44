#!/usr/bin/env python
"""What early stopping saves: lsid_lr with the full grid (FIFO) against ASHA and against Optuna + ASHA with the same
budget of trials, in one run. Prints the training steps each used and the best val/psnr each reached.

    python benchmarks/early_stopping.py                     # quick profile
    python benchmarks/early_stopping.py --steps 600         # shorter trials

Goal: ASHA within 0.2 dB of the grid's best using at most 35 % of its steps.
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

SETUPS = (("grid + FIFO", ["--search", "grid", "--scheduler", "fifo"]),
          ("grid + ASHA", ["--search", "grid", "--scheduler", "asha"]),
          ("Optuna + ASHA", ["--search", "optuna", "--scheduler", "asha", "--num-samples", "10"]))


def run(name: str, args: list[str], sets: list[str], storage: str) -> dict:
    run_name = name.replace(" + ", "-").lower()
    command = [sys.executable, os.path.join(ROOT, "sweeps/run.py"), "--space", "lsid_lr", "--storage", storage,
               "--name", run_name, "--verbose", "0", "--dashboard-port", "8296", *args]
    for item in sets:
        command += ["--set", item]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    frame = load_run(os.path.join(storage, "lsid_lr", run_name))
    best = frame.loc[frame["best/val/psnr"].idxmax()]
    return {"setup": name, "trials": len(frame), "steps": int(frame["steps"].sum()),
            "best": float(best["best/val/psnr"]), "best_label": best["label"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=None, help="override train.steps (default: the quick profile's)")
    args = parser.parse_args()
    sets = [f"train.steps={args.steps}"] if args.steps else []
    storage = tempfile.mkdtemp(prefix="early-stopping-")
    rows = [run(name, setup, sets, storage) for name, setup in SETUPS]
    grid = rows[0]
    print("| setup | trials | training steps | share of the grid's steps | best val/psnr | Δ to grid's best "
          "| best trial |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(f"| {row['setup']} | {row['trials']} | {row['steps']} | {100 * row['steps'] / grid['steps']:.0f} % | "
              f"{row['best']:.2f} | {row['best'] - grid['best']:+.2f} | {row['best_label']} |")


if __name__ == "__main__":
    main()
