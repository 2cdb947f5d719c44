"""Synthetic short-exposure raw from clean sRGB photos, and the packing of the SID code.

The chain follows Brooks et al. ("Unprocessing images for learned raw denoising", CVPR 2019) in simplified form
and the sensor of the SID Sony set: inverse tone curve and sRGB gamma to linear light, RGGB mosaic, division by the
exposure ratio, Poisson-Gaussian noise in electrons, 14-bit quantisation with black level 512.
"""

from __future__ import annotations

import numpy as np
import torch

BLACK_LEVEL = 512
WHITE_LEVEL = 16383  # 14 bit


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Inverse smoothstep tone curve, then the inverse sRGB transfer function."""
    srgb = np.clip(srgb, 0.0, 1.0)
    toned = 0.5 - np.sin(np.arcsin(1.0 - 2.0 * srgb) / 3.0)
    return np.where(toned <= 0.04045, toned / 12.92, ((toned + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear):
    """The forward of :func:`srgb_to_linear` (numpy arrays or torch tensors): sRGB transfer, then smoothstep."""
    lib = _lib(linear)
    x = lib.clip(linear, 0.0, 1.0)
    encoded = lib.where(x <= 0.0031308, x * 12.92, 1.055 * lib.clip(x, 0.0031308, None) ** (1 / 2.4) - 0.055)
    return 3.0 * encoded**2 - 2.0 * encoded**3


def _lib(x):
    return torch if isinstance(x, torch.Tensor) else np


def mosaic_rggb(linear_rgb: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` -> ``(H, W)`` Bayer plane with the RGGB pattern (H and W even)."""
    bayer = np.empty(linear_rgb.shape[:2], dtype=np.float32)
    bayer[0::2, 0::2] = linear_rgb[0::2, 0::2, 0]
    bayer[0::2, 1::2] = linear_rgb[0::2, 1::2, 1]
    bayer[1::2, 0::2] = linear_rgb[1::2, 0::2, 1]
    bayer[1::2, 1::2] = linear_rgb[1::2, 1::2, 2]
    return bayer


def pack_bayer(bayer):
    """``(..., H, W)`` Bayer -> ``(..., 4, H/2, W/2)`` in the SID order R, G, B, G = (0,0), (0,1), (1,1), (1,0).

    Works on numpy arrays and torch tensors. (nn.PixelUnshuffle would order them (0,0), (0,1), (1,0), (1,1).)
    """
    planes = [bayer[..., 0::2, 0::2], bayer[..., 0::2, 1::2], bayer[..., 1::2, 1::2], bayer[..., 1::2, 0::2]]
    lib = _lib(bayer)
    return lib.stack(planes, axis=-3) if lib is np else lib.stack(planes, dim=-3)


def unpack_bayer(packed):
    """The inverse of :func:`pack_bayer`: ``(..., 4, h, w)`` -> ``(..., 2h, 2w)``."""
    lib = _lib(packed)
    shape = packed.shape[:-3] + (packed.shape[-2] * 2, packed.shape[-1] * 2)
    bayer = lib.zeros(shape, dtype=packed.dtype) if lib is np else packed.new_zeros(shape)
    bayer[..., 0::2, 0::2] = packed[..., 0, :, :]
    bayer[..., 0::2, 1::2] = packed[..., 1, :, :]
    bayer[..., 1::2, 1::2] = packed[..., 2, :, :]
    bayer[..., 1::2, 0::2] = packed[..., 3, :, :]
    return bayer


def simulate_short_exposure(
    srgb: np.ndarray,
    rng: np.random.Generator,
    ratio: float,
    gain: float = 1.0,
    read_noise: float = 4.0,
) -> np.ndarray:
    """Raw sensor counts of a ``1/ratio`` exposure of ``srgb``: ``(H, W)`` uint16 in [0, 16383], black level 512.

    Args:
        srgb: clean image ``(H, W, 3)`` in [0, 1] (the long exposure, after the camera pipeline).
        rng: noise source (derive it from the data seed and the image index for determinism).
        ratio: exposure ratio, the factor by which the short exposure is darker (100 to 300 in SID).
        gain: sensor counts per photo-electron; shot noise is Poisson in electrons.
        read_noise: standard deviation of the Gaussian read noise, in counts.
    """
    signal = mosaic_rggb(srgb_to_linear(srgb)) * (WHITE_LEVEL - BLACK_LEVEL) / ratio  # counts above black
    electrons = rng.poisson(np.maximum(signal, 0.0) / gain).astype(np.float32)
    counts = BLACK_LEVEL + electrons * gain + rng.normal(0.0, read_noise, signal.shape).astype(np.float32)
    return np.clip(np.round(counts), 0, WHITE_LEVEL).astype(np.uint16)


def normalise_raw(counts: np.ndarray) -> np.ndarray:
    """``max(raw − 512, 0) / (16383 − 512)`` as ``pack_raw`` in train_Sony.py, before packing."""
    return (np.maximum(counts.astype(np.float32) - BLACK_LEVEL, 0.0) / (WHITE_LEVEL - BLACK_LEVEL)).astype(np.float32)
