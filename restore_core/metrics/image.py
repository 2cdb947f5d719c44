"""Full-reference image metrics from torchmetrics: PSNR and SSIM, one value per image.

Conventions (BasicSR style, fixed for every metric of the package):

- layout ``(N, C, H, W)``, float, values in ``[0, 1]`` (data range 1);
- computed on the channels given (RGB for colour images, the single channel for grayscale), never on Y;
- no border crop;
- one value per image, shape ``(N,)``; the caller averages.
"""

from __future__ import annotations

import torch

DATA_RANGE = 1.0
SSIM_KERNEL_SIZE = 11
SSIM_SIGMA = 1.5


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(
            f"expected two (N, C, H, W) tensors of the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )


def psnr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio, ``10·log10(1 / MSE)`` dB with the MSE over C, H and W of each image.

    Args:
        pred: Restored images, (N, C, H, W) in [0, 1].
        target: Ground truth, same shape and range.

    Returns:
        PSNR in dB per image, shape (N,). Higher is better; ``inf`` for an image identical to its target.
    """
    _check_pair(pred, target)
    from torchmetrics.functional.image import peak_signal_noise_ratio  # heavy: torchmetrics imports scipy.signal

    return peak_signal_noise_ratio(pred, target, data_range=DATA_RANGE, reduction="none", dim=(1, 2, 3))


def ssim(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Structural similarity (Wang et al. 2004) with an 11×11 Gaussian window, σ 1.5, K1 0.01, K2 0.03.

    torchmetrics pads each side by 5 pixels (half the window) by reflection, so every pixel is a window centre,
    and averages the SSIM map over channels and all H×W positions (no border crop).

    Args:
        pred: Restored images, (N, C, H, W) in [0, 1], H and W at least 11.
        target: Ground truth, same shape and range.

    Returns:
        SSIM per image, shape (N,), in [-1, 1]; 1 for identical images. Higher is better.
    """
    _check_pair(pred, target)
    from torchmetrics.functional.image import structural_similarity_index_measure  # heavy: see psnr

    return structural_similarity_index_measure(
        pred,
        target,
        gaussian_kernel=True,
        sigma=SSIM_SIGMA,
        kernel_size=SSIM_KERNEL_SIZE,
        reduction="none",
        data_range=DATA_RANGE,
    )


# What the run manifest records about each metric, so that tables can be compared across runs.
METRIC_DEFINITIONS: dict[str, str] = {
    "psnr": (
        "PSNR in dB, 10*log10(1/MSE), data range 1.0 (images in [0, 1]), MSE over all channels of each image "
        "(RGB or grayscale as given, not Y), no border crop; torchmetrics peak_signal_noise_ratio; averaged over "
        "images."
    ),
    "ssim": (
        "SSIM (Wang et al. 2004), data range 1.0, 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03, channels as "
        "given (RGB or grayscale, not Y), 5-pixel reflect padding, map averaged over all pixels (no crop); "
        "torchmetrics structural_similarity_index_measure; averaged over images."
    ),
    "uqi": (
        "Universal quality index (Wang & Bovik 2002), sliding 8x8 box window over valid positions (no padding), "
        "float64, variances clamped at 0, Wang's special cases for flat and black windows (always finite, in "
        "[-1, 1]), channels as given; mean over channels and windows, then over images."
    ),
    "epi": (
        "Edge preservation index, vertical direction: sum |x[i+1, j] - x[i, j]| over i = 1..H-2 (0-based, the "
        "row 0/1 difference left out) of the restored image over the same sum of the target, summed over "
        "channels (TCFL reproduction jkhu29/tcfl calc_epi EPI_V, restored image in the numerator); 1 = edges "
        "kept, < 1 = smoothed, > 1 = variation added."
    ),
    "gcmse": (
        "Gradient-conduction MSE (jkhu29/tcfl calc_gcmse): Perona-Malik conduction exp(-(g/0.5)^2) of the "
        "target's forward differences, weight G = 1 - mean conduction of the 4 directions, "
        "sum (G*(target - restored))^2 * pixels / sum G, images in [0, 1], channels as given; lower is better."
    ),
}
