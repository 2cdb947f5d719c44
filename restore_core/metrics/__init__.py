"""Metrics: image quality (PSNR, SSIM, UQI, EPI, GCMSE), anomaly thresholds and classical denoising baselines."""

from restore_core.metrics.baselines import bm3d_denoise, estimate_sigma, nlm_denoise
from restore_core.metrics.image import METRIC_DEFINITIONS, psnr, ssim
from restore_core.metrics.oct import epi, gcmse
from restore_core.metrics.thresholds import confusion_at, roc_auc, select_thresholds
from restore_core.metrics.uqi import uqi

__all__ = [
    "METRIC_DEFINITIONS",
    "bm3d_denoise",
    "confusion_at",
    "epi",
    "estimate_sigma",
    "gcmse",
    "nlm_denoise",
    "psnr",
    "roc_auc",
    "select_thresholds",
    "ssim",
    "uqi",
]
