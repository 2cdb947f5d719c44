"""TensorBoard image grids encoded by restore_core.tb_images: the pixels TensorBoard reads back are the row's, in RGB
order, gray stays gray, and they match what ``SummaryWriter.add_image`` would have written to within rounding."""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import image as torch_image

from restore_core.tb_images import add_image_row, image_row


def decoded(encoded: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(encoded)))


def test_a_written_row_reads_back_pixel_for_pixel_in_rgb_order(tmp_path):
    generator = torch.Generator().manual_seed(0)
    rgb = torch.rand(3, 3, 16, 24, generator=generator)
    rgb[0, 0] = 1.0  # the first image pure red: a BGR mix-up would read back blue
    rgb[0, 1:] = 0.0
    gray = torch.rand(2, 1, 8, 8, generator=generator)
    with SummaryWriter(str(tmp_path)) as writer:
        add_image_row(writer, "images/rgb", rgb, 3)
        add_image_row(writer, "images/gray", gray, 3)
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0})
    events.Reload()
    (logged,) = events.Images("images/rgb")
    assert (logged.step, logged.width, logged.height) == (3, 72, 16)
    pixels = decoded(logged.encoded_image_string)
    assert pixels.shape == (16, 72, 3)
    np.testing.assert_array_equal(pixels, image_row(rgb))
    assert (pixels[:, :24] == [255, 0, 0]).all()
    (logged,) = events.Images("images/gray")
    assert decoded(logged.encoded_image_string).shape == (8, 16)  # one channel
    np.testing.assert_array_equal(decoded(logged.encoded_image_string), image_row(gray)[..., 0])


def test_the_row_matches_what_add_image_encodes_to_within_rounding():
    images = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    row = torch.cat(list(images), dim=-1)
    theirs = decoded(torch_image("x", row, dataformats="CHW").value[0].image.encoded_image_string)
    difference = np.abs(image_row(images).astype(int) - theirs.astype(int))
    assert difference.max() == 1 and difference.mean() < 0.6  # add_image truncates, the row rounds
