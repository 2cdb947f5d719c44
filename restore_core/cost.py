"""Model cost: parameters, multiply-accumulates and forward latency at a fixed input size."""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from restore_core.models.inference import inference_model


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, example: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass, from PyTorch's own FLOP counter (FLOPs / 2).

    Counted under ``no_grad`` (not ``inference_mode``, where the counter fails on weight-normalised convs).
    """
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(example)
    model.train(was_training)
    return counter.get_total_flops() // 2


def measure_latency(model: nn.Module, example: torch.Tensor, repeats: int = 5, warmup: int = 1) -> float:
    """Median forward time in milliseconds on the example's device."""
    was_training = model.training
    model.eval()
    times = []
    with torch.no_grad():
        for i in range(warmup + repeats):
            if example.is_cuda:
                torch.cuda.synchronize(example.device)
            start = time.perf_counter()
            model(example)
            if example.is_cuda:
                torch.cuda.synchronize(example.device)
            if i >= warmup:
                times.append((time.perf_counter() - start) * 1000)
    model.train(was_training)
    return statistics.median(times)


def model_cost(model: nn.Module, example: torch.Tensor, repeats: int = 5) -> dict[str, float]:
    """``{"cost/params", "cost/macs", "cost/latency_ms"}`` for ``model`` on ``example``: parameters and
    multiply-accumulates of the model as defined, latency of its inference path
    (:func:`~restore_core.models.inference.inference_model`: what a deployed model runs)."""
    return {
        "cost/params": count_parameters(model),
        "cost/macs": count_macs(model, example),
        "cost/latency_ms": measure_latency(inference_model(model), example, repeats=repeats),
    }


# Parameters and MACs already counted in this process, by architecture and input (see trial_cost).
_COUNTED: dict[tuple, tuple[int, int]] = {}


def trial_cost(model: nn.Module, example: torch.Tensor) -> dict[str, float]:
    """:func:`model_cost` as every trial reports it: parameters and MACs counted once per process for each
    architecture and input (a reused sweep worker's later trials of the same model take the first one's count, which
    is exact: a traced forward pass, about a fifth of the cost's time, ``benchmarks/trial_cost.py``); the latency
    measured for each trial, since the analysis reads the spread of its trials' measurements as the noise of the
    latency. The architecture is the model's ``repr`` with every parameter's and buffer's name, shape and dtype; the
    input is its shape, dtype and device."""
    key = (repr(model), tuple((name, tuple(t.shape), str(t.dtype)) for name, t in model.state_dict().items()),
           tuple(example.shape), str(example.dtype), str(example.device))
    if key not in _COUNTED:
        _COUNTED[key] = count_parameters(model), count_macs(model, example)
    params, macs = _COUNTED[key]
    return {"cost/params": params, "cost/macs": macs,
            "cost/latency_ms": measure_latency(inference_model(model), example)}


# The input each registered model takes for a ``size``×``size`` image (what it restores or judges).
EXAMPLE_INPUTS = {
    "sid_unet": lambda size: torch.rand(1, 4, size // 2, size // 2),  # packed Bayer at half resolution
    "lamba_rt": lambda size: torch.rand(1, 1, size, size),  # full-resolution Bayer plane
    "pix2pix_unet": lambda size: torch.rand(1, 3, size, size) * 2 - 1,
    "patchgan": lambda size: torch.rand(1, 6, size, size) * 2 - 1,  # condition and image concatenated
    "patchgan_in": lambda size: torch.rand(1, 1, size, size),
    "dncnn": lambda size: torch.rand(1, 1, size, size),
    "unet": lambda size: torch.rand(1, 3, size, size),
}


def example_input(name: str, size: int) -> torch.Tensor:
    if name not in EXAMPLE_INPUTS:
        raise KeyError(f"no example input for model '{name}'; add one to restore_core.cost.EXAMPLE_INPUTS")
    return EXAMPLE_INPUTS[name](size)
