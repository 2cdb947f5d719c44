"""PSNR and SSIM as Lamba & Mitra's code measures them (MohitLamba94/Restoring-Extremely-Dark-Images-In-Real-Time,
``common_classes.run_test``), the convention of the Lamba reproduction's tables: prediction and ground truth
clipped to [0, 1], scaled by 255 and truncated to uint8 (``astype(np.uint8)``), then scikit-image's
``peak_signal_noise_ratio`` (data range 255, from the dtype) and ``structural_similarity`` on the RGB image (7×7
uniform window, sample covariance, K1 0.01, K2 0.03, data range 255, the mean over the three channels)."""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` in [0, 1] -> ``(N, H, W, C)`` uint8, truncated as ``(clip(x, 0, 1) * 255).astype(uint8)``."""
    array = images.detach().float().clamp(0, 1).mul(255).cpu().numpy()
    return array.transpose(0, 2, 3, 1).astype(np.uint8)


def psnr_uint8(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB per image of the uint8 images (data range 255), shape (N,), float64; inf for identical images."""
    from skimage.metrics import peak_signal_noise_ratio  # heavy: skimage.metrics imports scipy.stats

    a, b = to_uint8(pred), to_uint8(target)
    return torch.tensor([peak_signal_noise_ratio(t, p) for p, t in zip(a, b)], dtype=torch.float64)


def ssim_uint8(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """SSIM per image of the uint8 images (skimage defaults, channels last), shape (N,), float64."""
    from skimage.metrics import structural_similarity  # heavy: see psnr_uint8

    a, b = to_uint8(pred), to_uint8(target)
    channel_axis = -1 if a.shape[-1] > 1 else None
    return torch.tensor(
        [structural_similarity(t.squeeze(-1) if channel_axis is None else t,
                               p.squeeze(-1) if channel_axis is None else p, channel_axis=channel_axis)
         for p, t in zip(a, b)],
        dtype=torch.float64,
    )
