"""Figure helpers with known answers: the Pareto front, the varied parameters, axis choice, image crops."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import figures, images, pareto


def test_pareto_front_keeps_points_nothing_beats_on_cost_and_quality():
    cost = np.array([1.0, 2.0, 3.0, 4.0, 2.5])
    psnr = np.array([20.0, 25.0, 24.0, 30.0, 26.0])
    assert pareto.pareto_front(cost, psnr, lower_quality_better=False).tolist() == [0, 1, 4, 3]
    gcmse = np.array([5.0, 4.0, 6.0, 1.0, 4.5])  # lower is better
    assert pareto.pareto_front(cost, gcmse, lower_quality_better=True).tolist() == [0, 1, 3]


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


def test_difference_view_and_one_to_one_size_of_the_image_grid():
    target = np.full((40, 40, 3), 100, dtype=np.uint8)
    output = target.copy()
    output[0, 0] = (110, 100, 90)  # |diff| per channel 10, 0, 10: mean 20/3, times 4 = 26.7 -> 27
    output[1, 1] = (0, 0, 0)  # 100 per channel, times 4 = 400: clipped to 255
    gap = images.difference(output, target)
    assert gap.shape == (40, 40, 3) and gap[0, 0].tolist() == [27, 27, 27] and gap[1, 1].tolist() == [255] * 3
    assert int(gap.sum()) == 3 * (27 + 255)  # zero elsewhere
    tiles = [("input (degraded)", output), ("a (seed 0, step 5)", output), ("target", target)]
    fig = images.image_grid(tiles)
    assert [t.name for t in fig.data] == ["image"] * 3 + ["difference"] * 3
    assert [t.visible for t in fig.data] == [None] * 3 + [False] * 3  # the images first, the differences hidden
    view, size = fig.layout.updatemenus
    assert [b.label for b in view.buttons] == ["images", "|image − target| ×4"]
    assert view.buttons[1].args[0]["visible"] == [False] * 3 + [True] * 3
    assert [b.label for b in size.buttons] == ["fit", "1:1", "2:1"]
    for scale, button in ((1, size.buttons[1]), (2, size.buttons[2])):
        width, height = button.args[0]["width"], button.args[0]["height"]
        plot_w = width - fig.layout.margin.l - fig.layout.margin.r
        plot_h = height - fig.layout.margin.t - fig.layout.margin.b
        # each subplot's area is the crop's height in screen pixels, times the scale (within rounding), and at least
        # as wide; the figure is never narrower than its buttons need
        for axis in ("xaxis", "xaxis2", "xaxis3"):
            domain = fig.layout[axis].domain
            assert (domain[1] - domain[0]) * plot_w >= 40 * scale - 1
        domain = fig.layout.yaxis.domain
        assert (domain[1] - domain[0]) * plot_h == pytest.approx(40 * scale, abs=1)
        assert width == images.MIN_WIDTH  # three 80-px tiles fit in it
    assert fig.layout.margin.autoexpand is False  # plotly would otherwise grow the margins around the buttons
    # without a target there is nothing to subtract: only the images button
    alone = images.image_grid(tiles[:2])
    assert [t.name for t in alone.data] == ["image"] * 2 and len(alone.layout.updatemenus[0].buttons) == 1


def cost_table(macs, params, latency) -> pd.DataFrame:
    return pd.DataFrame({"kind": "configuration", "rank": [1, 2, 3], "label": ["a", "b", "c"],
                         "test/psnr/mean": [30.0, 29.0, 28.0], "test/psnr/ci": np.nan, "test/psnr/n": 1,
                         "cost/macs": macs, "cost/params": params, "cost/latency_ms": latency})


def test_the_pareto_front_is_drawn_only_where_costs_differ_beyond_their_measurements():
    # MACs are counted, not measured: a front on them is always drawn
    fig = pareto.quality_vs_cost(cost_table([3e9, 1e9, 2e9], [9, 3, 6], [3.0, 1.0, 2.0]), "test/psnr", "max")
    assert [t.name for t in fig.data] == ["configurations", "Pareto front"] and list(fig.data[1].x) == [1e9, 3e9]
    # one network (same MACs and parameters): latency differences are noise
    same = pareto.quality_vs_cost(cost_table([1e9] * 3, [5] * 3, [69.0, 148.0, 90.0]), "test/psnr", "max")
    assert [t.name for t in same.data] == ["configurations"] and "same network" in same.layout.title.text
    # same MACs, other parameters: a front on latency only where the configurations are further apart than each
    # one's trials spread (two trials each, here 10 ms apart)
    trials = pd.DataFrame({"label": ["a", "a", "b", "b", "c", "c"],
                           "cost/latency_ms": [20.0, 30.0, 40.0, 50.0, 60.0, 70.0]})
    apart = pareto.quality_vs_cost(cost_table([1e9] * 3, [5, 6, 7], [25.0, 45.0, 65.0]), "test/psnr", "max", trials)
    assert [t.name for t in apart.data] == ["configurations", "Pareto front"] and apart.layout.xaxis.title.text == (
        "latency (ms)")
    trials["cost/latency_ms"] = [20.0, 50.0, 30.0, 60.0, 40.0, 70.0]  # 30 ms of spread, 10 ms between them
    close = pareto.quality_vs_cost(cost_table([1e9] * 3, [5, 6, 7], [35.0, 45.0, 55.0]), "test/psnr", "max", trials)
    assert [t.name for t in close.data] == ["configurations"] and "closer together" in close.layout.title.text
