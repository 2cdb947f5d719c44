"""The metric registry: ``@register_metric("name")`` on ``fn(pred, target) -> (N,)`` tensor, and the metrics a
config adds to every evaluation (``train.extra_metrics``).

A registered metric follows the conventions of :mod:`restore_core.metrics.image`: ``(N, C, H, W)`` float tensors in
``[0, 1]``, one value per image; the evaluation reports their mean as ``val/<name>``. It is computed on the task's
evaluation outputs against its targets (for an unpaired task, such as TCFL, the targets are the noisy inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from restore_core.metrics.image import psnr, ssim
from restore_core.metrics.uqi import uqi
from restore_core.registry import Registry

Metric = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
METRICS: Registry[Metric] = Registry("metric")
register_metric = METRICS.register

for _name, _metric in (("psnr", psnr), ("ssim", ssim), ("uqi", uqi)):
    register_metric(_name)(_metric)


def list_metrics() -> list[str]:
    return METRICS.names()


@torch.no_grad()
def extra_metrics(names: Sequence[str], outputs: torch.Tensor | None, targets: torch.Tensor | None,
                  split: str = "val") -> dict[str, float]:
    """``{"<split>/<name>": mean over the images}`` of each metric in ``names`` (none without outputs and targets)."""
    if outputs is None or targets is None:
        return {}
    outputs, targets = outputs.float().clamp(0, 1), targets.float().clamp(0, 1)
    return {f"{split}/{name}": float(METRICS.get(name)(outputs, targets).float().mean()) for name in names}
