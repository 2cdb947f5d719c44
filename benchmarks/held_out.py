#!/usr/bin/env python
"""What the test evaluation costs against the trial it ends: one quick trial trained through the one training loop,
keeping the checkpoint of its best validation evaluation (as Ray keeps it), then that checkpoint evaluated on the
test split as the sweep does when the trial has ended (build the task, load the checkpoint, evaluate), side by side
in one process; prints both wall times and their ratio.

    python benchmarks/held_out.py                          # lsid_lr's default row, quick profile
    python benchmarks/held_out.py --space lamba_loss --row "L1 + 0.2·(1 − MS-SSIM)"
    python benchmarks/held_out.py --steps 300              # a shorter trial: the ratio's upper side

Both run on the same data, prepared once before either is timed (the sweep prepares it once and shares it), with
``--threads`` torch threads (a sweep's trial has one per CPU it is given; the driver evaluates with the same here,
the worst case for the ratio).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.bare_loop import train_keeping_best  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.errors import UserError  # noqa: E402
from restore_core.evaluate import evaluate_checkpoint  # noqa: E402
from restore_core.loop import prepare_shared_data  # noqa: E402
from restore_core.run_files import select_report  # noqa: E402
from search_spaces import get_space, list_spaces  # noqa: E402


def trial_config(args: argparse.Namespace) -> dict:
    """The measured trial's config: the space's row (its first, or ``--row``), seed 0, the profile's size."""
    if args.space not in list_spaces():
        raise UserError(f"unknown space '{args.space}'; known: {', '.join(list_spaces())}")
    space = get_space(args.space)
    labels = [row.label for row in space.rows]
    row = args.row if args.row is not None else (labels[0] if labels else None)
    if row is not None and row not in labels:
        raise UserError(f"--row '{row}' is not a row of space '{args.space}'; its rows: {', '.join(labels)}")
    sets = {"train.threads": args.threads, **({"train.steps": args.steps} if args.steps else {})}
    trial = {"seed": 0, **({"row": row} if row is not None else {})}
    return space.resolve(space.base_config(args.profile, sets), trial)


def measure(config: dict, metric: str, lower: bool, repeats: int) -> dict:
    """Train the trial keeping its best checkpoint, then evaluate that checkpoint on test ``repeats`` times."""
    shared = prepare_shared_data(config)
    folder = tempfile.mkdtemp(prefix="held-out-")
    try:
        start = time.perf_counter()
        reports = train_keeping_best(config, shared, folder, metric, lower)
        trial_s = time.perf_counter() - start
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            evaluate_checkpoint(config, os.path.join(folder, "best"), "test", shared)
            seconds.append(time.perf_counter() - start)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    best = select_report(reports, metric, lower)
    return {"steps": config["train"]["steps"], "evaluations": len(reports), "selected_step": best["step"],
            "trial_s": trial_s, "test_s": statistics.median(seconds), "test_s_all": seconds}


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--space", default="lsid_lr", help="the search space")
    parser.add_argument("--row", default=None, help="the row of the space to train (default: its first)")
    parser.add_argument("--profile", default="quick", choices=("smoke", "quick"), help="problem size")
    parser.add_argument("--steps", type=cli.whole_number(1), default=None,
                        help="override train.steps (default: the profile's)")
    parser.add_argument("--threads", type=cli.whole_number(1), default=1, help="torch threads of both")
    parser.add_argument("--repeats", type=cli.whole_number(1), default=3,
                        help="test evaluations timed (their median is reported)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def run() -> int:
        import torch

        config = trial_config(args)
        torch.set_num_threads(args.threads)
        space = get_space(args.space)
        result = measure(config, space.metric, space.mode == "min", args.repeats)
        print(json.dumps({"space": args.space, "profile": args.profile, "threads": args.threads, **result}))
        print("| part | wall time (s) | share of the trial |\n|---|---:|---:|")
        print(f"| trial ({result['steps']} steps, {result['evaluations']} validation evaluations) | "
              f"{result['trial_s']:.1f} | 1 |")
        print(f"| test evaluation of the selected checkpoint (step {result['selected_step']}) | "
              f"{result['test_s']:.2f} | {result['test_s'] / result['trial_s']:.2%} |")
        return 0

    return cli.run_user_facing(run, interrupted="interrupted")


if __name__ == "__main__":
    sys.exit(main())
