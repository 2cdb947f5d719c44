import numpy as np
import pytest
import torch

from restore_core.metrics import uqi


def _reference_uqi(x: np.ndarray, y: np.ndarray, window: int = 8) -> float:
    """Direct float64 UQI of two (H, W) arrays: every valid window, centred variances, no special cases needed."""
    qs = []
    for i in range(x.shape[0] - window + 1):
        for j in range(x.shape[1] - window + 1):
            a = x[i : i + window, j : j + window]
            b = y[i : i + window, j : j + window]
            ma, mb = a.mean(), b.mean()
            va, vb = ((a - ma) ** 2).mean(), ((b - mb) ** 2).mean()
            cov = ((a - ma) * (b - mb)).mean()
            qs.append(4 * cov * ma * mb / ((va + vb) * (ma * ma + mb * mb)))
    return float(np.mean(qs))


def test_matches_direct_float64_reference_on_random_pair():
    rng = np.random.default_rng(0)
    x = rng.random((13, 15))
    y = np.clip(x + 0.2 * rng.standard_normal(x.shape), 0, 1)
    value = uqi(torch.from_numpy(y)[None, None], torch.from_numpy(x)[None, None])
    assert value.dtype == torch.float64 and value.shape == (1,)
    assert value.item() == pytest.approx(_reference_uqi(y, x), abs=1e-12)


def test_averages_channels_and_is_per_image():
    rng = np.random.default_rng(1)
    x = rng.random((2, 3, 10, 10))
    y = rng.random((2, 3, 10, 10))
    value = uqi(torch.from_numpy(x), torch.from_numpy(y))
    expected = [np.mean([_reference_uqi(x[n, c], y[n, c]) for c in range(3)]) for n in range(2)]
    np.testing.assert_allclose(value.numpy(), expected, atol=1e-12)


# Non-dyadic levels leave E[x²] − μ² at ~1e-16 instead of 0: the flat-window tolerance must catch it.
@pytest.mark.parametrize("level", [0.0, 0.5, 1.0, 0.7, 0.123456789])
def test_identical_constant_images_score_one(level):
    image = torch.full((1, 3, 16, 16), level)
    assert uqi(image, image).item() == 1.0


def test_identical_random_images_score_one():
    image = torch.rand(2, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(uqi(image, image), torch.ones(2, dtype=torch.float64), atol=1e-12, rtol=0)


def test_flat_windows_with_different_means_use_wang_case():
    a, b = 0.2, 0.6
    value = uqi(torch.full((1, 1, 8, 8), a, dtype=torch.float64), torch.full((1, 1, 8, 8), b, dtype=torch.float64))
    assert value.item() == pytest.approx(2 * a * b / (a * a + b * b), abs=1e-12)


def test_black_against_flat_grey_is_zero():
    # One mean is 0, the other not: 2·0·m / m² = 0.
    value = uqi(torch.zeros(1, 1, 8, 8), torch.full((1, 1, 8, 8), 0.5))
    assert value.item() == 0.0


def test_black_and_flat_windows_next_to_texture_stay_finite_and_in_range():
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(4, 3, 24, 24, generator=generator)
    target[:, :, :12] = 0.0  # black band: both windows black where the prediction is black too
    target[:, :, :, :12] = 0.7  # flat band
    pred = target.clone()
    pred[1] = torch.rand(3, 24, 24, generator=generator)
    pred[2] = 0.0
    pred[3] = 1.0 - target[3]
    value = uqi(pred, target)
    assert torch.isfinite(value).all()
    assert torch.all(value >= -1) and torch.all(value <= 1)
    assert value[0].item() == pytest.approx(1.0, abs=1e-12)
    assert value[1].item() < 0.5


def test_inverted_texture_approaches_minus_one():
    # Q = -1 needs y = -x around equal means, e.g. y = 1 - x around 0.5 with small contrast.
    x = 0.5 + 0.01 * torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    value = uqi(x, 1.0 - x).item()
    assert -1.0 <= value < -0.99


def test_float32_input_and_tiny_image_rejected():
    image = torch.rand(1, 1, 8, 8)
    assert uqi(image.float(), image.float()).item() == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="at least 8x8"):
        uqi(torch.zeros(1, 1, 7, 8), torch.zeros(1, 1, 7, 8))
