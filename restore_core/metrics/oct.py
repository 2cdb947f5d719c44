"""Edge-aware metrics of OCT denoising: edge preservation index (EPI) and gradient-conduction MSE (GCMSE).

Both follow the TCFL reproduction jkhu29/tcfl (``utils.calc_epi``, ``utils.calc_gcmse``), which the TCFL paper's
table (Geng et al., IEEE TMI 41(11), 2022; code gengmufeng/TCFL-OCT) is compared against; the official TCFL code
has no metric code. Images are (N, C, H, W) in [0, 1]; OCT is grayscale (C = 1), and with C > 1 every channel is
treated as a separate plane and the sums run over channels too.
"""

from __future__ import annotations

import math

import torch


def _check_pair(a: torch.Tensor, b: torch.Tensor) -> None:
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(
            f"expected two (N, C, H, W) tensors of the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def _vertical_variation(x: torch.Tensor) -> torch.Tensor:
    # Rows 1..H-2 against rows 2..H-1, exactly the slices of calc_epi: the pair (row 0, row 1) is not counted.
    return (x[..., 2:, :] - x[..., 1:-1, :]).abs().sum(dim=(1, 2, 3))


def epi(denoised: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Edge preservation index in the vertical direction (EPI_V of jkhu29/tcfl ``calc_epi``)::

        EPI = Σ_{i=1..H-2, j} |d[i+1, j] − d[i, j]|  /  Σ_{i=1..H-2, j} |r[i+1, j] − r[i, j]|

    with d the denoised and r the reference image (0-based rows; the first row difference is left out, as in
    the reproduction). Vertical because OCT B-scans have their layer boundaries along the rows, and
    the reproduction reports EPI_V. The reproduction's evaluate.py passes (reference, denoised), i.e. it reports
    the reciprocal of this; here the denoised image is in the numerator, as in the literature's
    Σ|∇ denoised| / Σ|∇ noisy|, with the clean reference in place of the noisy image. The paper's own EPI
    definition was not found.

    Args:
        denoised: Restored images, (N, C, H, W) in [0, 1].
        reference: Clean reference images, same shape.

    Returns:
        EPI per image, shape (N,), float64, >= 0. 1 when the vertical variation is kept (identical images give 1),
        < 1 when edges are smoothed (a step edge halved gives 0.5), > 1 when variation is added (noise).
        If the reference has no vertical variation: 1 when the denoised image has none either, else inf.
    """
    _check_pair(denoised, reference)
    if reference.shape[-2] < 3:
        raise ValueError(f"EPI needs images of at least 3 rows, got {tuple(reference.shape[-2:])}")
    numerator = _vertical_variation(denoised.detach().to(torch.float64))
    denominator = _vertical_variation(reference.detach().to(torch.float64))
    ratio = numerator / torch.where(denominator > 0, denominator, 1.0)
    undefined = torch.where(numerator > 0, math.inf, 1.0)
    return torch.where(denominator > 0, ratio, undefined)


def gcmse(ref: torch.Tensor, work: torch.Tensor, kappa: float = 0.5, option: int = 1) -> torch.Tensor:
    """Gradient-conduction mean squared error (jkhu29/tcfl ``calc_gcmse``), lower is better.

    Edges are found on the reference alone. With g_S and g_E its forward differences to the south and east
    (0 on the last row / column), the Perona-Malik conduction is c = exp(−(g/κ)²) (``option=1``) or
    1 / (1 + (g/κ)²) (``option=2``); the north and west conductions are the south and east ones shifted by one
    pixel, with 1 on the first row / column (borders count as flat). Then::

        G = 1 − clip(mean(c_N, c_S, c_W, c_E), 0, 1)          # 0 in flat regions, up to 1 on edges
        GCMSE = Σ (G · (ref − work))²  ·  #pixels / Σ G

    Args:
        ref: Clean reference images, (N, C, H, W) in [0, 1]; the edge weights come from it.
        work: Restored images to score, same shape.
        kappa: Conductance: a difference of about kappa counts as an edge.
        option: 1 for the exponential Perona-Malik function, 2 for the rational one.

    Returns:
        GCMSE per image, shape (N,), float64, >= 0, on the [0, 1] intensity scale; 0 for identical images. A
        reference without any difference (G = 0 everywhere) gives 0, since every term of the sum is 0 too.
    """
    _check_pair(ref, work)
    if option not in (1, 2):
        raise ValueError(f"gcmse option must be 1 (exponential) or 2 (rational), got {option}")
    r = ref.detach().to(torch.float64)
    w = work.detach().to(torch.float64)

    grad_s = torch.zeros_like(r)
    grad_e = torch.zeros_like(r)
    grad_s[..., :-1, :] = r[..., 1:, :] - r[..., :-1, :]
    grad_e[..., :, :-1] = r[..., :, 1:] - r[..., :, :-1]
    if option == 1:
        cond_s, cond_e = torch.exp(-((grad_s / kappa) ** 2)), torch.exp(-((grad_e / kappa) ** 2))
    else:
        cond_s, cond_e = 1.0 / (1.0 + (grad_s / kappa) ** 2), 1.0 / (1.0 + (grad_e / kappa) ** 2)
    cond_n = torch.ones_like(r)
    cond_w = torch.ones_like(r)
    cond_n[..., 1:, :] = cond_s[..., :-1, :]
    cond_w[..., :, 1:] = cond_e[..., :, :-1]
    weight = 1.0 - ((cond_n + cond_s + cond_w + cond_e) / 4).clamp(0.0, 1.0)

    numerator = ((weight * (r - w)) ** 2).sum(dim=(1, 2, 3))
    weight_sum = weight.sum(dim=(1, 2, 3))
    pixels = r[0].numel()
    return torch.where(weight_sum > 0, numerator * pixels / torch.where(weight_sum > 0, weight_sum, 1.0), 0.0)
