"""The seed studies' metric conventions as options: torchmetrics' Gaussian UQI as the DL4H reproduction patched it,
Lamba's PSNR/SSIM on truncated uint8 images with scikit-image, and the definitions a run's manifest records."""

import numpy as np
import pytest
import torch
from skimage import data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchmetrics.functional.image import universal_image_quality_index

from restore_core.metrics import metric_definitions, psnr_uint8, ssim_uint8, uqi, uqi_gaussian
from restore_core.metrics.skimage_uint8 import to_uint8


def photo(name="astronaut", size=128):
    return torch.from_numpy(getattr(data, name)()[:size, :size] / 255.0).float().permute(2, 0, 1)[None]


def test_gaussian_uqi_matches_torchmetrics_where_no_window_is_flat():
    x = photo()
    y = (x + 0.05 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    ours = uqi_gaussian(y, x)
    # torchmetrics pads by reflection and crops the padded border off its map as the reproduction's copy did; it
    # has since added an eps (and clamps variances), which changes nothing where no window is flat
    full = universal_image_quality_index(y.double(), x.double(), reduction="none")
    assert full.shape == (1, 3, 128 - 10, 128 - 10)
    expected = full.clamp(-1, 1).mean()
    assert ours.item() == pytest.approx(expected.item(), abs=1e-5)
    assert uqi_gaussian(x, x).item() == pytest.approx(1.0, abs=1e-5)
    assert abs(ours.item() - uqi(y, x).item()) > 1e-3  # another window, another number


def test_gaussian_uqi_drops_the_undefined_windows_and_clamps():
    x = photo()
    x[..., :40, :40] = 0  # a black corner: 0/0 in both images
    y = x.clone()
    y[..., 60:, 60:] = 0.5  # a flat block against texture: a finite value there
    value = uqi_gaussian(y, x).item()
    assert np.isfinite(value) and -1 <= value <= 1
    black = torch.zeros(1, 3, 32, 32)
    assert torch.isnan(uqi_gaussian(black, black)).all()  # every window undefined: nothing left to average
    assert uqi(black, black).item() == 1.0  # Wang's special case defines it


def test_uint8_convention_truncates_and_uses_skimage():
    x = torch.full((1, 3, 16, 16), 0.999)
    assert to_uint8(x).max() == 254  # (0.999 · 255).astype(uint8), truncated as Lamba's run_test, not rounded
    target = photo("coffee")
    pred = (target + 0.03 * torch.randn(target.shape, generator=torch.Generator().manual_seed(2))).clamp(0, 1)
    a, b = to_uint8(pred)[0], to_uint8(target)[0]
    assert psnr_uint8(pred, target).item() == pytest.approx(peak_signal_noise_ratio(b, a))
    assert ssim_uint8(pred, target).item() == pytest.approx(structural_similarity(b, a, channel_axis=-1))
    float_psnr = 10 * torch.log10(1 / (pred - target).pow(2).mean()).item()
    assert abs(psnr_uint8(pred, target).item() - float_psnr) > 0.005  # quantisation moves it
    assert psnr_uint8(target, target).item() == float("inf")


def test_definitions_follow_the_config():
    default = metric_definitions({"task": {"name": "lowlight"}})
    assert default["psnr_ssim_convention"] == "float" and "data range 1.0" in default["psnr"]
    assert "8x8 box window" in default["uqi"] and "piq 0.8.0" in default["fsimc"]
    lamba = metric_definitions({"task": {"name": "lowlight", "metric_convention": "skimage_uint8"}})
    assert "uint8" in lamba["psnr"] and "7x7 uniform window" in lamba["ssim"]
    dl4h = metric_definitions({"task": {"name": "desmoke", "uqi": "gaussian11"}})
    assert "11x11 Gaussian" in dl4h["uqi"] and "nan" in dl4h["uqi"].lower()
