"""The tables' exact text for small frames with known numbers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis import tables
from analysis.format import fmt_count, fmt_estimate, latex_escape, to_latex, to_markdown
from search_spaces import Pair


def small_frame() -> pd.DataFrame:
    nan = math.nan
    rows = [("t0", "1e-3", 0, "completed", 30.0, 0.80), ("t1", "1e-3", 1, "completed", 30.2, 0.81),
            ("t2", "1e-3", 2, "stopped early", 30.4, 0.82), ("t3", "lr=0.5 | 50%", 0, "completed", 29.0, 0.70),
            ("t4", "lr=0.5 | 50%", 1, "nan", nan, nan)]
    frame = pd.DataFrame(rows, columns=["trial_id", "label", "seed", "status", "best/val/psnr", "best/val/ssim"])
    frame["cost/params"], frame["cost/macs"], frame["cost/latency_ms"] = 121816, 3129344, 0.9
    frame["last/baseline/bm3d/psnr"] = 27.0  # a classical baseline the task reports with every evaluation
    return frame


NOTE = ("mean ± 95 % CI half-width (t distribution) over seeds of each trial's best evaluation; n = seeds counted "
        "(trials of one seed averaged first; crashed and diverged trials are not counted); infeasible = error, NaN or "
        "collapsed trials.")

MAIN_MD = f"""\
| configuration | psnr | ssim | params | MACs | latency (ms) | infeasible | status |
|---|---|---|---|---|---|---|---|
| 1e-3 | 30.20 ± 0.50 (n=3) | 0.8100 ± 0.0248 (n=3) | 122 k | 3.13 M | 0.9000 | 0/3 | completed 2, stopped early 1 |
| lr=0.5 \\| 50% | 29.00 (n=1) | 0.7000 (n=1) | 122 k | 3.13 M | 0.9000 | 1/2 | completed 1, nan 1 |
| baseline: bm3d | 27.00 ± 0.00 (n=3) | — | — | — | — | — | — |

{NOTE}
baseline configuration: 1e-3
"""

MAIN_TEX = f"""\
\\begin{{tabular}}{{llllllll}}
\\toprule
configuration & psnr & ssim & params & MACs & latency (ms) & infeasible & status \\\\
\\midrule
1e-3 & 30.20 $\\pm$ 0.50 (n=3) & 0.8100 $\\pm$ 0.0248 (n=3) & 122 k & 3.13 M & 0.9000 & 0/3 & \
completed 2, stopped early 1 \\\\
lr=0.5 \\textbar{{}} 50\\% & 29.00 (n=1) & 0.7000 (n=1) & 122 k & 3.13 M & 0.9000 & 1/2 & completed 1, nan 1 \\\\
baseline: bm3d & 27.00 $\\pm$ 0.00 (n=3) & -- & -- & -- & -- & -- & -- \\\\
\\bottomrule
\\end{{tabular}}
% {NOTE}
% baseline configuration: 1e-3
"""


def test_cells():
    assert fmt_estimate(30.123, 0.081, 3) == "30.12 ± 0.08 (n=3)"
    assert fmt_estimate(30.123, math.nan, 1) == "30.12 (n=1)"
    assert fmt_estimate(0.80123, 0.0123, 5) == "0.8012 ± 0.0123 (n=5)"
    assert fmt_estimate(-0.0984, 2.3257, 3) == "-0.10 ± 2.33 (n=3)"  # the interval sets the precision
    assert fmt_estimate(math.nan, math.nan, 0) == "—"
    assert (fmt_count(7_760_748), fmt_count(562.06e9), fmt_count(512)) == ("7.76 M", "562 G", "512")
    assert latex_escape("1e-3→1e-4 @2.5% a_b ± −") == r"1e-3$\rightarrow$1e-4 @2.5\% a\_b $\pm$ $-$"


def test_main_table_markdown_latex_and_csv():
    text, numeric = tables.main_table(small_frame(), "val/psnr", "max", baseline="1e-3")
    assert to_markdown(text) == MAIN_MD
    assert to_latex(text) == MAIN_TEX
    assert list(numeric.columns) == [
        "kind", "label", "val/psnr/mean", "val/psnr/ci", "val/psnr/std", "val/psnr/n", "val/ssim/mean", "val/ssim/ci",
        "val/ssim/std", "val/ssim/n", "cost/params", "cost/macs", "cost/latency_ms", "trials", "infeasible"]
    first = numeric.iloc[0]
    assert (first["label"], first["val/psnr/n"], first["trials"]) == ("1e-3", 3, 3)
    assert first["val/psnr/ci"] == pytest.approx(4.302652729749464 * 0.2 / math.sqrt(3))
    assert numeric.iloc[2]["kind"] == "baseline" and numeric.iloc[2]["val/psnr/mean"] == 27.0
    assert "val/psnr/n" in numeric.to_csv(index=False).splitlines()[0]


def test_a_configuration_run_twice_with_one_seed_is_one_seed_of_two_trials():
    """Cells count seeds (as the pairs do); the infeasible and status columns count trials."""
    rows = [("t0", "a", 0, "completed", 30.0), ("t1", "a", 0, "completed", 30.0), ("t2", "a", 0, "nan", math.nan),
            ("t3", "b", 0, "completed", 29.0), ("t4", "b", 1, "completed", 29.4)]
    frame = pd.DataFrame(rows, columns=["trial_id", "label", "seed", "status", "best/val/psnr"])
    text, numeric = tables.main_table(frame, "val/psnr", "max")
    assert text.columns == ["configuration", "psnr", "infeasible", "status"]
    assert text.rows[0] == ["a", "30.00 (n=1)", "1/3", "completed 2, nan 1"]
    assert text.rows[1] == ["b", "29.20 ± 2.54 (n=2)", "0/2", "completed 2"]  # 12.706 · 0.2
    first = numeric.iloc[0]
    assert (first["val/psnr/n"], first["trials"], first["infeasible"]) == (1, 3, 1)
    assert pd.isna(first["val/psnr/ci"])
    pairs, _ = tables.pairs_table(frame, [Pair("a", "b", "pair")], "val/psnr")
    assert pairs.rows == [["pair", "a − b", "1.00 (n=1)", "—"]]


def test_minimised_metric_puts_the_lowest_first():
    frame = small_frame()
    text, _ = tables.main_table(frame, "val/psnr", "min")
    assert [row[0] for row in text.rows] == ["lr=0.5 | 50%", "1e-3", "baseline: bm3d"]


PAIRS_MD = """\
## Declared pairs

