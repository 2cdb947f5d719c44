#!/usr/bin/env python
"""Training throughput of every space's model at its quick profile: images per second and the share of step time
spent drawing the batch (data), measured by the training loop itself in one process.

    python benchmarks/throughput.py                 # every space, 30 steps each, 1 thread
    python benchmarks/throughput.py --spaces lsid_lr lamba_loss --steps 50
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

import search_spaces  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.config import set_path  # noqa: E402
from restore_core.loop import prepare_shared_data, train  # noqa: E402


def measure(space_name: str, steps: int, threads: int) -> dict:
    space = search_spaces.get_space(space_name)
    config = space.base_config("quick")
    if space.rows:
        config = space.resolve(config, {"row": space.rows[0].label})
    for path, value in (("train.steps", steps), ("train.eval_every", steps), ("train.threads", threads),
                        ("train.log_images", 0)):
        config = set_path(config, path, value)
    start = time.perf_counter()
    shared = prepare_shared_data(config)
    prepare_s = time.perf_counter() - start
    result = train(config, data=shared)
    last = result.history[-1]
    batch = config["train"].get("batch_size", 1)
    return {
        "space": space_name,
        "model": config["model"]["name"],
        "batch": batch,
        "step_ms": last["time/step_ms"],
        "images_per_s": 1000 * batch / last["time/step_ms"],
        "data_share": last["time/data_share"],
        "prepare_s": prepare_s,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--spaces", nargs="*", default=None, help="spaces to measure (default: all)")
    parser.add_argument("--steps", type=cli.whole_number(1), default=30, help="training steps per space")
    parser.add_argument("--threads", type=cli.whole_number(1), default=1, help="torch threads")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_user_facing(lambda: measure_all(args), interrupted="interrupted")


def measure_all(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    names = args.spaces or search_spaces.list_spaces()
    for name in names:  # an unknown name is refused before the table starts
        search_spaces.get_space(name)
    print("| space | model | batch | step (ms) | images/s | data share of step | data prepared once (s) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name in names:
        row = measure(name, args.steps, args.threads)
        print(f"| {row['space']} | {row['model']} | {row['batch']} | {row['step_ms']:.0f} | {row['images_per_s']:.1f} "
              f"| {100 * row['data_share']:.2f} % | {row['prepare_s']:.2f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
