"""Figure helpers with known answers: the Pareto front, the varied parameters, axis choice, image crops."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import figures, images


def test_pareto_front_keeps_points_nothing_beats_on_cost_and_quality():
    cost = np.array([1.0, 2.0, 3.0, 4.0, 2.5])
    psnr = np.array([20.0, 25.0, 24.0, 30.0, 26.0])
    assert figures.pareto_front(cost, psnr, lower_quality_better=False).tolist() == [0, 1, 4, 3]
    gcmse = np.array([5.0, 4.0, 6.0, 1.0, 4.5])  # lower is better
    assert figures.pareto_front(cost, gcmse, lower_quality_better=True).tolist() == [0, 1, 3]


def test_varied_columns_leave_out_the_seed_and_constants():
    frame = pd.DataFrame({"config/optim.lr": [1e-3, 1e-4], "config/train.seed": [0, 1], "config/loss.l1": [1, 1],
                          "config/optim.milestones": ["[0.5]", "[]"]})
    assert figures.varied_columns(frame) == ["config/optim.lr", "config/optim.milestones"]


def test_axis_values_log_for_several_decades():
    assert figures.axis_values(pd.Series([1e-7, 1e-3]))[1:] == (True, True)
    assert figures.axis_values(pd.Series([0.2, 0.8]))[1:] == (True, False)
    assert figures.axis_values(pd.Series(["[0.5]", "[]"]))[1:] == (False, False)


def test_crop_is_the_centre_of_the_first_image_of_the_row():
    row = np.zeros((64, 128, 3), dtype=np.uint8)  # two 64×64 validation images side by side
    row[:, :64] = 10
    row[:, 64:] = 200
    out = images.crop(row, size=32)
    assert out.shape == (32, 32, 3) and (out == 10).all()
    assert images.crop(row, size=128).shape == (64, 64, 3)
    assert images.to_data_uri(out).startswith("data:image/png;base64,")
