"""Synthetic smoke: deterministic per seed, in range, visibly hazing the image, alpha consistent with the output."""

import numpy as np
import pytest

from restore_core.data.smoke import add_smoke, fractal_noise


@pytest.fixture
def clean():
    # A colourful gradient with texture, dark enough that white smoke shows.
    rows, cols = np.mgrid[0:48, 0:64].astype(np.float32)
    texture = np.random.default_rng(0).random((48, 64), dtype=np.float32)
    return np.stack([rows / 47 * 0.6, cols / 63 * 0.5, 0.3 * texture], axis=2).astype(np.float32)


def test_same_seed_same_smoke_and_generator_equals_int_seed(clean):
    first, alpha_first = add_smoke(clean, 7)
    second, alpha_second = add_smoke(clean, np.random.default_rng(7))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(alpha_first, alpha_second)


def test_different_seeds_differ(clean):
    first, alpha_first = add_smoke(clean, 1)
    second, alpha_second = add_smoke(clean, 2)
    assert np.abs(alpha_first - alpha_second).mean() > 0.05
    assert np.abs(first - second).mean() > 0.01


def test_output_range_shape_and_dtype(clean):
    smoky, alpha = add_smoke(clean, 3)
    assert smoky.shape == clean.shape and smoky.dtype == np.float32
    assert alpha.shape == clean.shape[:2] and alpha.dtype == np.float32
    assert smoky.min() >= 0 and smoky.max() <= 1
    assert alpha.min() >= 0 and alpha.max() <= 0.85 + 1e-6  # the strength range caps the opacity


@pytest.mark.parametrize("seed", range(5))
def test_smoke_brightens_and_changes_the_image_measurably(clean, seed):
    smoky, alpha = add_smoke(clean, seed)
    psnr = 10 * np.log10(1 / np.mean((smoky - clean) ** 2))
    assert psnr < 25  # a visible degradation, not a rounding error
    assert smoky.mean() > clean.mean() + 0.05  # white/grey smoke over a dark image
    assert alpha.max() >= 0.4  # at least the lowest strength is reached somewhere


def test_alpha_is_the_compositing_weight(clean):
    smoky, alpha = add_smoke(clean, 5)
    clear = alpha == 0
    assert clear.any()  # part of the frame stays clear for most draws, and this one
    np.testing.assert_array_equal(smoky[clear], clean[clear])
    # Where smoke is, out = clean·(1 − α) + colour·α, so the colour recovered per pixel is one constant per channel.
    dense = alpha > 0.3
    colour = (smoky[dense] - clean[dense] * (1 - alpha[dense, None])) / alpha[dense, None]
    np.testing.assert_allclose(colour, np.broadcast_to(colour.mean(axis=0), colour.shape), atol=1e-4)
    assert np.all(colour.mean(axis=0) > 0.7) and np.ptp(colour.mean(axis=0)) < 0.1  # near-white, slightly tinted


def test_gray_images_keep_their_shape(clean):
    gray = clean.mean(axis=2)
    smoky, alpha = add_smoke(gray, 0)
    assert smoky.shape == gray.shape and alpha.shape == gray.shape


def test_fractal_noise_is_smooth_and_spans_the_unit_range():
    noise = fractal_noise((64, 96), 0)
    assert noise.min() == 0 and noise.max() == 1
    white = np.random.default_rng(0).random((64, 96))
    # Neighbouring pixels differ far less than in white noise of the same range.
    assert np.abs(np.diff(noise, axis=1)).mean() < 0.2 * np.abs(np.diff(white, axis=1)).mean()
