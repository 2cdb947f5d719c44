"""``--gpus-per-trial auto`` on a GPU: how many trials share one, from a probe of one trial on it.

Trials in separate processes share a GPU by turns: while one trial's process launches its next kernels, another's
run. A trial whose kernels keep the GPU busy for a fraction ``b`` of its step leaves room for about ``1 / b``
trials before each slows down, and a trial that peaks at ``m`` bytes leaves room for ``memory / m``. The probe
(:func:`restore_core.footprint.measure_footprint`, in a Ray task holding a whole GPU) measures both for the sweep's
largest model (by parameters, then batch and patch), before any trial starts; the share is one over the smaller
count, at most :data:`MAX_TRIALS_PER_GPU` to a GPU.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ray
import torch

from restore_core.footprint import TrialFootprint, measure_footprint
from restore_core.loop import SharedData
from restore_core.models import create_model
from restore_core.schema import data_key, validate_config
from sweeps.settings.options import AUTO_GPU_SHARE

Probe = Callable[[dict, "SharedData | None"], "tuple[TrialFootprint, int] | None"]

# The most trials put on one GPU, however small: benchmarks/gpu_check.py packs up to eight; each more process adds
# a CUDA context and splits the GPU's time more finely, and more were never measured.
MAX_TRIALS_PER_GPU = 8
# Memory a trial's process holds beyond what torch's allocator reserves: its CUDA context (cuBLAS and cuDNN
# workspaces and the kernels' code), about 0.5 GiB with torch 2.x.
CONTEXT_BYTES = 512 * 2**20
# Headroom on the probe's peak: a trial's later batches, evaluations and checkpoints can fragment the allocator's
# cache beyond the few steps the probe takes.
MEMORY_HEADROOM = 1.25
# The share of its memory a GPU gives to trials: the rest stays for the driver's or another user's process.
USABLE_MEMORY = 0.9


@dataclass(frozen=True)
class GpuShare:
    """How many trials go on one GPU, and why."""

    trials: int
    by_memory: int
    by_time: int

    @property
    def share(self) -> float:
        """The ``--gpus-per-trial`` value: one over the trials, rounded down to the 4 decimals Ray keeps."""
        return 1.0 if self.trials <= 1 else math.floor(10_000 / self.trials) / 10_000


def trials_per_gpu(footprint: TrialFootprint, gpu_bytes: int) -> GpuShare:
    """How many trials with ``footprint`` share a GPU of ``gpu_bytes``: as many as its memory holds and its time
    serves without slowing each trial down, at most :data:`MAX_TRIALS_PER_GPU`, at least one."""
    need = footprint.peak_bytes * MEMORY_HEADROOM + CONTEXT_BYTES
    by_memory = max(1, int(gpu_bytes * USABLE_MEMORY // need))
    by_time = max(1, int(footprint.step_ms / footprint.busy_ms)) if footprint.busy_ms > 0 else MAX_TRIALS_PER_GPU
    return GpuShare(min(by_memory, by_time, MAX_TRIALS_PER_GPU), by_memory, by_time)


def probe_config(configs: list[dict[str, Any]]) -> dict[str, Any]:
    """Of the sweep's known configs, the one with the largest model (by parameters, counted without allocating
    them), then the largest batch and patch: the one whose trials need the most of a GPU."""

    def size(config: dict) -> tuple[int, int, int]:
        with torch.device("meta"):
            params = sum(p.numel() for p in create_model(**config["model"]).parameters())
        return params, config["train"].get("batch_size", 1), config["data"].get("patch", 0)

    return max(configs, key=size)


def describe(share: GpuShare, footprint: TrialFootprint) -> str:
    """The notice the sweep prints: the measured footprint and the share it gives."""
    limit = "memory" if share.trials == share.by_memory else "time" if share.trials == share.by_time else "the most"
    return (f"GPU: a probe trial ({footprint.params / 1e6:.1f} M parameters) peaked at "
            f"{footprint.peak_bytes / 2**30:.2f} GiB and kept the GPU busy {footprint.busy_ms:.1f} of its "
            f"{footprint.step_ms:.1f} ms step: {share.trials} trial(s) to a GPU (by {limit}; --gpus-per-trial "
            f"{share.share:g}; pass a number to choose another)")


def auto_gpu_share(configs: list[dict[str, Any]], shared: dict[str, SharedData], probe: Probe | None = None) -> float:
    """Probe the largest of the sweep's configs on a whole GPU and return the share each trial takes.

    Args:
        configs: the configs known before the sweep runs (the base config and the grid's).
        shared: the data the driver prepared, by data key (the probe trains on the same data).
        probe: ``(config, data) -> (footprint, the GPU's bytes)``; by default :func:`probe_on_gpu`.
    """
    config = probe_config(configs)
    data = shared.get(data_key(validate_config(config)))
    measured = (probe or probe_on_gpu)(config, data)
    if measured is None:
        print(f"warning: the cluster declares a GPU but torch on its node sees none (a CPU build of torch, or "
              f"CUDA_VISIBLE_DEVICES empty): nothing to measure, trials take --gpus-per-trial {AUTO_GPU_SHARE:g} "
              f"and train where torch finds a device; pass a number to choose another", file=sys.stderr)
        return AUTO_GPU_SHARE
    footprint, gpu_bytes = measured
    share = trials_per_gpu(footprint, gpu_bytes)
    print(describe(share, footprint), file=sys.stderr)
    return share.share


def probe_on_gpu(config: dict, data: SharedData | None) -> tuple[TrialFootprint, int] | None:
    """:func:`~restore_core.footprint.measure_footprint` in a Ray task holding one whole GPU (so on a node that
    has one, with nothing else on it), with that GPU's memory; None where the node declares a GPU that torch does
    not see."""
    task = ray.remote(num_gpus=1, num_cpus=config["train"].get("threads", 1))(_measure_here)
    return ray.get(task.remote(config, data))


def _measure_here(config: dict, data: SharedData | None) -> tuple[TrialFootprint, int] | None:
    if not torch.cuda.is_available():
        return None
    return measure_footprint(config, data), torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory
