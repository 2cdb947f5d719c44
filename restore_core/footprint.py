"""What one trial of a config takes of a GPU, measured by a short probe: its peak memory, its step time and how
much of that time the GPU spends computing. The sweep driver decides from it how many trials share a GPU
(``--gpus-per-trial auto``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from restore_core.loop import SharedData, pick_device
from restore_core.schema import data_key, validate_config
from restore_core.tasks import get_task

WARMUP_STEPS = 2  # the first steps allocate the optimizers' state and let cuDNN pick its algorithms


@dataclass(frozen=True)
class TrialFootprint:
    """One trial's use of a GPU.

    Attributes:
        peak_bytes: the most memory torch's caching allocator reserved during training steps and one evaluation,
            which is what the process holds of the GPU (without its CUDA context).
        step_ms: wall time of one training step.
        busy_ms: GPU kernel time of one training step; the rest of the step the GPU waits for the CPU to launch.
        params: parameters of the trial's models.
    """

    peak_bytes: int
    step_ms: float
    busy_ms: float
    params: int


def measure_footprint(config: Mapping, data: SharedData | None = None, steps: int = 5) -> TrialFootprint:
    """Build the config's task on the GPU, take ``WARMUP_STEPS`` + ``steps`` training steps and one evaluation,
    and measure them. Steps and evaluation are the task's own, as the training loop takes them.

    Raises:
        RuntimeError: no GPU is available to torch, or the config sets ``train.device=cpu``.
    """
    cfg = validate_config(config)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    device = pick_device(cfg)
    if device.type != "cuda":
        raise RuntimeError("measure_footprint measures a GPU; torch sees none here (or train.device=cpu)")
    task_cls = get_task(cfg.task_name)
    if data is None or data.key != data_key(cfg):
        data = SharedData(data_key(cfg), task_cls.prepare_data(cfg))
    torch.manual_seed(cfg.train.seed)
    torch.cuda.reset_peak_memory_stats(device)
    task = task_cls(cfg, data.data, device)
    rng = np.random.default_rng([cfg.train.seed, 0])
    for _ in range(WARMUP_STEPS):
        task.train_step(task.sample_batch(rng))
    step_ms = _timed_steps(task, rng, steps, device)
    # kernel time from a second run of steps: tracing the kernels costs the CPU time, which the step time must not
    # include (a launch-bound step would look more launch-bound than it is)
    with profile(activities=[ProfilerActivity.CUDA]) as profiler:
        _timed_steps(task, rng, steps, device)
    busy_us = sum(event.self_device_time_total for event in profiler.key_averages()
                  if event.device_type == DeviceType.CUDA)
    task.evaluate()
    params = sum(p.numel() for module in task.modules.values() for p in module.parameters())
    peak = torch.cuda.max_memory_reserved(device)
    del task
    torch.cuda.empty_cache()
    return TrialFootprint(peak_bytes=int(peak), step_ms=step_ms, busy_ms=busy_us / 1000 / steps, params=params)


def _timed_steps(task, rng: np.random.Generator, steps: int, device: torch.device) -> float:
    """Mean wall time (ms) of ``steps`` training steps, the GPU's queue drained before and after."""
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        task.train_step(task.sample_batch(rng))
    torch.cuda.synchronize(device)
    return (time.perf_counter() - start) * 1000 / steps
