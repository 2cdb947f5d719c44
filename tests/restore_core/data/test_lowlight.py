import numpy as np
import torch

from restore_core.data.lowlight import (
    BLACK_LEVEL,
    WHITE_LEVEL,
    linear_to_srgb,
    mosaic_rggb,
    normalise_raw,
    pack_bayer,
    simulate_short_exposure,
    srgb_to_linear,
    unpack_bayer,
)
from restore_core.data.photos import COLOUR_PHOTOS, split_tiles


def test_pack_order_is_sids_and_round_trips():
    bayer = np.arange(16, dtype=np.float32).reshape(4, 4)
    packed = pack_bayer(bayer)
    assert packed.shape == (4, 2, 2)
    # channel order R (0,0), G (0,1), B (1,1), G (1,0) of each 2x2 cell
    assert packed[:, 0, 0].tolist() == [0, 1, 5, 4]
    assert np.array_equal(unpack_bayer(packed), bayer)
    tensor = torch.from_numpy(bayer).unsqueeze(0)
    assert torch.equal(unpack_bayer(pack_bayer(tensor)), tensor)


def test_mosaic_takes_rggb_from_the_right_channels():
    rgb = np.zeros((2, 2, 3), np.float32)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 0.1, 0.2, 0.3
    assert mosaic_rggb(rgb).tolist() == [[np.float32(0.1), np.float32(0.2)], [np.float32(0.2), np.float32(0.3)]]


def test_tone_and_gamma_invert():
    x = np.linspace(0, 1, 101, dtype=np.float32)
    assert np.abs(linear_to_srgb(srgb_to_linear(x)) - x).max() < 1e-5


def test_short_exposure_is_deterministic_in_range_and_darker_by_the_ratio():
    clean = split_tiles(COLOUR_PHOTOS, 64, {"train": 1})["train"][0]
    a = simulate_short_exposure(clean, np.random.default_rng(7), ratio=100)
    b = simulate_short_exposure(clean, np.random.default_rng(7), ratio=100)
    c = simulate_short_exposure(clean, np.random.default_rng(8), ratio=100)
    assert a.dtype == np.uint16 and np.array_equal(a, b) and not np.array_equal(a, c)
    assert a.min() >= 0 and a.max() <= WHITE_LEVEL
    assert abs(np.median(a) - BLACK_LEVEL) < 200  # a 1/100 exposure sits just above the black level
    linear_mean = mosaic_rggb(srgb_to_linear(clean)).mean()
    normalised = normalise_raw(a)
    assert 0 <= normalised.min() and normalised.max() <= 1
    # amplified by the ratio, the noisy exposure has the clean linear mean (noise is zero-mean up to clipping)
    assert abs(normalised.mean() * 100 - linear_mean) < 0.1 * linear_mean + 0.01


def test_splits_are_fixed_and_disjoint():
    first = split_tiles(COLOUR_PHOTOS, 128, {"train": 10, "val": 10})
    second = split_tiles(COLOUR_PHOTOS, 128, {"train": 10, "val": 10})
    assert len(first["train"]) == 10 and len(first["val"]) == 10
    for x, y in zip(first["train"] + first["val"], second["train"] + second["val"]):
        assert np.array_equal(x, y)
    train = {t.tobytes() for t in first["train"]}
    assert not any(v.tobytes() in train for v in first["val"])
