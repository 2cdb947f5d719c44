#!/usr/bin/env python
"""Cost of Lamba & Mitra's real-time network against the SID U-Net, side by side at one image size.

Both restore a ``H×W`` raw frame to a ``H×W`` sRGB image: ``lamba_rt`` takes the full-resolution Bayer plane
``(1, 1, H, W)``, ``sid_unet`` the packed raw ``(1, 4, H/2, W/2)``. For each it measures parameters, multiply-
accumulates (PyTorch's FLOP counter, ``restore_core.cost``), the median forward latency on the CPU and, when CUDA is
available, on the GPU. The last rows are the ratios SID / Lamba.

    python benchmarks/model_cost_lamba_vs_sid.py                         # 1024×1024, all CPU threads
    python benchmarks/model_cost_lamba_vs_sid.py --size 2848x4256 --repeats 1   # the full Sony frame

Published figures for comparison (official README, ptflops at 2048×4096): 41.38 vs 440.46 GMac, 1.83 s vs 10.0 s
on a Colab CPU.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from restore_core import cli  # noqa: E402
from restore_core.cost import count_macs, count_parameters, measure_latency  # noqa: E402
from restore_core.models import create_model  # noqa: E402

MULTIPLE = 32  # lamba_rt needs multiples of 32; the SID U-Net multiples of 32 too (16 on the packed raw)


def parse_size(text: str) -> tuple[int, int]:
    """``HxW`` or one side for a square frame; the messages quote ``text`` as typed."""
    height, sep, width = text.lower().partition("x")
    try:
        h, w = int(height), int(width if sep else height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW or one side, e.g. 1024x1536; got '{text}'") from None
    if h < 1 or w < 1 or h % MULTIPLE or w % MULTIPLE:
        raise argparse.ArgumentTypeError(f"sides must be positive multiples of {MULTIPLE}; got '{text}'")
    return h, w


def inputs(height: int, width: int) -> dict[str, tuple[str, torch.Tensor]]:
    """Each network with an input for the same ``height×width`` frame."""
    return {
        "lamba_rt": ("(1, 1, H, W) Bayer", torch.rand(1, 1, height, width)),
        "sid_unet": ("(1, 4, H/2, W/2) packed", torch.rand(1, 4, height // 2, width // 2)),
    }


def measure(height: int, width: int, repeats: int, gpu: bool) -> dict[str, dict[str, float]]:
    rows = {}
    for name, (layout, example) in inputs(height, width).items():
        model = create_model(name).eval()
        row = {
            "input": layout,
            "params": count_parameters(model),
            "gmacs": count_macs(model, example) / 1e9,
            "cpu_ms": measure_latency(model, example, repeats=repeats),
        }
        if gpu:
            cuda = torch.device("cuda")
            row["gpu_ms"] = measure_latency(model.to(cuda), example.to(cuda), repeats=max(repeats, 10), warmup=3)
        rows[name] = row
    return rows


def table(rows: dict[str, dict[str, float]], height: int, width: int) -> str:
    columns = [("params", "{:,.0f}"), ("gmacs", "{:.2f}"), ("cpu_ms", "{:.0f}")]
    if "gpu_ms" in rows["lamba_rt"]:
        columns.append(("gpu_ms", "{:.2f}"))
    header = ["model", "input"] + [name for name, _ in columns]
    lines = [f"frame {height}×{width}, {torch.get_num_threads()} CPU threads", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, row in rows.items():
        lines.append("| " + " | ".join([name, row["input"]] + [fmt.format(row[c]) for c, fmt in columns]) + " |")
    ratios = [f"{rows['sid_unet'][c] / rows['lamba_rt'][c]:.2f}×" for c, _ in columns]
    lines.append("| SID / Lamba | | " + " | ".join(ratios) + " |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__.splitlines()[0], formatter_class=cli.DefaultsHelpFormatter)
    parser.add_argument("--size", type=parse_size, default=(1024, 1024),
                        help="frame HxW (multiples of 32; default: 1024x1024)")
    parser.add_argument("--repeats", type=cli.whole_number(1), default=3,
                        help="timed forwards per model (median reported)")
    parser.add_argument("--threads", type=cli.whole_number(1), help="CPU threads (default: PyTorch's)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU latency even when CUDA is available")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_user_facing(lambda: compare(args), interrupted="interrupted")


def compare(args: argparse.Namespace) -> int:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    height, width = args.size
    rows = measure(height, width, args.repeats, gpu=torch.cuda.is_available() and not args.no_gpu)
    print(table(rows, height, width))
    return 0


if __name__ == "__main__":
    sys.exit(main())
