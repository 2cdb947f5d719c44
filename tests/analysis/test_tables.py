"""The tables' exact text for small frames with known numbers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from analysis import outputs, stats, tables
from analysis.format import fmt_count, fmt_estimate, latex_escape, to_latex, to_markdown
from analysis.rows import value_column
from search_spaces import Pair


def small_frame() -> pd.DataFrame:
    """Trials of two configurations without test evaluations: 1e-3 completed 1200 steps twice and was stopped at step
    100 once; lr=0.5 | 50% completed once and diverged once (at step 300)."""
    nan = math.nan
    rows = [("t0", "1e-3", 0, "completed", 1200, 30.0, 0.80), ("t1", "1e-3", 1, "completed", 1200, 30.2, 0.81),
            ("t2", "1e-3", 2, "stopped early", 100, 30.4, 0.82),
            ("t3", "lr=0.5 | 50%", 0, "completed", 1200, 29.0, 0.70), ("t4", "lr=0.5 | 50%", 1, "nan", 300, nan, nan)]
    frame = pd.DataFrame(rows, columns=["trial_id", "label", "seed", "status", "steps", "best/val/psnr",
                                        "best/val/ssim"])
    frame["budget"], frame["degraded"], frame["degraded_note"] = frame["steps"] / 1200, False, ""
    frame["cost/params"], frame["cost/macs"], frame["cost/latency_ms"] = 121816, 3129344, 0.9
    frame["last/val/baseline/bm3d/psnr"] = 27.0  # a classical baseline the task reports with every evaluation
    return frame


NOTES = [
    "Cells: the validation value of the checkpoint each trial selected (its best val/psnr): no trial of this run was "
    "evaluated on test, and the value that chose a checkpoint overstates it (python -m analysis evaluates them where "
    "the run's data is); mean ± 95 % CI half-width (t distribution) over seeds, n = seeds counted (trials of one seed "
    "averaged first; crashed and diverged trials are not counted; n=1 has no interval). Validation values are in "
    "results.csv.",
    "rank: among the rows completed at 1200 steps only; a row stopped earlier reads 'stopped at step S: X at that "
    "step' (its selected checkpoint is from step S or before) and is not ranked.",
    "degraded: a trial whose last val/psnr ended more than train.degrade_tolerance below its peak; none did.",
    "infeasible = error, NaN or collapsed trials.",
    "baseline configuration: 1e-3",
]

# 1e-3 completed: 30.0 and 30.2, s = 0.1414, t(0.975, 1) · s / √2 = 12.706 · 0.1 = 1.27; its stopped trial is a row of
# its own; the diverged trial is counted as infeasible on lr=0.5's completed row
MAIN_MD = "\n".join([
    "| rank | configuration | trained | psnr (val, dB) ↑ | ssim (val) ↑ | params ↓ | MACs ↓ | latency (ms) ↓ "
    "| degraded | infeasible | status |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
    "| 1 | 1e-3 | completed (1200 steps) | 30.10 ± 1.27 (n=2) | 0.8050 ± 0.0635 (n=2) | 122 k | 3.13 M | 0.9000 | 0/2 "
    "| 0/2 | completed 2 |",
    "| 2 | lr=0.5 \\| 50% | completed (1200 steps) | 29.00 (n=1) | 0.7000 (n=1) | 122 k | 3.13 M | 0.9000 | 0/2 | 1/2 "
    "| completed 1, nan 1 |",
    "| — | 1e-3 | stopped at step 100 | stopped at step 100: 30.40 (n=1) at that step | 0.8200 (n=1) | 122 k | 3.13 M "
    "| 0.9000 | 0/1 | 0/1 | stopped early 1 |",
    "| — | baseline: bm3d |  | 27.00 ± 0.00 (n=3) | — | — | — | — | — | — | — |",
    "", *NOTES]) + "\n"

MAIN_TEX = "\n".join([
    "\\begin{tabular}{lllllllllll}", "\\toprule",
    "rank & configuration & trained & psnr (val, dB) $\\uparrow$ & ssim (val) $\\uparrow$ & params $\\downarrow$ & "
    "MACs $\\downarrow$ & latency (ms) $\\downarrow$ & degraded & infeasible & status \\\\", "\\midrule",
    "1 & 1e-3 & completed (1200 steps) & 30.10 $\\pm$ 1.27 (n=2) & 0.8050 $\\pm$ 0.0635 (n=2) & 122 k & 3.13 M & "
    "0.9000 & 0/2 & 0/2 & completed 2 \\\\",
    "2 & lr=0.5 \\textbar{} 50\\% & completed (1200 steps) & 29.00 (n=1) & 0.7000 (n=1) & 122 k & 3.13 M & 0.9000 & "
    "0/2 & 1/2 & completed 1, nan 1 \\\\",
    "-- & 1e-3 & stopped at step 100 & stopped at step 100: 30.40 (n=1) at that step & 0.8200 (n=1) & 122 k & 3.13 M & "
    "0.9000 & 0/1 & 0/1 & stopped early 1 \\\\",
    "-- & baseline: bm3d &  & 27.00 $\\pm$ 0.00 (n=3) & -- & -- & -- & -- & -- & -- & -- \\\\",
    "\\bottomrule", "\\end{tabular}", *[f"% {note}" for note in NOTES]]) + "\n"


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
        "kind", "rank", "label", "steps", "completed", "best/val/psnr/mean", "best/val/psnr/ci", "best/val/psnr/std",
        "best/val/psnr/n", "best/val/ssim/mean", "best/val/ssim/ci", "best/val/ssim/std", "best/val/ssim/n",
        "cost/params", "cost/macs", "cost/latency_ms", "trials", "infeasible", "degraded"]
    first = numeric.iloc[0]
    assert (first["label"], first["rank"], first["best/val/psnr/n"], first["trials"]) == ("1e-3", 1, 2, 2)
    assert first["best/val/psnr/ci"] == pytest.approx(12.706204736174698 * 0.2 / math.sqrt(2) / math.sqrt(2))
    assert pd.isna(numeric.iloc[2]["rank"]) and numeric.iloc[2]["steps"] == 100
    assert numeric.iloc[3]["kind"] == "baseline" and numeric.iloc[3]["best/val/psnr/mean"] == 27.0
    assert "best/val/psnr/n" in numeric.to_csv(index=False).splitlines()[0]


def test_a_configuration_run_twice_with_one_seed_is_one_seed_of_two_trials():
    """Cells count seeds (as the pairs do); the infeasible and status columns count trials."""
    rows = [("t0", "a", 0, "completed", 30.0), ("t1", "a", 0, "completed", 30.0), ("t2", "a", 0, "nan", math.nan),
            ("t3", "b", 0, "completed", 29.0), ("t4", "b", 1, "completed", 29.4)]
    frame = pd.DataFrame(rows, columns=["trial_id", "label", "seed", "status", "best/val/psnr"])
    text, numeric = tables.main_table(frame, "val/psnr", "max")
    assert text.columns == ["rank", "configuration", "trained", "psnr (val, dB) ↑", "degraded", "infeasible", "status"]
    assert text.rows[0] == ["1", "a", "completed (0 steps)", "30.00 (n=1)", "0/3", "1/3", "completed 2, nan 1"]
    assert text.rows[1] == ["2", "b", "completed (0 steps)", "29.20 ± 2.54 (n=2)", "0/2", "0/2", "completed 2"]
    first = numeric.iloc[0]
    assert (first["best/val/psnr/n"], first["trials"], first["infeasible"]) == (1, 3, 1)
    assert pd.isna(first["best/val/psnr/ci"])
    diffs = stats.pair_differences(frame, [Pair("a", "b", "pair")], ["best/val/psnr"])
    pairs, _ = tables.pairs_table(diffs.assign(p_holm=math.nan))
    assert pairs.rows == [["pair", "a − b", "1.00 (n=1)", "—", "—"]]


def test_minimised_metric_puts_the_lowest_first():
    text, _ = tables.main_table(small_frame(), "val/psnr", "min")
    assert text.columns[3] == "psnr (val, dB) ↓"  # the space's mode, not the name, says which way is better
    assert [row[:2] for row in text.rows] == [["1", "lr=0.5 | 50%"], ["2", "1e-3"], ["—", "1e-3"],
                                              ["—", "baseline: bm3d"]]


PAIRS_MD = """\
## Declared pairs

