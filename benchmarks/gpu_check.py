#!/usr/bin/env python
"""GPU checks of the sweep platform, in one script for a machine with a CUDA GPU (none of this runs on CPU).

1. Probe: ``--gpus-per-trial auto``'s probe (``restore_core.footprint.measure_footprint``) on a quick ``lsid_lr``
   trial (the SID U-Net, batch 4 of 64-pixel crops) and on a paper-size pix2pix trial (the 54 M-parameter generator
   with ``ngf = ndf = 64``, batch 16 of 256-pixel crops, synthetic smoke on the embedded photos): peak memory, step
   time, GPU kernel time per step, and the trials to a GPU each gives (``sweeps.cluster.gpu_share``). Goal: the
   pix2pix trial gets a GPU of its own, the SID trial shares one 8 ways.
2. Packing: the quick ``lsid_lr`` grid (ten trials on the GPU, FIFO) as one sweep with ``--gpus-per-trial auto``,
   then with ``--gpus-per-trial 0.25`` (the old default), then one at a time (``--gpus-per-trial 1``); trials per
   hour of each (the sweep's start included) and their ratios. ``nvidia-smi`` is polled to count the trials'
   processes on the GPU at once. Goal: auto gives at least 2.5× the trials per hour of one at a time.
3. Mixed precision: the training loop with ``train.amp`` none, bf16 and fp16 on CUDA, at batch 4 of 128-pixel
   crops and at batch 16 of 256-pixel crops; each must complete with finite loss and metrics; step times and their
   ratio to fp32.
4. Memory release: after a trial that ends normally, one that fails with an (injected) out-of-memory error and a
   real out-of-memory error, the trainable's clean-up must bring ``torch.cuda.memory_allocated`` back to ~0.
5. Step options: ``benchmarks/step_options.py`` on CUDA for the SID U-Net (lsid_lr) and Lamba's network
   (lamba_loss): step time with ``train.channels_last`` and ``train.compile`` over eager, and the compile warm-up.
   It runs in its own process, stopped after 4 minutes; a failure there is recorded while the other checks run.

    python benchmarks/gpu_check.py                          # every check, about 9 minutes on an H200
    python benchmarks/gpu_check.py --checks probe packing   # the two the GPU share depends on, about 5 minutes
    python benchmarks/gpu_check.py --out results            # gpu_check.json into results/ (default: $OUT or .)

Exit status 0 when every check run passes; the JSON holds the measurements.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import torch  # noqa: E402

from restore_core import cli  # noqa: E402
from restore_core.config import deep_merge  # noqa: E402
from restore_core.errors import ConfigError  # noqa: E402
from search_spaces import lsid_lr  # noqa: E402

# The mixed-precision and memory checks' trial: full-width SID U-Net, batch 4 of 128-pixel crops.
PACK_BASE = deep_merge(deep_merge(lsid_lr.BASE, lsid_lr.SMOKE), {
    "data": {"tile": 128, "patch": 128, "n_train": 4, "n_val": 2},
    "model": {"width": 1.0},
    "train": {"steps": 1500, "eval_every": 250, "batch_size": 4, "device": "cuda", "threads": 1, "cost_size": 128},
})
AMP_LARGE = deep_merge(PACK_BASE, {"data": {"tile": 256, "patch": 256}, "train": {"batch_size": 16}})
STEP_OPTION_SPACES = ("lsid_lr", "lamba_loss")  # sid_unet and lamba_rt at their quick profiles
CHECKS = ("probe", "packing", "amp", "memory_release", "step_options")
PACKING_SPACE = "lsid_lr"  # its quick grid: ten trials
# A paper-size pix2pix trial for the probe: the desmoking study's paper profile on synthetic smoke over the embedded
# photos (the profile reads folders of real pairs), with fewer validation frames than its 500.
PIX2PIX_PAPER_SETS = {"data.source": "synthetic", "data.n_train": 20, "data.n_val": 20, "data.smoke_per_tile": 1,
                      "train.device": "cuda"}


def gpu_processes() -> set[int] | None:
    """PIDs of the processes that hold GPU memory now (nvidia-smi), or None without nvidia-smi."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return {int(line) for line in out.split() if line.strip().isdigit()}


def probe_configs() -> dict[str, dict]:
    """The two configs the probe check measures: a quick lsid_lr trial and a paper-size pix2pix trial."""
    from search_spaces import get_space

    lsid = get_space("lsid_lr")
    desmoke = get_space("desmoke_dark_channel")
    sid = lsid.resolve(lsid.base_config("quick", {"train.device": "cuda"}), {"row": lsid.rows[1].label, "seed": 0})
    pix2pix = desmoke.resolve(desmoke.base_config("paper", PIX2PIX_PAPER_SETS),
                              {"row": "full", "task.dark_channel": "none", "seed": 0})
    return {"sid_unet quick (lsid_lr)": sid, "pix2pix_unet paper size (desmoke_dark_channel)": pix2pix}


