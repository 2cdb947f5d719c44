#!/usr/bin/env python
"""Cost of every registered model at one image size: parameters, MACs and CPU latency, as a trial reports them
(``restore_core.cost.model_cost``: the latency is that of the model's inference path), plus the ratio of the
real-time dark-image network to the SID U-Net.

    python benchmarks/model_cost.py                  # 256×256, 1 thread, 5 repeats
    python benchmarks/model_cost.py --size 512 --threads 2
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from restore_core import cli  # noqa: E402
from restore_core.cost import example_input, model_cost  # noqa: E402
from restore_core.models import create_model, list_models  # noqa: E402

SIZE_MULTIPLE = 256  # pix2pix_unet halves the image eight times


def image_side(text: str) -> int:
    """An argparse ``type``: a positive multiple of 256."""
    value = cli.whole_number(1)(text)
    if value % SIZE_MULTIPLE:
        raise argparse.ArgumentTypeError(f"must be a multiple of {SIZE_MULTIPLE} (256, 512, ...); got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--size", type=image_side, default=256, help="image side in pixels (a multiple of 256)")
    parser.add_argument("--threads", type=cli.whole_number(1), default=1, help="CPU threads")
    parser.add_argument("--repeats", type=cli.whole_number(1), default=5, help="timed forwards per model (median)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_user_facing(lambda: measure(args), interrupted="interrupted")


def measure(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rows = {}
    print(f"| model | input | params | GMACs | CPU latency (ms, {args.threads} thread(s)) |")
    print("|---|---|---:|---:|---:|")
    for name in list_models():
        model = create_model(name).eval()
        example = example_input(name, args.size)
        cost = model_cost(model, example, args.repeats)
        params, macs, latency = cost["cost/params"], cost["cost/macs"], cost["cost/latency_ms"]
        rows[name] = (params, macs, latency)
        print(f"| {name} | {tuple(example.shape)} | {params:,} | {macs / 1e9:.2f} | {latency:.1f} |")
    sid, lamba = rows["sid_unet"], rows["lamba_rt"]
    print(f"\nSID U-Net / lamba_rt at {args.size}×{args.size}: params {sid[0] / lamba[0]:.1f}×, "
          f"MACs {sid[1] / lamba[1]:.1f}×, CPU latency {sid[2] / lamba[2]:.1f}×")


if __name__ == "__main__":
    sys.exit(main())
