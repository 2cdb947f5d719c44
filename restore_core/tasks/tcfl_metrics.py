"""The TCFL task's image-quality metrics of denoised OCT images, and the BM3D and non-local-means baselines it
reports beside them."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from restore_core.metrics import bm3d_denoise, epi, estimate_sigma, gcmse, nlm_denoise, psnr, ssim

QUALITY_METRICS = ("psnr", "ssim", "epi", "gcmse")
_BASELINE_CACHE: dict[str, dict[str, float]] = {}  # validation-set hash -> baseline metrics (BM3D costs ~1 s/image)


def quality_metrics(denoised: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    """Mean PSNR, SSIM, EPI (vertical, denoised over clean) and GCMSE (edges from the clean image) of (N, 1, H, W)."""
    return {
        "psnr": psnr(denoised, clean).mean().item(),
        "ssim": ssim(denoised, clean).mean().item(),
        "epi": epi(denoised, clean).mean().item(),
        "gcmse": gcmse(clean, denoised).mean().item(),
    }


def baseline_metrics(noisy: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """BM3D and non-local means on the validation images ``(V, H, W)``, blind (noise level from
    ``estimate_sigma`` of each image), as ``baseline/<method>/<metric>``. Computed once per validation set and
    process: every evaluation reports the same numbers."""
    key = hashlib.sha1(np.ascontiguousarray(noisy).tobytes() + np.ascontiguousarray(clean).tobytes()).hexdigest()
    if key not in _BASELINE_CACHE:
        sigmas = [estimate_sigma(image) for image in noisy]
        target = torch.from_numpy(np.ascontiguousarray(clean[:, None], dtype=np.float32))
        out = {}
        for method, denoise in (("bm3d", bm3d_denoise), ("nlm", nlm_denoise)):
            restored = np.stack([denoise(image, sigma) for image, sigma in zip(noisy, sigmas)])
            result = quality_metrics(torch.from_numpy(restored[:, None].astype(np.float32)), target)
            out.update({f"baseline/{method}/{k}": v for k, v in result.items()})
        _BASELINE_CACHE[key] = out
    return dict(_BASELINE_CACHE[key])
