"""OCT-like noise for the TCFL study (seed 003): multiplicative speckle plus additive Gaussian noise.

Optical coherence tomography images are dominated by speckle, which is multiplicative: ``noisy = clean · s + n``.
The speckle ``s`` is drawn from a Gamma distribution with unit mean (the classic model of averaged intensity
speckle: ``L`` "looks" give Gamma(L, 1/L), whose standard deviation is 1/√L; L = 1 is fully developed speckle, an
exponential distribution), ``n`` is zero-mean Gaussian read noise, and the result is clipped to [0, 1].
The real data of the study (PKU37, DUKE17/28) cannot be shipped; this degrades the embedded photos instead.
"""

from __future__ import annotations

import numpy as np

SeedLike = int | np.random.Generator


def add_oct_noise(gray: np.ndarray, rng: SeedLike, speckle: float = 0.25, gaussian: float = 0.05) -> np.ndarray:
    """Degrade a grayscale image with speckle and Gaussian noise.

    The defaults bring a typical photo to roughly 17–19 dB PSNR, the level of the noisy DUKE17 B-scans
    (17.7 dB quoted in jkhu29/tcfl's README).

    Args:
        gray: ``H×W`` (or ``H×W×1``) float32 image in [0, 1].
        rng: generator or seed; two independent streams are spawned from it, one per noise.
        speckle: standard deviation of the unit-mean multiplicative speckle (0 switches it off; 1 is fully
            developed speckle). Internally the number of looks is ``1 / speckle²``.
        gaussian: standard deviation of the additive Gaussian noise (0 switches it off).

    Returns:
        Noisy image, same shape, float32, clipped to [0, 1].

    Raises:
        ValueError: for a negative noise level or an image that is not grayscale.
    """
    if speckle < 0 or gaussian < 0:
        raise ValueError(f"noise levels must be >= 0, got speckle={speckle}, gaussian={gaussian}")
    image = np.asarray(gray, dtype=np.float32)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1)):
        raise ValueError(f"add_oct_noise expects a grayscale H×W or H×W×1 image, got shape {image.shape}")
    # Two child streams, so that the Gaussian part for a seed does not change with the speckle level
    # (Gamma sampling uses a data-dependent number of draws).
    speckle_rng, gaussian_rng = np.random.default_rng(rng).spawn(2)
    multiplier = np.float32(1.0)
    if speckle > 0:
        looks = 1.0 / speckle**2
        multiplier = (speckle_rng.standard_gamma(looks, size=image.shape) / looks).astype(np.float32)
    additive = gaussian_rng.standard_normal(image.shape, dtype=np.float32) * np.float32(gaussian)
    return np.clip(image * multiplier + additive, 0.0, 1.0).astype(np.float32)