def check_probe() -> dict:
    """The auto share's probe on both configs, and the trials to a GPU each gets."""
    from restore_core.footprint import measure_footprint
    from sweeps.cluster.gpu_share import trials_per_gpu

    gpu_bytes = torch.cuda.get_device_properties(0).total_memory
    out: dict = {}
    for name, config in probe_configs().items():
        footprint = measure_footprint(config)
        share = trials_per_gpu(footprint, gpu_bytes)
        out[name] = {"peak_gib": round(footprint.peak_bytes / 2**30, 3), "step_ms": round(footprint.step_ms, 2),
                     "busy_ms": round(footprint.busy_ms, 2), "params": footprint.params, "trials_per_gpu": share.trials,
                     "by_memory": share.by_memory, "by_time": share.by_time, "share": share.share}
    sid, pix2pix = out.values()
    out["ok"] = pix2pix["trials_per_gpu"] == 1 and sid["trials_per_gpu"] == 8
    return out


def check_packing(storage: str) -> dict:
    """The quick lsid_lr grid with the auto share, with four to a GPU, and one at a time: trials per hour."""
    runs = {"auto": run_pack(storage, None, "auto"), "quarter": run_pack(storage, 0.25, "quarter"),
            "one_at_a_time": run_pack(storage, 1.0, "one-at-a-time")}
    single = runs["one_at_a_time"]["trials_per_hour"]
    out = {**runs, "auto_over_one_at_a_time": round(runs["auto"]["trials_per_hour"] / single, 2),
           "quarter_over_one_at_a_time": round(runs["quarter"]["trials_per_hour"] / single, 2)}
    out["ok"] = (all(run["statuses"] == ["completed"] * len(run["statuses"]) for run in runs.values())
                 and out["auto_over_one_at_a_time"] >= 2.5)
    return out


def run_pack(storage: str, gpus_per_trial: float | None, name: str) -> dict:
    from analysis import load_run
    from sweeps.driver.runner import execute, plan_sweep
    from sweeps.settings.options import SweepOptions

    before = gpu_processes() or set()
    seen: list[int] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            now = gpu_processes()
            if now is None:
                return  # no nvidia-smi: the trials' overlapping training spans are the evidence
            seen.append(len(now - before))
            stop.wait(0.5)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    started = time.time()
    options = SweepOptions(space=PACKING_SPACE, search="grid", scheduler="fifo", gpus_per_trial=gpus_per_trial,
                           cpus_per_trial=1.0, sets={"train.device": "cuda"}, name=name, storage=storage,
                           analyze=False, verbose=0, dashboard_port=28365)
    run_dir, _ = execute(plan_sweep(options), ["gpu_check"])
    stop.set()
    poller.join()
    frame = load_run(run_dir)
    spans = sorted(training_span(os.path.join(run_dir, trial)) for trial in frame["trial_id"])
    seconds = time.time() - started
    return {"seconds": round(seconds, 1), "trials": len(frame),
            "trials_per_hour": round(len(frame) * 3600 / seconds, 1),
            "most_gpu_processes_at_once": max(seen, default=0), "most_trials_training_at_once": most_at_once(spans),
            "statuses": sorted(frame["status"]), "gpus_per_trial_used": options.gpus_per_trial,
            "step_ms": [round(float(v), 1) for v in frame["last/time/step_ms"]]}


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most of the (start, end) spans that overlap at one moment."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = most = 0
    for _, change in events:
        running += change
        most = max(most, running)
    return most


