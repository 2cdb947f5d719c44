"""Opt-in training-step options (``train.channels_last``, ``train.compile``) applied to a task's modules.

Both change how a step runs, not what it computes (up to rounding): parameters keep their identity (the optimizers
built by the task still hold them) and ``state_dict`` keys stay the same, so checkpoints are interchangeable with and
without them. On a 2-core CPU neither paid off across the models (``benchmarks/step_options.py``,
docs/PERFORMANCE.md): channels-last made the step 6-9 % faster for the anomaly U-Net and pix2pix and 6-17 % slower
for the SID U-Net and Lamba's network; compilation cost 20-35 s per trial for at best a 15 % faster step (the
anomaly U-Net) and at worst a 50 % slower one (the SID U-Net). So both are off by default and meant for GPUs.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from restore_core.sections import TrainConfig


def apply_step_options(modules: Mapping[str, nn.Module], train: TrainConfig) -> None:
    """Convert every module to channels-last and/or compile it in place, as ``train`` asks.

    Channels-last on the weights is enough: a convolution whose weight is channels-last produces a channels-last
    output even from a contiguous input, and the layout then flows through the network, so inputs stay as they are.
    ``nn.Module.compile`` compiles in place (no ``_orig_mod.`` wrapper), so ``state_dict`` keys and checkpoints are
    those of the eager module.
    """
    if train.channels_last:
        for module in modules.values():
            # Module.to converts parameters through ``param.data``: the optimizers keep the same Parameter objects.
            module.to(memory_format=torch.channels_last)
    if train.compile:
        # Dynamo keeps at most 8 compiled versions of each forward per process; a Ray worker reused for a later
        # trial (another model variant, other shapes) could otherwise reach that limit and fall back to eager.
        torch._dynamo.reset()
        for module in modules.values():
            module.compile()
