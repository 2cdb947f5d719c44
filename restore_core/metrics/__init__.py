"""Metrics: image quality (PSNR, SSIM, UQI, EPI, GCMSE), anomaly thresholds and classical denoising baselines."""

from restore_core.metrics.baselines import bm3d_denoise, estimate_sigma, nlm_denoise
from restore_core.metrics.conventions import metric_definitions
from restore_core.metrics.fsim import fsimc
from restore_core.metrics.image import METRIC_DEFINITIONS, psnr, ssim
from restore_core.metrics.oct import epi, gcmse
from restore_core.metrics.registry import METRICS, extra_metrics, list_metrics, register_metric
from restore_core.metrics.skimage_uint8 import psnr_uint8, ssim_uint8
from restore_core.metrics.thresholds import confusion_at, roc_auc, select_thresholds
from restore_core.metrics.uqi import uqi, uqi_gaussian

__all__ = [
    "METRICS",
    "METRIC_DEFINITIONS",
    "bm3d_denoise",
    "confusion_at",
    "epi",
    "estimate_sigma",
    "extra_metrics",
    "fsimc",
    "gcmse",
    "list_metrics",
    "metric_definitions",
    "nlm_denoise",
    "psnr",
    "psnr_uint8",
    "register_metric",
    "roc_auc",
    "select_thresholds",
    "ssim",
    "ssim_uint8",
    "uqi",
    "uqi_gaussian",
]
