#!/usr/bin/env python
"""Training step time with the opt-in step options (``train.channels_last``, ``train.compile``) against eager.

Each space's quick profile, first row of its grid, is built three times in one process (eager, channels-last,
compiled) on the same prepared data. Each is warmed up (the compiled one compiles then: its warm-up seconds are
reported), then rounds of ``--steps`` training steps run interleaved, in a rotating order, on the same batches, so
that the machine's drift and other load hit the three alike. A ratio is the option's step time over eager's in the
same round: the median over rounds, with the rounds' range in brackets; below 1 means the option is faster. Only
``Task.train_step`` is timed (drawing the batch is the same for all three). The compile warm-up is that of a first
trial on a machine: it starts from an empty compile cache (a temporary ``TORCHINDUCTOR_CACHE_DIR``) unless
``--warm-cache`` keeps the usual one, where later trials of the same model find their kernels.

    python benchmarks/step_options.py                          # 4 spaces, CPU, 1 thread, 3 rounds of 10 steps
    python benchmarks/step_options.py --spaces lsid_lr lamba_loss --device cuda --steps 20 --rounds 5

``--jsonl FILE`` also appends each space's row to FILE as it finishes (``benchmarks/gpu_check.py`` reads it).
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

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

import search_spaces  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.config import set_path  # noqa: E402
from restore_core.errors import ConfigError  # noqa: E402
from restore_core.loop import SharedData, prepare_shared_data  # noqa: E402
from restore_core.schema import validate_config  # noqa: E402
from restore_core.step_options import apply_step_options  # noqa: E402
from restore_core.tasks import get_task  # noqa: E402
from restore_core.tasks.base import Task  # noqa: E402

DEFAULT_SPACES = ("lsid_lr", "lamba_loss", "unet_perceptual", "desmoke_dark_channel")
VARIANTS = {"eager": {}, "channels_last": {"channels_last": True}, "compile": {"compile": True}}


def quick_config(space_name: str, device: str, threads: int) -> dict:
    """The space's quick profile, first row of its grid (as ``benchmarks/throughput.py`` measures it)."""
    space = search_spaces.get_space(space_name)
    config = space.base_config("quick")
    if space.rows:
        config = space.resolve(config, {"row": space.rows[0].label})
    for path, value in (("train.device", device), ("train.threads", threads), ("train.log_images", 0)):
        config = set_path(config, path, value)
    return config


def build_task(config: dict, shared: SharedData, options: dict) -> Task:
    """The task as the training loop builds it, with the step options applied (seeded alike: same weights)."""
    for key, value in options.items():
        config = set_path(config, f"train.{key}", value)
    cfg = validate_config(config)
    torch.manual_seed(cfg.train.seed)
    task = get_task(cfg.task_name)(cfg, shared.data, torch.device(cfg.train.device))
    apply_step_options(task.modules, cfg.train)
    return task


def timed_steps(task: Task, batches: list) -> float:
    """Seconds for one training step on each batch, device work included."""
    sync = torch.cuda.synchronize if task.device.type == "cuda" else (lambda: None)
    sync()
    start = time.perf_counter()
    for batch in batches:
        task.train_step(batch)
    sync()
    return time.perf_counter() - start


