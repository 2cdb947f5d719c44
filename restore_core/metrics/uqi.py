"""Universal quality index (UQI) with a numerically stable definition.

Z. Wang and A. C. Bovik, "A universal image quality index", IEEE Signal Processing Letters 9(3):81-84, 2002;
the special cases follow Wang's MATLAB ``img_qi.m`` (also sewar's ``uqi``). torchmetrics' UQI is not used: it
returns inf or NaN on flat and black windows (its denominator has no guard), see reference/seed_models.md §6.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Below this fraction of E[x²], a window variance is rounding noise of E[x²] − μ², not texture: float64 sums of
# 64 values err by ~1e-14 relative, while an 8-bit image's smallest real variance is ~1e-7 absolute.
_FLAT_TOLERANCE = 1e-10


def uqi(pred: torch.Tensor, target: torch.Tensor, window: int = 8) -> torch.Tensor:
    """UQI per image with a sliding ``window``×``window`` box window, computed in float64.

    Per window, with means μ, variances σ² and covariance σ_xy (population, i.e. divided by window²)::

        Q = 4·σ_xy·μ_x·μ_y / ((σ_x² + σ_y²)·(μ_x² + μ_y²))

    Where the formula's denominator vanishes, Wang's cases apply:

    - σ_x² + σ_y² = 0 (both windows flat) and μ_x² + μ_y² ≠ 0: Q = 2·μ_x·μ_y / (μ_x² + μ_y²)
      (1 for equal means, e.g. identical constant images);
    - otherwise (e.g. both windows black): Q = 1.

    Variances are clamped at 0 and values within rounding noise of 0 count as 0; the covariance is clamped to
    the Cauchy-Schwarz bound, so Q is always finite and in [-1, 1].

    Args:
        pred: Restored images, (N, C, H, W), any real range (normally [0, 1]).
        target: Reference images, same shape.
        window: Side of the square box window; only windows fully inside the image count (no padding).

    Returns:
        UQI per image, shape (N,), float64, in [-1, 1]: mean of Q over channels (as given, RGB or grayscale)
        and window positions. 1 for identical images, including constant and all-black ones. Higher is better.
    """
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(
            f"expected two (N, C, H, W) tensors of the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if min(pred.shape[-2:]) < window:
        raise ValueError(f"UQI needs images of at least {window}x{window} pixels, got {tuple(pred.shape[-2:])}")
    x = pred.detach().to(torch.float64)
    y = target.detach().to(torch.float64)
    n, c = x.shape[:2]

    # One pooling pass over the five moments: (5N, C, H', W') with H' = H - window + 1.
    moments = F.avg_pool2d(torch.cat([x, y, x * x, y * y, x * y]), window, stride=1)
    mu_x, mu_y, ex2, ey2, exy = moments.split(n)
    var_x = _variance(ex2, mu_x)
    var_y = _variance(ey2, mu_y)
    bound = torch.sqrt(var_x * var_y)
    cov = torch.minimum(torch.maximum(exy - mu_x * mu_y, -bound), bound)

    var_sum = var_x + var_y
    mean_sq_sum = mu_x * mu_x + mu_y * mu_y
    denominator = var_sum * mean_sq_sum
    flat = (var_sum == 0) & (mean_sq_sum != 0)

    # torch.where evaluates both branches: divide by a safe 1 where a branch is not taken.
    q_full = 4 * cov * mu_x * mu_y / torch.where(denominator != 0, denominator, 1.0)
    q_flat = 2 * mu_x * mu_y / torch.where(flat, mean_sq_sum, 1.0)
    q = torch.where(denominator != 0, q_full, torch.where(flat, q_flat, 1.0))
    # Rounding can push |Q| a few ulp past 1 even with the Cauchy-Schwarz clamp.
    return q.clamp(-1.0, 1.0).reshape(n, c, -1).mean(dim=(1, 2))


def _variance(second_moment: torch.Tensor, mean: torch.Tensor) -> torch.Tensor:
    var = (second_moment - mean * mean).clamp_min(0.0)
    return torch.where(var <= _FLAT_TOLERANCE * second_moment, 0.0, var)


def uqi_gaussian(pred: torch.Tensor, target: torch.Tensor, kernel_size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """UQI as torchmetrics' ``universal_image_quality_index`` computed it before its eps (PR #2222), with the DL4H
    reproduction's patch (karolprzyb/DL4H-Desmoking-Laparoscopy-Surgery-Images ``src/patches/uqi.py`` and
    ``distributed.py``): the definition the reproduction's UQI 0.6844 was measured with.

    An ``kernel_size``-square Gaussian window (σ ``sigma``) over the images padded by reflection, the formula above
    with no guard, the padded border cropped off the map again, every value clamped to [−1, 1] (±inf of a flat
    window becomes ±1) and the NaNs of 0/0 windows (black or flat on both sides) left out of the mean. This hides
    the instability rather than defining those windows, so :func:`uqi` is the default; this one is for comparing
    with the reproduction like for like.

    Args:
        pred: Restored images, (N, C, H, W) in [0, 1] (the reproduction rescaled its [−1, 1] images to [0, 1]).
        target: Reference images, same shape.
        kernel_size: Side of the Gaussian window (odd).
        sigma: Standard deviation of the window.

    Returns:
        UQI per image, shape (N,), float64: the mean over channels and the remaining positions, NaN windows left
        out (the reproduction's ``torch.nanmean`` ran over a whole batch; here over each image; it computed in
        float32).
    """
    if pred.shape != target.shape or pred.ndim != 4:
        raise ValueError(
            f"expected two (N, C, H, W) tensors of the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    pad = (kernel_size - 1) // 2
    if min(pred.shape[-2:]) <= 2 * pad:
        raise ValueError(f"UQI needs images larger than {2 * pad}x{2 * pad} pixels, got {tuple(pred.shape[-2:])}")
    # float64: in float32 the cancellation in E[x²] − μ² moves the mean by ~1e-3 (implementation-dependent noise)
    x, y = pred.detach().double(), target.detach().double()
    n, c = x.shape[:2]
    coords = torch.arange(kernel_size, dtype=torch.float64, device=x.device) - pad
    gauss = torch.exp(-(coords**2) / (2 * sigma**2))
    gauss = gauss / gauss.sum()
    kernel = (gauss[:, None] * gauss[None, :]).expand(c, 1, kernel_size, kernel_size)
    x, y = (F.pad(t, (pad, pad, pad, pad), mode="reflect") for t in (x, y))
    moments = F.conv2d(torch.cat([x, y, x * x, y * y, x * y]), kernel, groups=c)  # (5N, C, H, W)
    mu_x, mu_y, ex2, ey2, exy = moments.split(n)
    var_x, var_y, cov = ex2 - mu_x * mu_x, ey2 - mu_y * mu_y, exy - mu_x * mu_y
    q = (2 * mu_x * mu_y * 2 * cov) / ((mu_x * mu_x + mu_y * mu_y) * (var_x + var_y))
    q = q[..., pad:-pad, pad:-pad].clamp(-1.0, 1.0)
    return torch.nanmean(q.reshape(n, -1), dim=1)