def training_span(trial_dir: str) -> tuple[float, float]:
    """(start, end) wall-clock seconds of a trial's training, from Ray's result.json."""
    with open(os.path.join(trial_dir, "result.json"), encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    last = rows[-1]
    return last["timestamp"] - last["time_total_s"], last["timestamp"]


def check_amp() -> dict:
    """fp32, bf16 and fp16 step times at the packing trials' size and at a larger one (batch 16 of 256-pixel crops),
    where the step is bound by arithmetic rather than by kernel launches."""
    out = {"packing_size": amp_at(PACK_BASE), "batch16_256px": amp_at(AMP_LARGE)}
    out["ok"] = out["packing_size"]["ok"] and out["batch16_256px"]["ok"]
    return out


def amp_at(base: dict) -> dict:
    from restore_core.loop import train

    out = {}
    for amp in ("none", "bf16", "fp16"):
        config = deep_merge(base, {"train": {"amp": amp, "steps": 200, "eval_every": 100}})
        result = train(config)
        metrics = result.metrics
        finite = all(math.isfinite(v) for k, v in metrics.items() if isinstance(v, float) and "/" in k)
        out[amp] = {"stop_reason": result.stop_reason, "finite": finite, "val/psnr": round(metrics["val/psnr"], 3),
                    "train/loss": metrics["train/loss"], "step_ms": round(metrics["time/step_ms"], 2)}
    out["ok"] = all(v["stop_reason"] == "completed" and v["finite"] for v in out.values())
    for amp in ("bf16", "fp16"):
        out[f"{amp}_over_fp32_step_time"] = round(out[amp]["step_ms"] / out["none"]["step_ms"], 3)
    return out


def check_memory_release() -> dict:
    from restore_core.loop import train
    from sweeps.driver.trainable import drop_frames, release_memory

    out = {"baseline_bytes": torch.cuda.memory_allocated()}
    train(deep_merge(PACK_BASE, {"train": {"steps": 20, "eval_every": 10}}))
    release_memory()
    out["after_completed_trial"] = torch.cuda.memory_allocated()
    try:
        train(deep_merge(PACK_BASE, {"train": {"steps": 20, "eval_every": 10, "fault": "oom", "fault_step": 15}}))
    except torch.OutOfMemoryError as error:
        out["allocated_while_failing"] = torch.cuda.memory_allocated()
        drop_frames(error)
        release_memory()
    out["after_injected_oom"] = torch.cuda.memory_allocated()
    try:
        torch.empty(1 << 45, dtype=torch.uint8, device="cuda")  # 32 TiB: a real out-of-memory error
    except torch.OutOfMemoryError as error:
        drop_frames(error)
        release_memory()
    out["after_real_oom"] = torch.cuda.memory_allocated()
    limit = out["baseline_bytes"] + (1 << 20)  # within 1 MiB of where it started
    out["ok"] = all(out[k] <= limit for k in ("after_completed_trial", "after_injected_oom", "after_real_oom"))
    return out


def check_step_options(device: str = "cuda", spaces: tuple[str, ...] = STEP_OPTION_SPACES,
                       timeout_s: float = 240, steps: int = 20, rounds: int = 3) -> dict:
    """Each step option's step time over eager, per space, from ``benchmarks/step_options.py`` in a child process:
    a crash, hang or leftover GPU memory of the compiler stays out of this process, and finished spaces are kept."""
    out: dict = {}
    with tempfile.TemporaryDirectory() as folder:
        rows_path = os.path.join(folder, "rows.jsonl")
        command = [sys.executable, os.path.join(ROOT, "benchmarks", "step_options.py"), "--device", device,
                   "--steps", str(steps), "--rounds", str(rounds), "--jsonl", rows_path, "--spaces", *spaces]
        started = time.time()
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
            if done.returncode:
                out["error"] = f"exit status {done.returncode}: {done.stderr.strip()[-2000:]}"
        except subprocess.TimeoutExpired:
            out["error"] = f"stopped after {timeout_s} s"
        except OSError as error:
            out["error"] = f"could not start: {error}"
        out["seconds"] = round(time.time() - started, 1)
        if os.path.exists(rows_path):
            with open(rows_path, encoding="utf-8") as handle:
                out.update({row["space"]: row for row in map(json.loads, handle) if "space" in row})
    out["ok"] = "error" not in out and all(space in out for space in spaces)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = cli.UserFacingParser(description=__doc__, formatter_class=cli.RawDescriptionDefaultsHelpFormatter)
    parser.add_argument("--out", default=os.environ.get("OUT", "."),
                        help="folder that gets gpu_check.json (default: $OUT, else the current folder)")
    parser.add_argument("--checks", nargs="+", choices=CHECKS, default=list(CHECKS), help="which checks to run")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_user_facing(lambda: check_all(args.out, args.checks), interrupted="interrupted")


def check_all(out: str, checks: list[str]) -> int:
    if not os.path.isdir(out):
        raise ConfigError(f"--out {out} is not a folder; expected an existing folder for gpu_check.json")
    if not torch.cuda.is_available():
        raise ConfigError("no CUDA GPU is visible to torch here; this script checks a machine with one")
    report = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    for name in checks:
        if name == "packing":
            with tempfile.TemporaryDirectory() as storage:
                report[name] = check_packing(storage)
        else:
            report[name] = {"probe": check_probe, "amp": check_amp, "memory_release": check_memory_release,
                            "step_options": check_step_options}[name]()
        print(name, json.dumps(report[name]), flush=True)
    report["ok"] = all(report[name]["ok"] for name in checks)
    path = os.path.join(out, "gpu_check.json")
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2)
    print(f"{'PASS' if report['ok'] else 'FAIL'}: {path}")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
