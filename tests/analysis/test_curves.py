"""Learning curves per configuration: the mean over seeds, the seeds' spread as a band, the top k highlighted."""

import math

import pandas as pd
import pytest

from analysis.curves import FADED, curve_bands, learning_curves


def curves_frame() -> pd.DataFrame:
    # a: seeds 0 and 1 at steps 10 and 20, plus a repeat of seed 0 at step 20 (averaged first: 4 and 6 -> 5);
    # b: one seed; c: two seeds, one of which diverged at step 20
    rows = [("t0", "a", 0, 10, 1.0, 0.9), ("t0", "a", 0, 20, 4.0, 0.5), ("t2", "a", 0, 20, 6.0, 0.5),
            ("t1", "a", 1, 10, 3.0, 0.7), ("t1", "a", 1, 20, 9.0, 0.3),
            ("t3", "b", 0, 10, 2.0, 0.8), ("t3", "b", 0, 20, 2.5, 0.6),
            ("t4", "c", 0, 10, 0.5, 1.0), ("t4", "c", 0, 20, 0.7, 0.9),
            ("t5", "c", 1, 10, 0.9, 1.1), ("t5", "c", 1, 20, math.nan, math.inf)]
    return pd.DataFrame(rows, columns=["trial_id", "label", "seed", "step", "val/psnr", "train/loss"])


def test_bands_average_a_repeated_seed_first_and_leave_out_non_finite_values():
    bands = curve_bands(curves_frame(), "val/psnr").set_index(["label", "step"])
    assert bands.loc[("a", 10), "mean"] == pytest.approx(2.0) and bands.loc[("a", 10), "n"] == 2
    assert bands.loc[("a", 10), "std"] == pytest.approx(math.sqrt(2))  # sample sd of 1 and 3
    assert bands.loc[("a", 20), "mean"] == pytest.approx(7.0) and bands.loc[("a", 20), "n"] == 2  # seeds: 5, 9
    assert bands.loc[("a", 20), "std"] == pytest.approx(math.sqrt(8))
    assert bands.loc[("b", 20), "n"] == 1 and math.isnan(bands.loc[("b", 20), "std"])
    assert bands.loc[("c", 20), "n"] == 1 and bands.loc[("c", 20), "mean"] == pytest.approx(0.7)  # NaN left out
    assert curve_bands(curves_frame(), "val/ssim").empty


def test_figure_draws_means_bands_and_highlights_the_top_k():
    fig = learning_curves(curves_frame(), "val/psnr", "max", top=["b", "a", "c"], top_k=2)
    assert fig.layout.annotations[0].text == "val/psnr (dB) ↑" and fig.layout.annotations[1].text == "train/loss ↓"
    means = [t for t in fig.data if t.mode == "lines+markers" and t.xaxis == "x"]
    assert [t.name for t in means] == ["#1 b", "#2 a", "c"]  # the leaders first, in rank order
    assert [t.opacity for t in means] == [1.0, 1.0, FADED] and [t.line.width for t in means] == [3, 3, 1.5]
    assert list(means[1].y) == pytest.approx([2.0, 7.0]) and list(means[1].x) == [10, 20]
    assert len({t.line.color for t in means}) == 3 and all(t.showlegend for t in means)
    bands = {t.name: t for t in fig.data if t.fill == "toself" and t.xaxis == "x"}
    # b has one seed: no band; c has two seeds at step 10 only; a's band is mean ± sd at both steps, then back
    assert set(bands) == {"#2 a ± sd", "c ± sd"}
    assert list(bands["#2 a ± sd"].x) == [10, 20, 20, 10]
    root2, root8 = math.sqrt(2), math.sqrt(8)
    assert list(bands["#2 a ± sd"].y) == pytest.approx([2 + root2, 7 + root8, 7 - root8, 2 - root2])
    assert list(bands["c ± sd"].x) == [10, 10]
    assert not any(t.showlegend for t in fig.data if t.xaxis == "x2")  # one legend entry per configuration
    assert fig.layout.legend.orientation == "h" and fig.layout.height > 420  # grows under the plot, never scrolls


def test_without_ranked_rows_none_is_highlighted_nor_faded():
    fig = learning_curves(curves_frame(), "val/psnr")
    means = [t for t in fig.data if t.mode == "lines+markers" and t.xaxis == "x"]
    assert [t.name for t in means] == ["a", "b", "c"] and {t.opacity for t in means} == {1.0}
    assert {t.line.width for t in means} == {1.5}
    assert learning_curves(curves_frame(), "val/f1") is None
