"""restore_core.tb_log: a trial's evaluations written to TensorBoard by a thread of their own, in order, readable
once the log is closed; the model's cost and the step are not curves; a write that fails is raised in the trial;
closing leaves no thread behind."""

from __future__ import annotations

import io
import re
import threading

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from restore_core.tb_images import image_row
from restore_core.tb_log import TensorBoardLog


def log_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("tensorboard-log")]


def test_every_evaluation_is_written_in_order_and_the_thread_ends_with_the_log(tmp_path):
    generator = torch.Generator().manual_seed(0)
    outputs = [torch.rand(2, 3, 8, 8, generator=generator) for _ in range(4)]
    log = TensorBoardLog(str(tmp_path))
    for number, output in enumerate(outputs):
        step = 2 * (number + 1)
        log.log(step, {"step": step, "val/psnr": 20.0 + number, "train/loss": 1.0 / step, "cost/params": 7.8e6,
                       "stop_reason": "running", "nan_seen": False},
                {"output": output, "target": None, "empty": output[:0]})
    assert len(log_threads()) == 1  # one thread writes them all
    log.close()
    assert log_threads() == []
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert sorted(events.Tags()["scalars"]) == ["train/loss", "val/psnr"]  # not the step, the cost or a flag
    assert [(s.step, s.value) for s in events.Scalars("val/psnr")] == [(2, 20.0), (4, 21.0), (6, 22.0), (8, 23.0)]
    assert events.Tags()["images"] == ["images/output"]  # no row for a missing or empty batch
    logged = events.Images("images/output")
    assert [image.step for image in logged] == [2, 4, 6, 8]
    for image, output in zip(logged, outputs):  # each row the images of its own evaluation
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(image.encoded_image_string))),
                                      image_row(output))


def test_a_write_that_fails_is_raised_in_the_trial_and_the_log_still_closes(tmp_path):
    log = TensorBoardLog(str(tmp_path))
    log.log(2, {"val/psnr": 20.0}, {"output": torch.rand(1, 2, 8, 8)})  # two channels: no PNG holds them
    with pytest.raises(cv2.error, match=re.escape("channels == 1 || channels == 3")):
        log.close()
    assert log_threads() == []
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [s.value for s in events.Scalars("val/psnr")] == [20.0]  # what came before the failed row is written
