"""Synthetic surgical smoke for the desmoking study (seed 000).

The study's own data composited rendered smoke over Cholec80 frames (a "smoke mask" blended over the image). Here
the smoke is procedural: a smooth fractal-noise density (a sum of octaves of upsampled random noise, like Perlin's
"turbulence"), shaped so that part of the frame stays clear, scaled by a random strength and alpha-composited in a
slightly tinted white/grey. Everything is drawn from the generator, so a seed fixes the smoke.
"""

from __future__ import annotations

import cv2
import numpy as np

SeedLike = int | np.random.Generator


def fractal_noise(
    shape: tuple[int, int], rng: SeedLike, octaves: int = 5, base_cells: int = 3, persistence: float = 0.55
) -> np.ndarray:
    """Smooth noise in [0, 1]: octave ``k`` is uniform noise on a grid ``base_cells·2^k`` cells across, upsampled
    bicubically to ``shape`` and weighted ``persistence^k``; the sum is rescaled to span [0, 1].

    Args:
        shape: ``(H, W)`` of the result.
        rng: generator or seed.
        octaves: number of octaves; more adds finer wisps.
        base_cells: grid cells across the longer side in the coarsest octave (the size of the largest puffs).
        persistence: amplitude ratio between consecutive octaves; lower is smoother.

    Returns:
        ``H×W`` float32 array in [0, 1].
    """
    rng = np.random.default_rng(rng)
    height, width = shape
    total = np.zeros((height, width), np.float32)
    for k in range(octaves):
        cells = base_cells * 2**k
        # Cells across each side, in proportion to the aspect ratio, never more than the pixels there.
        cells_w = int(np.clip(round(cells * width / max(height, width)), 1, width))
        cells_h = int(np.clip(round(cells * height / max(height, width)), 1, height))
        grid = rng.random((cells_h, cells_w), dtype=np.float32)
        # Bicubic upsampling makes each octave smooth; its small overshoot is removed by the final rescaling.
        total += persistence**k * cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    low, high = float(total.min()), float(total.max())
    return ((total - low) / max(high - low, 1e-6)).astype(np.float32)


def add_smoke(
    clean: np.ndarray,
    rng: SeedLike,
    strength: tuple[float, float] = (0.4, 0.85),
    clear_fraction: tuple[float, float] = (0.0, 0.35),
    grey_level: tuple[float, float] = (0.75, 1.0),
    tint: float = 0.04,
    octaves: int = 5,
) -> tuple[np.ndarray, np.ndarray]:
    """Composite synthetic smoke over an image.

    ``smoky = clean·(1 − α) + colour·α``, with ``α = strength · shape(noise)``: the fractal noise has its lowest
    ``clear`` share mapped to 0 (smoke-free regions) and the rest stretched to [0, 1].

    Args:
        clean: ``H×W×C`` (C = 1 or 3) or ``H×W`` float32 image in [0, 1].
        rng: generator or seed; draws the noise, then strength, clear share, grey level and tint, in that order.
        strength: range of the peak opacity of the smoke.
        clear_fraction: range of the noise level below which the frame stays clear.
        grey_level: range of the smoke's brightness (1 is white).
        tint: largest relative per-channel deviation of the colour from grey (colour images only).
        octaves: octaves of the fractal noise.

    Returns:
        ``(smoky, alpha)``: the image (same shape, float32, in [0, 1]) and the ``H×W`` float32 opacity in [0, 1]
        that was used, for logging.
    """
    rng = np.random.default_rng(rng)
    image = np.asarray(clean, dtype=np.float32)
    height, width = image.shape[:2]
    noise = fractal_noise((height, width), rng, octaves=octaves)
    peak = rng.uniform(*strength)
    clear = rng.uniform(*clear_fraction)
    grey = rng.uniform(*grey_level)
    tinted = np.clip(grey * (1.0 + rng.uniform(-tint, tint, size=3)), 0.0, 1.0).astype(np.float32)
    colour = tinted if image.ndim == 3 and image.shape[2] == 3 else np.float32(grey)  # gray images: plain grey

    alpha = (peak * np.clip((noise - clear) / (1.0 - clear), 0.0, 1.0)).astype(np.float32)
    weight = alpha if image.ndim == 2 else alpha[..., None]
    smoky = image * (1.0 - weight) + colour * weight
    return np.clip(smoky, 0.0, 1.0).astype(np.float32), alpha
