"""The dark channel of an RGB image: the extra input channel of the desmoking study (seed 000).

Two definitions are in use, and the study's code and paper disagree on which one the network sees:

- ``"min"``: the per-pixel minimum over R, G, B (a patch of 1). ``compute_dc`` in ``add_dark_channel.py`` of
  ssalazarcolores/Desmoking-laparoscopy-surgery-images-using-an-image-to-image-translation-guided-by-an-embedded-Dark-
  computes more, but ``refine_dc`` returns this map, so it is what the official code feeds to the generator.
- ``"patch15"``: He, Sun, Tang, "Single Image Haze Removal Using Dark Channel Prior", CVPR 2009: the per-pixel
  minimum followed by a 15×15 minimum filter (``cv2.erode`` with a rectangular kernel, as ``compute_dc`` does
  before discarding it). It is smooth, like the dark channel in the paper's figure.

"No dark channel" (the ablation's third arm) is the caller's business: it simply does not add the channel.
"""

from __future__ import annotations

import cv2
import numpy as np

from restore_core.errors import unknown_name

PATCH_SIZE = 15  # He et al.'s patch, and the kernel size compute_dc passes to cv2.erode
MODES = ("min", "patch15")


def dark_channel(rgb: np.ndarray, mode: str = "min") -> np.ndarray:
    """Dark channel of an image.

    Args:
        rgb: ``H×W×3`` float32 image in [0, 1] (channel order does not matter: both modes take a minimum).
        mode: ``"min"`` (per-pixel minimum over channels) or ``"patch15"`` (that minimum, then the minimum over
            the 15×15 neighbourhood). At the borders the neighbourhood is cut to the pixels inside the image:
            ``cv2.erode``'s default border value never wins a minimum.

    Returns:
        ``H×W`` float32 map in [0, 1].

    Raises:
        UnknownNameError: for a mode other than the two above.
        ValueError: if ``rgb`` is not ``H×W×3``.
    """
    if mode not in MODES:
        raise unknown_name("dark-channel mode", mode, MODES)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"dark_channel expects an H×W×3 image, got shape {rgb.shape}")
    per_pixel_min = np.asarray(rgb, dtype=np.float32).min(axis=2)
    if mode == "min":
        return per_pixel_min
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (PATCH_SIZE, PATCH_SIZE))
    return cv2.erode(per_pixel_min, kernel)
