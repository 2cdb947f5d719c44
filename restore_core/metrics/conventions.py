"""Which definition of each metric a config's trials compute, for the run manifest: the PSNR/SSIM convention
(``task.metric_convention``), the UQI chosen (``task.uqi``) and the fixed ones (EPI, GCMSE, FSIMc)."""

from __future__ import annotations

from collections.abc import Mapping

from restore_core.metrics.image import METRIC_DEFINITIONS

# task.metric_convention -> the PSNR and SSIM the trials report as val/psnr and val/ssim
PSNR_SSIM: dict[str, dict[str, str]] = {
    "float": {"psnr": METRIC_DEFINITIONS["psnr"], "ssim": METRIC_DEFINITIONS["ssim"]},
    "skimage_uint8": {
        "psnr": "PSNR in dB on uint8 images: clip to [0, 1], *255, truncate (astype uint8), skimage "
        "peak_signal_noise_ratio with data range 255, RGB (not Y), no crop; Lamba & Mitra's run_test; averaged over "
        "images.",
        "ssim": "SSIM on uint8 images (truncated as for PSNR), skimage structural_similarity with channel_axis=-1: "
        "7x7 uniform window, sample covariance, K1 0.01, K2 0.03, data range 255, mean over the RGB channels, no "
        "crop; Lamba & Mitra's run_test; averaged over images.",
    },
}
# task.uqi -> the UQI the trials report as val/uqi
UQI: dict[str, str] = {
    "box8": METRIC_DEFINITIONS["uqi"],
    "gaussian11": "Universal quality index, torchmetrics' definition before its eps as the DL4H reproduction patched "
    "it: 11x11 Gaussian window sigma 1.5 over reflect-padded images, no guard in the denominator, the padded border "
    "cropped off, values clamped to [-1, 1], NaN windows (0/0) left out of each image's mean; images in [0, 1], "
    "channels as given.",
}
FSIMC = ("FSIMc (Zhang et al. 2011) by piq 0.8.0 fsim(chromatic=True, data_range=1): YIQ, phase congruency and "
         "gradient similarity with FeatureSIM.m's constants, images average-pooled by round(min(H, W)/256); RGB in "
         "[0, 1]; averaged over images.")


def metric_definitions(config: Mapping | None = None) -> dict[str, str]:
    """The definitions of the metrics the trials of ``config`` (a plain config dict) report, by metric name.

    Without a config, or for options it does not set, the defaults: PSNR/SSIM on float images in [0, 1], UQI with the
    8×8 box window and Wang's special cases.
    """
    task = (config or {}).get("task", {}) or {}
    convention = task.get("metric_convention", "float")
    definitions = {**METRIC_DEFINITIONS, **PSNR_SSIM.get(convention, PSNR_SSIM["float"])}
    definitions["uqi"] = UQI.get(task.get("uqi", "box8"), UQI["box8"])
    definitions["fsimc"] = FSIMC
    definitions["psnr_ssim_convention"] = convention
    return definitions