| kind | comparison | Δ psnr | p |
|---|---|---|---|
| schedule | a − b | 0.7000 ± 0.6572 (n=3) | 0.044 |
| schedule | b − a | -0.7000 ± 0.6572 (n=3) | 0.044 |

a − b per seed (seeds both have), mean ± 95 % CI half-width (t distribution); p: paired t-test \
(scipy.stats.ttest_rel), — where fewer than two seeds match (a single one shows its difference, n=1).
"""


def test_pairs_table_text():
    frame = pd.DataFrame({"label": ["a"] * 3 + ["b"] * 3, "seed": [0, 1, 2] * 2, "status": ["completed"] * 6,
                          "best/val/psnr": [31.0, 30.5, 30.9, 30.0, 30.0, 30.3]})
    text, numeric = tables.pairs_table(frame, [Pair("a", "b", "schedule"), Pair("b", "a", "schedule")], "val/psnr")
    assert to_markdown(text) == PAIRS_MD
    assert list(numeric["metric"]) == ["val/psnr", "val/psnr"] and list(numeric["seeds"]) == ["0 1 2", "0 1 2"]


def test_reported_vs_measured_ranks_and_spearman():
    frame = pd.DataFrame({"label": ["x", "y", "z"], "seed": [0, 0, 0], "status": ["completed"] * 3,
                          "best/val/psnr": [6.5, 6.1, 6.3]})
    reported = {"x": {"val/psnr": 30.1}, "y": {"val/psnr": 28.2}, "z": {"val/psnr": 29.0}, "w": {"val/psnr": 29.5}}
    text, numeric = tables.reported_table(frame, reported, lambda metric: "max")
    assert text.columns == ["configuration", "psnr reported", "psnr measured", "rank rep.", "rank meas."]
    assert text.rows[0] == ["x", "30.10", "6.50 (n=1)", "1", "1"]
    # published but not run: unranked, and the ranks of the others are among the three that ρ compares
    assert text.rows[3] == ["w", "29.50", "—", "—", "—"]
    assert [row[3] for row in text.rows[:3]] == ["1", "3", "2"]
    assert text.notes[0] == "Spearman rank correlation of the psnr orderings: ρ = 1.00 (p = 0.333, n = 3)"
    assert text.notes[1] == "Ranks (1 = best) are among the configurations with both numbers, the ones ρ compares."
    assert list(numeric["psnr/rank_measured"].iloc[:3]) == [1, 3, 2]


def test_table_metrics_order_and_test_summaries():
    columns = ["best/test/f1", "best/val/delta_psnr", "best/val/ref_psnr", "best/val/uqi", "best/val/ssim",
               "best/val/psnr", "best/test/auc", "best/test/best_f1/tp", "best/train/loss"]
    frame = pd.DataFrame(columns=columns)
    assert tables.table_metrics(frame, "val/psnr") == ["val/psnr", "val/ssim", "val/uqi", "test/f1", "test/auc",
                                                       "val/ref_psnr", "val/delta_psnr"]
    assert tables.table_metrics(frame, "test/f1")[:4] == ["test/f1", "val/psnr", "val/ssim", "val/uqi"]


def test_every_space_label_and_pair_is_ascii_in_latex():
    import search_spaces

    texts = []
    for space in map(search_spaces.get_space, search_spaces.list_spaces()):
        texts += [space.label(trial) for trial in space.grid_trials()]
        texts += [pair.label for pair in space.pairs] + [str(space.baseline)]
    leftover = {char for text in texts for char in latex_escape(text) if not char.isascii()}
    assert leftover == set()
    assert latex_escape("λ=0.3 × 2 · σ") == r"$\lambda$=0.3 $\times$ 2 $\cdot$ $\sigma$"