| kind | comparison | Δ psnr (val, dB) ↑ | p | p (Holm) |
|---|---|---|---|---|
| schedule | a − b | 0.7000 ± 0.6572 (n=3) | 0.044 | 0.089 |
| schedule | a − c | not comparable: 1200 vs 600 steps | — | — |
| schedule | c − d | at step 600: 0.4000 (n=1) | — | — |

a − b per seed, over the seeds both have trained to the same number of steps (a trial stopped at step 100 is not \
compared with one trained to 1200: 'not comparable'; 'at step S' marks a comparison of trials that both stopped \
there); mean ± 95 % CI half-width (t distribution); p: paired t-test (scipy.stats.ttest_rel), p (Holm): corrected \
with Holm's method over every comparison of that metric the analysis shows (the verdict, the declared pairs and \
every configuration against the baseline); — where fewer than two seeds match (a single one shows its difference, \
n=1).
"""


def test_pairs_table_text():
    frame = pd.DataFrame({"label": ["a"] * 3 + ["b"] * 3 + ["c", "d"], "seed": [0, 1, 2] * 2 + [0, 0],
                          "status": ["completed"] * 6 + ["stopped early"] * 2, "steps": [1200] * 6 + [600] * 2,
                          "best/val/psnr": [31.0, 30.5, 30.9, 30.0, 30.0, 30.3, 29.0, 28.6]})
    frame["budget"] = frame["steps"] / 1200
    pairs = [Pair("a", "b", "schedule"), Pair("a", "c", "schedule"), Pair("c", "d", "schedule")]
    diffs = stats.pair_differences(frame, pairs, ["best/val/psnr"])
    # one more test in the family, p = 0.5 (shown in another table): Holm multiplies the smaller p by 2 (0.044 · 2) and
    # the larger by 1; c − d (n=1) and a − c (not comparable) are no tests
    family = pd.concat([diffs, diffs.iloc[:1].assign(a="x", b="y", p=0.5)])
    corrected, size = stats.correct_family([outputs.mark_steps(frame, diffs), family])
    assert size == {"best/val/psnr": 2}
    text, numeric = tables.pairs_table(corrected[0])
    assert to_markdown(text) == PAIRS_MD
    assert list(numeric["metric"]) == ["val/psnr"] * 3 and list(numeric["seeds"]) == ["0 1 2", "", "0"]
    assert numeric["p_holm"].iloc[0] == pytest.approx(2 * numeric["p"].iloc[0])


def test_reported_vs_measured_ranks_and_spearman():
    frame = pd.DataFrame({"label": ["x", "y", "z"], "seed": [0, 0, 0], "status": ["completed"] * 3,
                          "best/val/psnr": [6.5, 6.1, 6.3]})
    reported = {"x": {"val/psnr": 30.1}, "y": {"val/psnr": 28.2}, "z": {"val/psnr": 29.0}, "w": {"val/psnr": 29.5}}
    text, numeric = tables.reported_table(frame, reported, lambda metric: "max")
    assert text.columns == ["configuration", "psnr reported (dB) ↑", "psnr measured (val, dB) ↑", "rank rep.",
                            "rank meas."]
    assert text.rows[0] == ["x", "30.10", "6.50 (n=1)", "1", "1"]
    # published but not run: unranked, and the ranks of the others are among the three that ρ compares
    assert text.rows[3] == ["w", "29.50", "—", "—", "—"]
    assert [row[3] for row in text.rows[:3]] == ["1", "3", "2"]
    assert text.notes[0] == "Spearman rank correlation of the psnr orderings: ρ = 1.00 (p = 0.333, n = 3)"
    assert text.notes[1] == ("Ranks (1 = best) are among the configurations with both numbers, the ones ρ compares; "
                             "measured: the trials that trained to the end (a configuration stopped early has none).")
    assert list(numeric["psnr/rank_measured"].iloc[:3]) == [1, 3, 2]


def test_table_metrics_order_and_the_column_each_reports():
    columns = ["best/val/delta_psnr", "best/val/ref_psnr", "best/val/uqi", "best/val/ssim", "best/val/psnr",
               "best/val/f1", "best/val/baseline/bm3d/psnr", "best/train/loss", "test/psnr", "test/f1",
               "test/best_f1/tp"]
    frame = pd.DataFrame([[1.0] * len(columns)], columns=columns)
    assert tables.table_metrics(frame, "val/psnr") == ["val/psnr", "val/ssim", "val/uqi", "val/f1", "val/ref_psnr",
                                                       "val/delta_psnr"]
    assert tables.table_metrics(frame, "val/f1")[:3] == ["val/f1", "val/psnr", "val/ssim"]
    # a metric with a test evaluation reports it; one without, the validation value at the selected checkpoint
    assert [value_column(frame, m) for m in ("val/psnr", "val/f1", "val/ssim")] == ["test/psnr", "test/f1",
                                                                                   "best/val/ssim"]
    assert tables.header("val/psnr", "test/psnr") == "psnr (test, dB) ↑"


def test_every_space_label_and_pair_is_ascii_in_latex():
    import search_spaces

    texts = []
    for space in map(search_spaces.get_space, search_spaces.list_spaces()):
        texts += [space.label(trial) for trial in space.grid_trials()]
        texts += [pair.label for pair in space.pairs] + [str(space.baseline)]
    leftover = {char for text in texts for char in latex_escape(text) if not char.isascii()}
    assert leftover == set()
    assert latex_escape("λ=0.3 × 2 · σ") == r"$\lambda$=0.3 $\times$ 2 $\cdot$ $\sigma$"


def test_headers_give_unit_and_direction_from_the_ranking_rule():
    from analysis import units
    assert [units.labelled("x", m) for m in ("val/ssim", "val/lpips", "val/delta_psnr", "test/f1")] == [
        "x ↑", "x ↓", "x (dB) ↑", "x ↑"]
    assert [units.cost_header(k) for k in ("cost/params", "cost/macs", "cost/latency_ms")] == [
        "params ↓", "MACs ↓", "latency (ms) ↓"]
    assert tables.header("val/lpips", "best/val/lpips") == "lpips (val) ↓"
    assert tables.header("val/loss", "best/val/loss", prefix="Δ ") == "Δ loss (val) ↓"
    assert tables.header("val/custom", "best/val/custom", mode="min") == "custom (val) ↓"
