"""Pixel and structural loss terms. Images are (B, C, H, W) in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restore_core.losses.registry import register_loss

# 5 scales with an 11-pixel window: the coarsest scale is 1/16 of the input, so the input must be > 160 pixels.
MS_SSIM_MIN_SIZE = 161


class _Pointwise(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.fn(pred, target)


class _FullPrecision(_Pointwise):
    """A term computed in float32 also inside a mixed-precision (``train.amp``) step: SSIM's local variance
    E[x²] − μ² cancels to rounding noise in bfloat16 next to its constant C2 = 9e-4, so the loss and its gradient would
    be mostly noise near convergence."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(pred.device.type, enabled=False):
            return self.fn(pred.float(), target.float())


@register_loss("l1")
def l1() -> nn.Module:
    """Mean absolute error (the SID and Lamba training loss)."""
    return _Pointwise(F.l1_loss)


@register_loss("mse")
def mse() -> nn.Module:
    """Mean squared error."""
    return _Pointwise(F.mse_loss)


@register_loss("ssim")
def ssim() -> nn.Module:
    """1 − SSIM (11×11 Gaussian window, σ 1.5, data range 1)."""
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim_fn  # heavy: scipy.signal

    return _FullPrecision(lambda p, t: 1 - ssim_fn(p, t, data_range=1.0, kernel_size=11, sigma=1.5))


@register_loss("ms_ssim")
def ms_ssim() -> nn.Module:
    """1 − MS-SSIM (5 scales, weights of Wang et al., 11×11 Gaussian window, σ 1.5, data range 1).

    Needs height and width of at least ``MS_SSIM_MIN_SIZE``; configs are checked for it before a sweep starts.
    """
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as ms_ssim_fn  # heavy

    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        # Clamp keeps the product of the scales' contrast terms real when a prediction leaves [0, 1].
        return 1 - ms_ssim_fn(pred.clamp(0, 1), target, data_range=1.0, kernel_size=11, sigma=1.5, normalize="relu")

    return _FullPrecision(loss)


@register_loss("tv")
def tv() -> nn.Module:
    """Squared-difference total variation of the prediction (TVLoss of the TCFL reproduction); ignores the target."""

    def loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        b, c, h, w = pred.shape
        h_tv = (pred[:, :, 1:, :] - pred[:, :, :-1, :]).pow(2).sum()
        w_tv = (pred[:, :, :, 1:] - pred[:, :, :, :-1]).pow(2).sum()
        return 2 * (h_tv / (c * (h - 1) * w) + w_tv / (c * h * (w - 1))) / b

    return _Pointwise(loss)
