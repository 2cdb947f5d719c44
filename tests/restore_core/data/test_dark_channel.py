"""The dark channel: per-pixel minimum, and He et al.'s 15×15 minimum filter, checked against hand computations."""

import numpy as np
import pytest

from restore_core.data.dark_channel import dark_channel
from restore_core.errors import UnknownNameError


def test_min_mode_is_the_per_pixel_channel_minimum():
    rgb = np.array(
        [[[0.2, 0.5, 0.9], [1.0, 0.0, 0.3]], [[0.7, 0.6, 0.65], [0.25, 0.25, 0.8]]],
        dtype=np.float32,
    )
    dark = dark_channel(rgb, "min")
    assert dark.dtype == np.float32 and dark.shape == (2, 2)
    np.testing.assert_array_equal(dark, np.array([[0.2, 0.0], [0.6, 0.25]], dtype=np.float32))


def test_patch15_spreads_an_isolated_dark_pixel_over_its_15x15_neighbourhood():
    rgb = np.full((40, 50, 3), 0.8, dtype=np.float32)
    rgb[20, 30, 1] = 0.1  # one dark green value
    dark = dark_channel(rgb, "patch15")
    rows, cols = np.nonzero(dark < 0.5)
    # The window reaches 7 pixels on each side: rows 13..27, columns 23..37, nothing else.
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (13, 27, 23, 37)
    assert len(rows) == 15 * 15
    assert (
        dark[13, 23] == pytest.approx(0.1) and dark[12, 30] == pytest.approx(0.8) and dark[20, 38] == pytest.approx(0.8)
    )


@pytest.mark.parametrize("row, col", [(0, 0), (5, 60), (31, 32), (63, 71), (40, 3)])
def test_patch15_equals_the_neighbourhood_minimum(row, col):
    rgb = np.random.default_rng(3).random((64, 72, 3), dtype=np.float32)
    per_pixel = rgb.min(axis=2)
    # At the border the window is cut to the image, as cv2.erode's default border leaves it.
    expected = per_pixel[max(row - 7, 0) : row + 8, max(col - 7, 0) : col + 8].min()
    assert dark_channel(rgb, "patch15")[row, col] == expected


def test_patch15_is_never_above_the_per_pixel_minimum():
    rgb = np.random.default_rng(4).random((32, 32, 3), dtype=np.float32)
    assert np.all(dark_channel(rgb, "patch15") <= dark_channel(rgb, "min"))


def test_unknown_mode_lists_the_known_ones():
    with pytest.raises(UnknownNameError, match="known: min, patch15"):
        dark_channel(np.zeros((4, 4, 3), np.float32), "patch7")


def test_rejects_a_gray_image():
    with pytest.raises(ValueError, match="H×W×3"):
        dark_channel(np.zeros((4, 4), np.float32), "min")
