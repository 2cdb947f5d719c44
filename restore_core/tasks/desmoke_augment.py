"""The DL4H desmoking reproduction's training transforms (karolprzyb/DL4H-Desmoking-Laparoscopy-Surgery-Images,
``synth_data_source.py``: ``RandomRotation((-5, 5))``, ``RandomResizedCrop(256)``, ``RandomHorizontalFlip()``,
``RandomVerticalFlip()``), applied to the smoky image, its clean target and, where it was computed on the whole frame,
its dark channel together, with OpenCV and numpy (torchvision is not available here)."""

from __future__ import annotations

import math

import cv2
import numpy as np

MAX_ROTATION = 5.0  # degrees either way
CROP_SCALE = (0.08, 1.0)  # RandomResizedCrop's defaults: the crop's share of the area ...
CROP_RATIO = (3 / 4, 4 / 3)  # ... and its aspect ratio, drawn log-uniformly


def crop_box(height: int, width: int, rng: np.random.Generator) -> tuple[int, int, int, int]:
    """A random crop ``(top, left, h, w)`` as torchvision's ``RandomResizedCrop.get_params``: ten tries at an area
    share from ``CROP_SCALE`` and a log-uniform aspect ratio from ``CROP_RATIO``, then the central crop of the
    clamped ratio."""
    area = height * width
    for _ in range(10):
        target = area * rng.uniform(*CROP_SCALE)
        ratio = math.exp(rng.uniform(math.log(CROP_RATIO[0]), math.log(CROP_RATIO[1])))
        w, h = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    ratio = width / height
    if ratio < CROP_RATIO[0]:
        w, h = width, round(width / CROP_RATIO[0])
    elif ratio > CROP_RATIO[1]:
        w, h = round(height * CROP_RATIO[1]), height
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


def dl4h_transform(channels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Rotate, crop, resize and flip a stack of aligned planes alike.

    Args:
        channels: ``(C, H, W)`` float32, e.g. smoky RGB, clean RGB and the dark channel stacked.
        size: side of the square output (the reproduction's 256).
        rng: the step's generator (a resumed trial draws the same transforms).

    Returns:
        ``(C, size, size)`` float32: rotated by an angle uniform in ±5° about the centre (nearest neighbour, zero
        outside, torchvision's defaults), cropped by :func:`crop_box`, resized bilinearly (area averaging when
        shrinking), then flipped left-right and upside-down with p = 0.5 each.
    """
    _, height, width = channels.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), rng.uniform(-MAX_ROTATION, MAX_ROTATION), 1)
    top, left, h, w = crop_box(height, width, rng)
    interpolation = cv2.INTER_AREA if min(h, w) > size else cv2.INTER_LINEAR
    planes = []
    for plane in channels:  # one plane at a time: OpenCV's area resize takes at most 4 channels
        rotated = cv2.warpAffine(np.ascontiguousarray(plane, dtype=np.float32), matrix, (width, height),
                                 flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        planes.append(cv2.resize(rotated[top : top + h, left : left + w], (size, size), interpolation=interpolation))
    out = np.stack(planes)  # (C, size, size)
    if rng.random() < 0.5:
        out = out[:, :, ::-1]
    if rng.random() < 0.5:
        out = out[:, ::-1]
    return np.ascontiguousarray(out, dtype=np.float32)
