"""Synthetic "spill" artefacts for the anomaly-detection study (seed 004).

The study's anomalies ("proliv", spills) are bright white spots and smears on otherwise normal images; its
augmentation drew white circles on a third of each batch so that the autoencoder learns to remove them. Here the
artefacts are white circles, irregular blobs (star-shaped polygons with jittered radii) and streaks (thick
lines), drawn anti-aliased with OpenCV at random positions and sizes. The same function makes the anomalous
test images of the embedded data and serves as the training-time artefact augmentation.
"""

from __future__ import annotations

import cv2
import numpy as np

from restore_core.errors import unknown_name

SeedLike = int | np.random.Generator
KINDS = ("circle", "blob", "streak")


def _draw(canvas: np.ndarray, kind: str, rng: np.random.Generator, size: tuple[float, float]) -> None:
    """Draw one artefact at value 255 into a uint8 canvas (OpenCV anti-aliases only 8-bit images)."""
    height, width = canvas.shape
    centre = np.array([rng.uniform(0, width), rng.uniform(0, height)])
    radius = max(1.0, rng.uniform(*size) * min(height, width))
    if kind == "circle":
        cv2.circle(canvas, tuple(int(v) for v in np.round(centre)), round(radius), 255, cv2.FILLED, cv2.LINE_AA)
    elif kind == "blob":
        corners = int(rng.integers(7, 13))
        angles = 2 * np.pi * (np.arange(corners) + rng.uniform(-0.3, 0.3, corners)) / corners
        radii = radius * rng.uniform(0.6, 1.3, corners)
        points = centre + radii[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (corners, 2) as x, y
        cv2.fillPoly(canvas, [np.round(points).astype(np.int32)], 255, cv2.LINE_AA)
    else:  # streak
        angle = rng.uniform(0, np.pi)
        half = radius * rng.uniform(1.5, 4.0) * np.array([np.cos(angle), np.sin(angle)])
        thickness = max(1, round(radius * rng.uniform(0.15, 0.4)))
        start, end = (tuple(int(v) for v in np.round(p)) for p in (centre - half, centre + half))
        cv2.line(canvas, start, end, 255, thickness, cv2.LINE_AA)


def add_spills(
    image: np.ndarray,
    rng: SeedLike,
    n: int | tuple[int, int] = (1, 4),
    size: tuple[float, float] = (0.03, 0.10),
    brightness: tuple[float, float] = (0.9, 1.0),
    kinds: tuple[str, ...] = KINDS,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw bright artefacts over an image.

    ``out = image·(1 − mask) + white·mask`` where ``mask`` is the anti-aliased coverage of all artefacts.

    Args:
        image: ``H×W×C`` or ``H×W`` float32 image in [0, 1].
        rng: generator or seed; draws the count, then per artefact its kind and geometry, then the brightness.
        n: number of artefacts, or an inclusive ``(low, high)`` range to draw it from.
        size: range of the artefact radius as a fraction of the shorter image side (streaks are longer).
        brightness: range of the artefacts' grey level (1 is pure white); one level per call.
        kinds: which artefacts may appear, any of ``"circle"``, ``"blob"``, ``"streak"``.

    Returns:
        ``(image, mask)``: the degraded image (same shape, float32, in [0, 1]) and the ``H×W`` float32 coverage in
        [0, 1] (1 inside an artefact, fractional on its anti-aliased edge, 0 where the image is untouched).

    Raises:
        UnknownNameError: for an unknown artefact kind.
        ValueError: for a negative count.
    """
    for kind in kinds:
        if kind not in KINDS:
            raise unknown_name("spill kind", kind, KINDS)
    rng = np.random.default_rng(rng)
    count = n if isinstance(n, int | np.integer) else int(rng.integers(n[0], n[1] + 1))
    if count < 0:
        raise ValueError(f"the number of spills must be >= 0, got {count}")
    picture = np.asarray(image, dtype=np.float32)
    canvas = np.zeros(picture.shape[:2], np.uint8)
    for _ in range(count):
        _draw(canvas, kinds[int(rng.integers(len(kinds)))], rng, size)
    level = np.float32(rng.uniform(*brightness))
    mask = canvas.astype(np.float32) / 255.0
    weight = mask if picture.ndim == 2 else mask[..., None]
    out = picture * (1.0 - weight) + level * weight
    return np.clip(out, 0.0, 1.0).astype(np.float32), mask
