"""Spill artefacts: deterministic per seed, bright, anti-aliased, and exactly where the mask says."""

import numpy as np
import pytest

from restore_core.data.spills import add_spills
from restore_core.errors import UnknownNameError


@pytest.fixture
def image():
    rng = np.random.default_rng(0)
    return (0.2 + 0.4 * rng.random((64, 96, 3), dtype=np.float32)).astype(np.float32)


def test_same_seed_same_spills(image):
    first, mask_first = add_spills(image, 4)
    second, mask_second = add_spills(image, np.random.default_rng(4))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(mask_first, mask_second)


def test_different_seeds_differ(image):
    masks = [add_spills(image, seed)[1] for seed in range(4)]
    for a in range(4):
        for b in range(a + 1, 4):
            assert not np.array_equal(masks[a], masks[b])


@pytest.mark.parametrize("seed", range(6))
def test_range_and_measurable_bright_change(image, seed):
    out, mask = add_spills(image, seed)
    assert out.shape == image.shape and out.dtype == np.float32 and mask.shape == image.shape[:2]
    assert out.min() >= 0 and out.max() <= 1 and mask.min() >= 0 and mask.max() <= 1
    inside = mask > 0.99
    assert inside.sum() >= 10  # at least one artefact of a few pixels
    assert out[inside].mean() >= 0.9  # white-ish
    assert out.mean() > image.mean() + 0.002


def test_mask_is_consistent_with_the_image(image):
    out, mask = add_spills(image, 9, n=5)
    untouched = mask == 0
    np.testing.assert_array_equal(out[untouched], image[untouched])
    assert np.all(np.any(out != image, axis=2)[mask > 0.05])  # every covered pixel changed
    # Full coverage gives the flat artefact colour; anti-aliased edges give fractional coverage.
    full = out[mask == 1]
    assert np.ptp(full) == 0
    edge = (mask > 0) & (mask < 1)
    assert edge.any()
    np.testing.assert_allclose(
        out[edge], image[edge] * (1 - mask[edge, None]) + full[0, 0] * mask[edge, None], atol=1e-6
    )


@pytest.mark.parametrize("kind", ["circle", "blob", "streak"])
def test_each_kind_draws_something(image, kind):
    _, mask = add_spills(image, 0, n=1, kinds=(kind,))
    assert (mask > 0.5).sum() > 5


def test_kinds_chooses_what_is_drawn(image):
    # the same seed and count: only the kind differs, so the masks differ only if it is honoured
    masks = {kind: add_spills(image, 0, n=1, kinds=(kind,))[1] for kind in ("circle", "blob", "streak")}
    for a, b in (("circle", "blob"), ("circle", "streak"), ("blob", "streak")):
        assert not np.array_equal(masks[a], masks[b]), (a, b)


def test_count_zero_and_gray_images(image):
    out, mask = add_spills(image, 0, n=0)
    np.testing.assert_array_equal(out, image)
    assert mask.max() == 0
    gray = image.mean(axis=2)
    out_gray, mask_gray = add_spills(gray, 0)
    assert out_gray.shape == gray.shape and mask_gray.max() == 1


def test_more_spills_cover_more(image):
    few = np.mean([add_spills(image, s, n=1)[1].mean() for s in range(8)])
    many = np.mean([add_spills(image, s, n=6)[1].mean() for s in range(8)])
    assert many > 2.5 * few


def test_unknown_kind_lists_the_known_ones(image):
    with pytest.raises(UnknownNameError, match="known: blob, circle, streak"):
        add_spills(image, 0, kinds=("square",))
