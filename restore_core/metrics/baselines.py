"""Classical denoisers, the baselines of seed study 003 (TCFL reports BM3D and non-local means).

Images are grayscale numpy arrays (H, W), float, in [0, 1]; noise levels are on the same [0, 1] scale, so a blind
caller can pass ``estimate_sigma(noisy)`` straight to either denoiser.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

_BM3D = threading.Lock()  # the bm3d package's C library (bm4d) aborts the process when two threads call it at once


def _check_gray(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"expected a grayscale (H, W) image, got shape {image.shape}")
    return image.astype(np.float64, copy=False)


def estimate_sigma(noisy: np.ndarray) -> float:
    """Standard deviation of additive Gaussian noise, by skimage's wavelet (MAD of the finest HH band) estimate.

    Args:
        noisy: Grayscale image (H, W) in [0, 1].

    Returns:
        The noise standard deviation on the [0, 1] intensity scale.
    """
    from skimage.restoration import estimate_sigma as skimage_estimate_sigma  # heavy: it imports scipy.stats

    return float(skimage_estimate_sigma(_check_gray(noisy), channel_axis=None))


def bm3d_denoise(noisy: np.ndarray, sigma: float) -> np.ndarray:
    """BM3D (Dabov et al., IEEE TIP 2007) with both stages, the ``bm3d`` package's default "np" profile, on one
    thread: the same output on every run (its threads sum their parts in varying order), and within the one CPU a trial
    is given (its threads took twice the CPU for the same wall time, 0.7 CPU-s for a 32×32 image instead of 0.35).

    About 1 s for a 128×128 image on one CPU core.

    Args:
        noisy: Grayscale image (H, W) in [0, 1].
        sigma: Noise standard deviation on the [0, 1] scale (e.g. ``estimate_sigma(noisy)``).

    Returns:
        The denoised image, (H, W) float64 clipped to [0, 1].
    """
    if sigma <= 0:
        return _check_gray(noisy).clip(0.0, 1.0)
    import bm3d  # heavy: it imports scipy.signal, which only a BM3D baseline needs

    profile = bm3d.BM3DProfile()  # the "np" profile, on one thread (see above)
    profile.num_threads = 1
    with _BM3D:
        denoised = bm3d.bm3d(_check_gray(noisy), sigma_psd=float(sigma), profile=profile)
    return np.clip(denoised, 0.0, 1.0)


def nlm_denoise(noisy: np.ndarray, h: float) -> np.ndarray:
    """Non-local means (Buades et al., CVPR 2005), OpenCV ``fastNlMeansDenoising`` on the 8-bit image.

    7×7 patches, 21×21 search window (OpenCV's defaults). Takes a few milliseconds at 128×128.

    Args:
        noisy: Grayscale image (H, W) in [0, 1]; it is rounded to uint8 as OpenCV requires.
        h: Filter strength on the [0, 1] scale (passed to OpenCV as ``255·h``). ``h`` close to the noise
            standard deviation works well; larger removes more noise and more detail.

    Returns:
        The denoised image, (H, W) float64 in [0, 1] (multiples of 1/255).
    """
    as_uint8 = np.round(_check_gray(noisy).clip(0.0, 1.0) * 255).astype(np.uint8)
    denoised = cv2.fastNlMeansDenoising(as_uint8, None, h=float(h) * 255, templateWindowSize=7, searchWindowSize=21)
    return denoised.astype(np.float64) / 255