def compare(space_name: str, steps: int = 10, rounds: int = 3, warmup: int = 3, device: str = "cpu",
            threads: int = 1) -> dict:
    """Eager step time and each option's ratio to it for one space; the compiled task's warm-up seconds."""
    config = quick_config(space_name, device, threads)
    shared = prepare_shared_data(config)
    tasks = {name: build_task(config, shared, options) for name, options in VARIANTS.items()}
    draw = tasks["eager"].sample_batch
    warmup_s = {name: timed_steps(task, [draw(np.random.default_rng([0, i])) for i in range(warmup)])
                for name, task in tasks.items()}
    seconds: dict[str, list[float]] = {name: [] for name in tasks}
    names = list(tasks)
    for r in range(rounds):
        batches = [draw(np.random.default_rng([1, r, i])) for i in range(steps)]
        for name in names[r % len(names):] + names[: r % len(names)]:  # rotate who goes first
            seconds[name].append(timed_steps(tasks[name], batches))

    row = {"space": space_name, "model": config["model"]["name"], "device": device,
           "eager_step_ms": round(1000 * statistics.median(seconds["eager"]) / steps, 2),
           "compile_warmup_s": round(warmup_s["compile"], 1), "eager_warmup_s": round(warmup_s["eager"], 2)}
    for name in ("channels_last", "compile"):
        ratios = [a / b for a, b in zip(seconds[name], seconds["eager"])]
        row[f"{name}_ratio"] = round(statistics.median(ratios), 3)
        row[f"{name}_ratio_range"] = [round(min(ratios), 3), round(max(ratios), 3)]
    return row


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--spaces", nargs="*", default=list(DEFAULT_SPACES), help="spaces to measure")
    parser.add_argument("--steps", type=cli.whole_number(1), default=10, help="training steps per round")
    parser.add_argument("--rounds", type=cli.whole_number(1), default=3, help="rounds of --steps steps per variant")
    parser.add_argument("--warmup", type=cli.whole_number(1), default=3,
                        help="steps before the rounds, timed apart (the compiled task compiles then)")
    parser.add_argument("--threads", type=cli.whole_number(1), default=1, help="torch threads")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--jsonl", default=None, help="append each row as one JSON line to this file")
    parser.add_argument("--warm-cache", action="store_true", help="keep the usual compile cache (default: empty)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_user_facing(lambda: measure_all(args), interrupted="interrupted")


def check_args(args: argparse.Namespace) -> None:
    """What the measurement needs, checked before the table starts: known spaces, a GPU for ``--device cuda`` and
    a file that ``--jsonl`` can append to."""
    for name in args.spaces:
        search_spaces.get_space(name)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda needs a CUDA GPU, and torch sees none here; use --device cpu")
    if args.jsonl:
        check_jsonl(args.jsonl)


def check_jsonl(path: str) -> None:
    """Refuse a ``--jsonl`` path that rows cannot be appended to, before anything is measured: a folder, a file in a
    folder that does not exist or is a file, or a file or folder this user may not write."""
    expected = "expected a file to append rows to, in an existing folder"
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ConfigError(f"--jsonl {path}: is a folder; {expected}, e.g. {os.path.join(path, 'rows.jsonl')}")
    if os.path.exists(path) and not os.path.isfile(path):
        raise ConfigError(f"--jsonl {path}: is not a regular file; {expected}")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ConfigError(f"--jsonl {path}: '{folder}' is a file, not a folder; {expected}")
    if not os.path.isdir(folder):
        raise ConfigError(f"--jsonl {path}: its folder does not exist; {expected}")
    target = path if os.path.exists(path) else folder
    if not os.access(target, os.W_OK):
        raise ConfigError(f"--jsonl {path}: '{target}' is not writable by this user; {expected}")


def measure_all(args: argparse.Namespace) -> None:
    check_args(args)
    torch.set_num_threads(args.threads)
    cache = None if args.warm_cache else tempfile.mkdtemp(prefix="inductor-cache-")
    if cache:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = cache  # read when the first compile starts
    try:
        run(args)
    finally:
        if cache:
            shutil.rmtree(cache, ignore_errors=True)


def run(args: argparse.Namespace) -> None:
    print(f"device {args.device}, {args.threads} thread(s), {args.rounds} rounds of {args.steps} steps, "
          f"warm-up {args.warmup} steps, {'usual' if args.warm_cache else 'empty'} compile cache")
    print("| space | model | eager step (ms) | channels_last / eager | compile / eager | compile warm-up (s) |")
    print("|---|---|---:|---:|---:|---:|")
    for name in args.spaces:
        row = compare(name, args.steps, args.rounds, args.warmup, args.device, args.threads)
        cells = [f"{row[f'{option}_ratio']:.2f} ({row[f'{option}_ratio_range'][0]:.2f}–"
                 f"{row[f'{option}_ratio_range'][1]:.2f})" for option in ("channels_last", "compile")]
        print(f"| {row['space']} | {row['model']} | {row['eager_step_ms']:.1f} | {cells[0]} | {cells[1]} "
              f"| {row['compile_warmup_s']:.1f} |", flush=True)
        if args.jsonl:
            with open(args.jsonl, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    sys.exit(main())
