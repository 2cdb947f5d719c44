"""Image grids for TensorBoard, encoded fast.

``SummaryWriter.add_image`` encodes its PNG with Pillow's default compression, about 160 ms for a row of four
256×256 RGB images; OpenCV at compression level 1 takes about 20 ms for a file about a fifth larger. A trial writes
three such rows at every evaluation, so the encoder is a visible part of a short trial's fixed cost
(``benchmarks/trial_cost.py``). The summary written is the one ``add_image`` writes: TensorBoard reads both alike.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

PNG_COMPRESSION = 1  # zlib level: 1 is the fastest that still compresses (0 stores the pixels raw)


def image_row(images: torch.Tensor) -> np.ndarray:
    """``(N, C, H, W)`` images in [0, 1] side by side, as one ``(H, N·W, C)`` uint8 array (C is 1 or 3)."""
    row = torch.cat(list(images.detach().float().clamp(0, 1).cpu()), dim=-1)  # (C, H, N·W)
    return (row.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)


def image_summary(tag: str, image: np.ndarray):
    """The TensorBoard summary of one ``(H, W, C)`` uint8 image, C being 1 (gray) or 3 (RGB)."""
    from tensorboard.compat.proto.summary_pb2 import Summary  # deferred: TensorBoard, only where a trial logs

    height, width, channels = image.shape
    bgr = image[..., ::-1] if channels == 3 else image  # OpenCV writes its arrays as BGR
    ok, png = cv2.imencode(".png", np.ascontiguousarray(bgr), [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise ValueError(f"cannot encode the image '{tag}' of shape {image.shape} as PNG")
    encoded = Summary.Image(height=height, width=width, colorspace=channels, encoded_image_string=png.tobytes())
    return Summary(value=[Summary.Value(tag=tag, image=encoded)])


def add_image_row(writer, tag: str, images: torch.Tensor, step: int) -> None:
    """Writes ``images`` (``(N, C, H, W)`` in [0, 1]) side by side as one image of ``writer`` at ``step``."""
    writer._get_file_writer().add_summary(image_summary(tag, image_row(images)), step)
