#!/usr/bin/env python
"""Peak memory of an lsid_lr sweep with 1, 2 and 4 concurrent trials, at several dataset sizes, and what one
training process needs on its own. Prints one table.

    python benchmarks/memory.py                       # 10 and 70 training tiles, 1/2/4 trials, 100 steps each
    python benchmarks/memory.py --concurrency 1 2 --steps 50
    python benchmarks/memory.py --train-tiles 10 --sid-pairs 14   # and 640 MB read from real raw files

Memory is the proportional set size (PSS) summed over the sweep's whole process tree (the driver, Ray's services,
the object store's shared memory, every worker), sampled every 0.2 s: a page shared by k processes counts 1/k in
each, so the dataset that the object store holds once counts once however many trials map it. Each sweep runs as
many trials as it runs at once (random search, FIFO), with 0.5 CPU per trial so that four fit on two cores.

Datasets: ``--train-tiles`` sets ``data.n_train`` of the embedded photos (80 tiles of 128×128, at most 20 MB).
``--sid-pairs N`` adds a dataset large enough to see: N training pairs of ``--sid-height``×``--sid-width`` real DNG
raws written by benchmarks/sid_folder.py into a temporary folder in the Learning-to-See-in-the-Dark layout and read
through rawpy (``data.source=sid``; the quick profile's patch 64 and batch 4; small val frames). The task keeps a
pair as float32 Bayer and float32 sRGB ground truth, 16 bytes a pixel of the frame cropped to multiples of 64: 45.4
MB a pair at the default 1424×2128 (half a Sony α7S II frame in each side; MB are 2^20 bytes here), so 14 pairs make
about 640 MB. Writing the files needs pidng (the ``test`` extras); every sweep's driver reads them once (a few
seconds a pair).

What to read: the growth per extra trial should be about what one training process needs on its own (a Python
process with torch, torchmetrics and Ray imported, plus the model, its optimizer state, activations and metrics:
the last two columns), and it should not grow with the dataset. A sweep that copied the data into every trial
would add the dataset's size once more per trial. The driver keeps the data it prepared and the object store holds
it once more, so the sweep's total at one trial grows by about twice the dataset.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading

import numpy as np
import psutil

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import search_spaces  # noqa: E402
from restore_core import cli  # noqa: E402
from restore_core.config import parse_value, set_path  # noqa: E402
from restore_core.errors import ConfigError, UserError  # noqa: E402
from sweeps import cli as run_cli  # noqa: E402

MB = 1 << 20


def array_bytes(value) -> int:
    """Bytes of every numpy array inside nested dataclasses, mappings and sequences."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(array_bytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, dict):
        return sum(array_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(array_bytes(v) for v in value)
    return 0


class TreeSampler:
    """Polls the PSS of a process and all its descendants; keeps the peak of the sum and of the trial workers."""

    def __init__(self, pid: int, interval: float = 0.2):
        self.root = psutil.Process(pid)
        self.interval = interval
        self.peak_total = 0
        self.peak_workers = 0
        self.worker_titles: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = workers = 0
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            for process in processes:
                try:
                    pss = process.memory_full_info().pss
                    title = " ".join(process.cmdline())[:60]
                except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                    continue
                total += pss
                if title.startswith("ray::") and "IDLE" not in title and "Agent" not in title:  # a trial worker
                    workers += pss
                    self.worker_titles.add(title.split()[0])
            self.peak_total = max(self.peak_total, total)
            self.peak_workers = max(self.peak_workers, workers)
            self._stop.wait(self.interval)


def sweep_argv(trials: int, sets: list[str], storage: str) -> list[str]:
    """The ``sweeps/run.py`` arguments of a sweep that runs ``trials`` trials at once."""
    argv = ["--space", "lsid_lr", "--search", "random", "--num-samples", str(trials), "--scheduler", "fifo",
            "--cpus-per-trial", "0.5", "--max-concurrent", str(trials), "--storage", storage, "--name",
            f"memory-{trials}", "--verbose", "0", "--no-analysis", "--dashboard-port", "8298"]
    for item in sets:
        argv += ["--set", item]
    return argv


def check_sweep_argv(argv: list[str], label: str) -> None:
    """The checks of ``sweeps/run.py --dry-run`` (options, space, every config), before anything runs.

    Raises:
        UserError: naming the dataset whose sweep would be refused.
    """
    from sweeps.driver.runner import plan_sweep

    try:
        plan_sweep(run_cli.options_from_args(run_cli.build_parser().parse_args(argv)))
    except UserError as err:
        raise UserError(f"the sweep on {label}: {err}") from err


class SweepFailed(Exception):
    def __init__(self, label: str, returncode: int):
        super().__init__(f"the sweep on {label} failed (sweeps/run.py exit status {returncode}; its output is above)")
        self.returncode = returncode


def sweep_peak(trials: int, sets: list[str], storage: str, label: str) -> tuple[float, float, set[str]]:
    command = [sys.executable, os.path.join(ROOT, "sweeps/run.py"), *sweep_argv(trials, sets, storage)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL)
    with TreeSampler(process.pid) as sampler:
        if process.wait() != 0:
            raise SweepFailed(label, process.returncode)
    return sampler.peak_total / MB, sampler.peak_workers / MB, sampler.worker_titles


def one_process(sets: list[str]) -> tuple[float, float]:
    """A training process on its own, in MB: its PSS once torch, torchmetrics, Ray and the project are imported (what
    every trial worker holds before it trains), and what training adds on top of that and the data (peak RSS during
    training minus RSS before). The kernel's RSS high-water mark is reset after the data is prepared (Linux
    /proc/self/clear_refs), so the transient of reading a large dataset does not count as training."""
    code = (
        "import re, sys, json, psutil, ray, torchmetrics\n"
        f"sys.path.insert(0, {ROOT!r})\n"
        "import search_spaces\n"
        "from restore_core.loop import prepare_shared_data, train\n"
        "imported = psutil.Process().memory_full_info().pss\n"
        "config = json.loads(sys.argv[1])\n"
        "data = prepare_shared_data(config)\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = psutil.Process().memory_info().rss\n"
        "train(config, data=data)\n"
        "peak = int(re.search(r'VmHWM:\\s+(\\d+) kB', open('/proc/self/status').read()).group(1)) * 1024\n"
        "print(imported / (1 << 20), (peak - before) / (1 << 20))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, json.dumps(config_for(sets))], check=True, cwd=ROOT,
                         capture_output=True, text=True)
    imported, training = out.stdout.strip().splitlines()[-1].split()
    return float(imported), float(training)


def config_for(sets: list[str]) -> dict:
    space = search_spaces.get_space("lsid_lr")
    base = space.base_config("quick")
    for item in sets:
        key, _, value = item.partition("=")
        base = set_path(base, key, parse_value(value))
    return space.resolve(base, next(iter(space.grid_trials(1))))


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--concurrency", type=cli.whole_number(1), nargs="+", default=[1, 2, 4],
                        help="trials at once, one sweep each")
    parser.add_argument("--train-tiles", type=cli.whole_number(1), nargs="*", default=[10, 70],
                        help="data.n_train values (the photos give 80 tiles of 128×128; 10 go to validation)")
    parser.add_argument("--sid-pairs", type=cli.whole_number(0), default=0,
                        help="also measure N training pairs of real raw files in the SID layout (0: none)")
    parser.add_argument("--sid-height", type=cli.whole_number(64), default=1424,
                        help="SID frame height, even (cropped to a multiple of 64)")
    parser.add_argument("--sid-width", type=cli.whole_number(64), default=2128,
                        help="SID frame width, even (cropped to a multiple of 64)")
    parser.add_argument("--steps", type=cli.whole_number(2), default=100,
                        help="training steps per trial (evaluated at the half and at the end)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_user_facing(lambda: measure(args), interrupted="interrupted")


def dataset_mb(label: str, sets: list[str]) -> float:
    """MB of the arrays the sweep's driver prepares for these overrides."""
    from restore_core.loop import prepare_shared_data

    try:
        return array_bytes(prepare_shared_data(config_for(sets)).data) / MB
    except UserError as err:
        raise UserError(f"the data of {label}: {err}") from err


def measure(args: argparse.Namespace) -> int:
    if args.sid_pairs and (args.sid_height % 2 or args.sid_width % 2):
        raise ConfigError(f"--sid-height and --sid-width must be even (whole RGGB cells); got "
                          f"{args.sid_height}x{args.sid_width}")
    common = [f"train.steps={args.steps}", f"train.eval_every={args.steps // 2}", "train.threads=1"]
    groups = [(f"{tiles} tiles of 128×128", [f"data.n_train={tiles}", *common]) for tiles in args.train_tiles]
    with tempfile.TemporaryDirectory(prefix="memory-sid-") as sid_root:
        if args.sid_pairs:
            groups.append((f"{args.sid_pairs} SID raw pairs of {args.sid_height}×{args.sid_width}",
                           ["data.source=sid", f"data.root={sid_root}", *common]))
        for label, sets in groups:
            for trials in args.concurrency:
                check_sweep_argv(sweep_argv(trials, sets, "runs"), label)
        # the photos' tiles are cut now: more than they give is refused before the first sweep
        datasets = {label: dataset_mb(label, sets) for label, sets in groups if "data.source=sid" not in sets}
        if args.sid_pairs:
            from sid_folder import write_sid_folder  # pidng: only this dataset needs the test extras

            write_sid_folder(sid_root, args.sid_pairs, args.sid_height, args.sid_width)
            label, sets = groups[-1]
            datasets[label] = dataset_mb(label, sets)
        rows, titles = [], set()
        for label, sets in groups:
            dataset = datasets[label]
            alone = one_process(sets)
            peaks = []
            for trials in args.concurrency:
                with tempfile.TemporaryDirectory(prefix="memory-", ignore_cleanup_errors=True) as storage:
                    try:  # checkpoints: 100-400 MB a sweep
                        total, workers, seen = sweep_peak(trials, sets, storage, label)
                    except SweepFailed as failed:
                        print(f"error: {failed}", file=sys.stderr)
                        return failed.returncode
                titles |= seen
                peaks.append((trials, total, workers))
                print(f"  {label} ({dataset:.1f} MB), {trials} trial(s): {total:.0f} MB", file=sys.stderr)
            rows.append((label, dataset, alone, peaks))
    print(f"worker processes seen: {', '.join(sorted(titles))}; peak RSS of this script "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print("| training data | dataset (MB) | concurrent trials | peak PSS of the sweep (MB) "
          "| of it, trial workers (MB) | growth per extra trial (MB) | a process with the imports (MB) "
          "| training adds (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, dataset, (imported, alone), peaks in rows:
        first_trials, first_total, _ = peaks[0]
        for trials, total, workers in peaks:
            growth_text = "" if trials == first_trials else f"{(total - first_total) / (trials - first_trials):.0f}"
            print(f"| {label} | {dataset:.1f} | {trials} | {total:.0f} | {workers:.0f} | {growth_text} "
                  f"| {imported:.0f} | {alone:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
