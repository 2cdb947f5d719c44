#!/usr/bin/env python
"""Cost of Lamba & Mitra's real-time network against the SID U-Net, side by side at one or more frame sizes.

Both restore a ``H×W`` raw frame to a ``H×W`` sRGB image: ``lamba_rt`` takes the full-resolution Bayer plane
``(1, 1, H, W)``, ``sid_unet`` the packed raw ``(1, 4, H/2, W/2)``. For each size it gives parameters and multiply-
accumulates (PyTorch's FLOP counter, ``restore_core.cost``) and the median CPU latency of four forwards timed in
turn, round after round, in one process: the real-time network as trained (``lamba_rt``) and its inference path
(``restore_core.models.inference_model``: weight norm folded, the half-resolution tail on 2×2 blocks, channels-last
where it pays), the SID U-Net as trained and in channels-last. With one thread (the default) the latency is the
CPU time of that thread, which other processes on a shared machine do not inflate the way they inflate wall time;
wall time is printed too. When CUDA is available, the GPU latency of the models as trained is added.

    python benchmarks/model_cost_lamba_vs_sid.py                                  # 256², 512², 1024²; 1 thread
    python benchmarks/model_cost_lamba_vs_sid.py --size 1024 --rounds 15
    python benchmarks/model_cost_lamba_vs_sid.py --size 2848x4256 --rounds 3    # the full Sony frame
    python benchmarks/model_cost_lamba_vs_sid.py --threads 2                      # wall time on two threads

Published figures for comparison: the paper (Table 1) gives 59.8 GMACs on the Sony frame, 9.4× fewer than SID, and
8× less CPU time; the official README prints 41.38 vs 440.46 GMac at 2048×4096 and 1.83 s vs 10.0 s on a Colab CPU.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402

from restore_core import cli  # noqa: E402
from restore_core.cost import count_macs, count_parameters, measure_latency  # noqa: E402
from restore_core.models import create_model, inference_model  # noqa: E402

MULTIPLE = 32  # lamba_rt needs multiples of 32; the SID U-Net multiples of 32 too (16 on the packed raw)
VARIANTS = ("lamba_rt", "lamba_rt inference path", "sid_unet", "sid_unet channels-last")


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


def contenders(height: int, width: int) -> dict[str, tuple[torch.nn.Module, torch.Tensor]]:
    """The four forwards timed, each with its input for the same ``height×width`` frame."""
    torch.manual_seed(0)
    lamba, sid = create_model("lamba_rt").eval(), create_model("sid_unet").eval()
    bayer, packed = torch.rand(1, 1, height, width), torch.rand(1, 4, height // 2, width // 2)
    sid_last = create_model("sid_unet").eval().to(memory_format=torch.channels_last)
    sid_last.load_state_dict(sid.state_dict())
    return {
        "lamba_rt": (lamba, bayer),
        "lamba_rt inference path": (inference_model(lamba), bayer),
        "sid_unet": (sid, packed),
        "sid_unet channels-last": (sid_last, packed.contiguous(memory_format=torch.channels_last)),
    }


def time_in_turn(models: dict[str, tuple[torch.nn.Module, torch.Tensor]], rounds: int) -> dict[str, dict[str, float]]:
    """Median CPU time of the calling thread and median wall time (ms) of each forward, the forwards run in turn
    round after round (one warm-up round first), so that a change in the machine's load hits all of them."""
    cpu: dict[str, list[float]] = {name: [] for name in models}
    wall: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for round_ in range(rounds + 1):
            for name, (model, example) in models.items():
                start_cpu, start_wall = time.thread_time(), time.perf_counter()
                model(example)
                if round_:
                    cpu[name].append((time.thread_time() - start_cpu) * 1000)
                    wall[name].append((time.perf_counter() - start_wall) * 1000)
    return {name: {"cpu_ms": statistics.median(cpu[name]), "wall_ms": statistics.median(wall[name])}
            for name in models}


def measure(height: int, width: int, rounds: int, gpu: bool) -> dict[str, dict]:
    models = contenders(height, width)
    lamba, bayer = models["lamba_rt"]
    with torch.no_grad():
        difference = float((models["lamba_rt inference path"][0](bayer) - lamba(bayer)).abs().max())
    rows = {name: {"params": count_parameters(models[name.split()[0]][0]),
                   "gmacs": count_macs(*models[name.split()[0]]) / 1e9, **times}
            for name, times in time_in_turn(models, rounds).items()}
    rows["lamba_rt inference path"]["difference"] = difference
    if gpu:
        cuda = torch.device("cuda")
        for name in ("lamba_rt", "sid_unet"):
            model, example = models[name]
            rows[name]["gpu_ms"] = measure_latency(model.to(cuda), example.to(cuda), repeats=max(rounds, 10), warmup=3)
    return rows


def table(results: dict[tuple[int, int], dict[str, dict]], threads: int) -> str:
    latency = "CPU time of the thread" if threads == 1 else "wall time"
    gpu = "gpu_ms" in next(iter(results.values()))["lamba_rt"]
    lines = [f"{threads} CPU thread(s); latency: median {latency} (ms)", "",
             "| frame | model | params | GMACs | CPU ms | wall ms |" + (" GPU ms |" if gpu else ""),
             "|---|---|---:|---:|---:|---:|" + ("---:|" if gpu else "")]
    key = "cpu_ms" if threads == 1 else "wall_ms"
    for (height, width), rows in results.items():
        for name in VARIANTS:
            row = rows[name]
            lines.append(f"| {height}×{width} | {name} | {row['params']:,} | {row['gmacs']:.2f} | {row[key]:.1f} | "
                         f"{row['wall_ms']:.1f} |" + (f" {row['gpu_ms']:.2f} |" if "gpu_ms" in row else
                                                       (" |" if gpu else "")))
    lines += ["", "| frame | SID / lamba_rt, MACs | lamba_rt as trained | its inference path | the inference path "
              "against SID in channels-last | largest output difference of the inference path |",
              "|---|---:|---:|---:|---:|---:|"]
    for (height, width), rows in results.items():
        sid, sid_last = rows["sid_unet"][key], rows["sid_unet channels-last"][key]
        fast = rows["lamba_rt inference path"]
        lines.append(f"| {height}×{width} | {rows['sid_unet']['gmacs'] / rows['lamba_rt']['gmacs']:.2f}× | "
                     f"{sid / rows['lamba_rt'][key]:.2f}× | {sid / fast[key]:.2f}× | {sid_last / fast[key]:.2f}× | "
                     f"{fast['difference']:.1e} |")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__.splitlines()[0], formatter_class=cli.DefaultsHelpFormatter)
    parser.add_argument("--size", type=parse_size, nargs="+", default=[(256, 256), (512, 512), (1024, 1024)],
                        help="frames HxW (multiples of 32; default: 256, 512 and 1024 square)")
    parser.add_argument("--rounds", type=cli.whole_number(1), default=9,
                        help="timed rounds of the four forwards (median reported)")
    parser.add_argument("--threads", type=cli.whole_number(1), default=1,
                        help="CPU threads (with one, latency is the thread's CPU time)")
    parser.add_argument("--no-gpu", action="store_true", help="skip the GPU latency even when CUDA is available")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_user_facing(lambda: compare(args), interrupted="interrupted")


def compare(args: argparse.Namespace) -> int:
    torch.set_num_threads(args.threads)
    gpu = torch.cuda.is_available() and not args.no_gpu
    results = {size: measure(*size, args.rounds, gpu) for size in args.size}
    print(table(results, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
