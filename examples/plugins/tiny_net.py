"""A model, a loss term and a metric of your own, registered when this file is imported.

    python sweeps/run.py --import examples/plugins/tiny_net.py --space lsid_lr --profile smoke \
        --set 'model={}' --set model.name=tiny_net

``model={}`` empties the space's model section (the SID U-Net's options) before ``model.name`` names yours.
"""

from __future__ import annotations

import torch
from torch import nn

from restore_core import ConfigError, register_loss, register_metric, register_model


@register_model("tiny_net")
class TinyNet(nn.Module):
    """Two convolutions and a pixel shuffle. By default packed Bayer (B, 4, H/2, W/2) in and sRGB (B, 3, H, W) out,
    as the low-light task's models; ``in_channels=1, out_channels=1, scale=1`` for grayscale denoising.

    Args:
        width: hidden channels.
        in_channels: channels of the input.
        out_channels: channels of the output.
        scale: how many times larger the output is than the input, per side.
        residual: add the input to the output (a denoiser that learns the noise; ``scale=1``, same channels).
    """

    size_multiple = 1  # any input size works (the low-light task checks that patches fit the model)

    def __init__(self, width: int = 8, in_channels: int = 4, out_channels: int = 3, scale: int = 2,
                 residual: bool = False):
        super().__init__()
        if width < 1 or scale < 1:  # a config error names the key, with no traceback
            raise ConfigError(f"model.width and model.scale must be >= 1 for tiny_net; got {width}, {scale}")
        if residual and (scale != 1 or in_channels != out_channels):
            raise ConfigError("model.residual needs model.scale=1 and as many channels out as in for tiny_net")
        self.residual = residual
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, out_channels * scale**2, 3, padding=1),
            nn.PixelShuffle(scale),  # (B, out·scale², h, w) -> (B, out, h·scale, w·scale)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


@register_loss("charbonnier")
class Charbonnier(nn.Module):
    """sqrt((pred - target)² + eps²), averaged: an L1 that is smooth at 0."""

    def __init__(self, eps: float = 1e-3):
        super().__init__()
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((pred - target) ** 2 + self.eps**2).mean()


@register_metric("mae")
def mean_absolute_error(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error per image, shape (N,), of (N, C, H, W) images in [0, 1]. Lower is better."""
    return (pred - target).abs().flatten(1).mean(dim=1)
