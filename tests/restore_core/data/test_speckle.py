"""OCT-like noise: deterministic per seed, unit-mean multiplicative speckle, additive Gaussian, clipped."""

import numpy as np
import pytest

from restore_core.data.speckle import add_oct_noise


@pytest.fixture
def gray():
    rows, cols = np.mgrid[0:64, 0:80].astype(np.float32)
    return (0.2 + 0.5 * (rows / 63) * (cols / 79)).astype(np.float32)


def test_same_seed_same_noise(gray):
    np.testing.assert_array_equal(add_oct_noise(gray, 11), add_oct_noise(gray, np.random.default_rng(11)))


def test_different_seeds_differ(gray):
    assert np.abs(add_oct_noise(gray, 1) - add_oct_noise(gray, 2)).mean() > 0.05


def test_range_shape_dtype_and_measurable_damage(gray):
    noisy = add_oct_noise(gray, 0)
    assert noisy.shape == gray.shape and noisy.dtype == np.float32
    assert noisy.min() >= 0 and noisy.max() <= 1
    psnr = 10 * np.log10(1 / np.mean((noisy - gray) ** 2))
    assert 15 < psnr < 25  # the defaults aim at the noisy OCT level (~18 dB)


def test_speckle_alone_is_multiplicative_with_unit_mean_and_the_requested_spread():
    flat = np.full((200, 200), 0.4, np.float32)
    noisy = add_oct_noise(flat, 0, speckle=0.3, gaussian=0.0)
    ratio = noisy / flat
    assert ratio.mean() == pytest.approx(1.0, abs=0.01)
    assert ratio.std() == pytest.approx(0.3, abs=0.01)
    # Multiplicative: a black image stays black.
    assert add_oct_noise(np.zeros((8, 8), np.float32), 0, speckle=0.5, gaussian=0.0).max() == 0


def test_gaussian_alone_is_additive_with_the_requested_spread():
    flat = np.full((200, 200), 0.5, np.float32)
    residual = add_oct_noise(flat, 0, speckle=0.0, gaussian=0.05) - flat
    assert residual.mean() == pytest.approx(0.0, abs=0.002)
    assert residual.std() == pytest.approx(0.05, abs=0.002)


def test_gaussian_part_does_not_depend_on_the_speckle_level():
    zero = np.zeros((16, 16), np.float32)  # speckle multiplies zero, so only the Gaussian part is left
    half = np.full((16, 16), 0.5, np.float32)
    gaussian_only = add_oct_noise(half, 3, speckle=0.0, gaussian=0.05) - half
    np.testing.assert_array_equal(
        add_oct_noise(zero, 3, speckle=0.0, gaussian=0.05), add_oct_noise(zero, 3, speckle=0.4, gaussian=0.05)
    )
    np.testing.assert_allclose(
        add_oct_noise(zero, 3, speckle=0.0, gaussian=0.05), np.clip(gaussian_only, 0, 1), atol=1e-6
    )


def test_zero_levels_leave_the_image_unchanged(gray):
    np.testing.assert_array_equal(add_oct_noise(gray, 0, speckle=0.0, gaussian=0.0), gray)


def test_rejects_colour_images_and_negative_levels(gray):
    with pytest.raises(ValueError, match="grayscale"):
        add_oct_noise(np.zeros((4, 4, 3), np.float32), 0)
    with pytest.raises(ValueError, match=">= 0"):
        add_oct_noise(gray, 0, speckle=-0.1)
