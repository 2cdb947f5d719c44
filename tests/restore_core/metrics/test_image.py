import math

import pytest
import torch

from restore_core.metrics import METRIC_DEFINITIONS, psnr, ssim


def test_psnr_of_constant_offset_is_20_db():
    target = torch.full((2, 3, 16, 16), 0.4)
    pred = target + 0.1  # MSE 0.01 -> 10*log10(1/0.01) = 20 dB
    value = psnr(pred, target)
    assert value.shape == (2,)
    torch.testing.assert_close(value, torch.full((2,), 20.0), atol=1e-4, rtol=0)


def test_psnr_is_per_image():
    target = torch.zeros(2, 1, 8, 8)
    pred = torch.stack([torch.full((1, 8, 8), 0.1), torch.full((1, 8, 8), 0.01)])  # MSE 1e-2 and 1e-4
    torch.testing.assert_close(psnr(pred, target), torch.tensor([20.0, 40.0]), atol=1e-3, rtol=0)


def test_psnr_of_identical_images_is_inf():
    image = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert math.isinf(psnr(image, image).item())


def test_ssim_is_one_for_identical_and_lower_for_noisy():
    generator = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 32, 32, generator=generator)
    noisy = (clean + 0.2 * torch.randn(clean.shape, generator=generator)).clamp(0, 1)
    same = ssim(clean, clean)
    assert same.shape == (2,)
    torch.testing.assert_close(same, torch.ones(2), atol=1e-5, rtol=0)
    worse = ssim(noisy, clean)
    assert torch.all(worse < 0.9) and torch.all(worse > -1)


def test_ssim_of_constant_images_with_different_means():
    # Flat windows: SSIM reduces to the luminance term (2ab + C1) / (a² + b² + C1), C1 = 0.01².
    a, b, c1 = 0.2, 0.4, 0.01**2
    value = ssim(torch.full((1, 1, 16, 16), a), torch.full((1, 1, 16, 16), b))
    assert value.item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), abs=1e-5)


def test_shape_mismatch_is_rejected():
    with pytest.raises(ValueError, match="same shape"):
        psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 8, 9))


def test_definitions_name_range_and_window():
    assert {"psnr", "ssim", "uqi", "epi", "gcmse"} <= set(METRIC_DEFINITIONS)
    assert "data range 1.0" in METRIC_DEFINITIONS["psnr"]
    assert "11x11 Gaussian window sigma 1.5" in METRIC_DEFINITIONS["ssim"]
    assert "8x8 box window" in METRIC_DEFINITIONS["uqi"]
