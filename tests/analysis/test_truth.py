"""Results that tell the truth, on hand-made runs with known numbers: rows grouped by how far their trials trained
and ranked only among completed ones, the degradation flag, test values of the checkpoint selected on validation,
paired differences only between equal steps (Holm-corrected), the verdict, images from the selected checkpoint,
and no error bars for a single seed."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from analysis import figures, images, load_run, pareto
from analysis.format import to_markdown
from analysis.outputs import analyse
from analysis.rows import build_rows
from analysis.stats import holm
from restore_core.run_files import encode_png

DEFAULT = "default (1e-4→1e-5 @50%)"


def report(step: int, psnr: float, stop: str = "running") -> dict:
    return {"step": step, "val/psnr": psnr, "val/ssim": psnr / 40, "train/loss": 0.1, "stop_reason": stop,
            "checkpoint_dir_name": f"checkpoint_{step:06d}", "cost/params": 1000, "cost/macs": 5000,
            "cost/latency_ms": 1.0}


def solid(rgb) -> np.ndarray:
    return np.tile(np.array(rgb, np.uint8), (32, 32, 1))


RED, BLUE, GREY = solid((255, 0, 0)), solid((0, 0, 255)), solid((128, 128, 128))


def selected_test(step: int, psnr: float, last: int | None = None) -> dict:
    record = {"step": step, "checkpoint": f"checkpoint_{step:06d}", "metric": "val/psnr",
              "metrics": {"test/psnr": psnr, "test/ssim": psnr / 40},
              "images": {"input": encode_png(GREY), "output": encode_png(RED), "target": encode_png(GREY)}}
    if last is not None:
        record["last"] = {"step": last, "checkpoint": f"checkpoint_{last:06d}", "images": {"output": encode_png(BLUE)}}
    return record


def trial(tid: str, row: str, seed: int, vals: list[tuple[int, float]], test: dict, completed: bool = True) -> dict:
    results = [report(step, value) for step, value in vals]
    if completed:
        results[-1]["stop_reason"] = "completed"
    return {"id": tid, "params": {"row": row, "seed": seed}, "results": results, "status": "terminated",
            "test": test}


def one_seed_run(make_run) -> str:
    """The smoke profile trains 4 steps and evaluates at 2 and 4. ``1e-3`` peaks at step 2 and falls 8 dB by step 4
    (degraded); ``1e-5`` was stopped at step 2 with the highest value of all; the others completed."""
    return make_run([
        trial("a", "1e-3", 0, [(2, 20.0), (4, 12.0)], selected_test(2, 19.5, last=4)),
        trial("b", "1e-4", 0, [(2, 15.0), (4, 18.0)], selected_test(4, 17.8)),
        trial("c", "1e-5", 0, [(2, 25.0)], selected_test(2, 24.0), completed=False),
        trial("d", DEFAULT, 0, [(2, 16.0), (4, 17.0)], selected_test(4, 16.5)),
    ])


def test_results_carry_test_values_selection_steps_budget_and_the_flag(make_run):
    frame = load_run(one_seed_run(make_run)).set_index("label")
    assert frame.loc["1e-3", "test/psnr"] == 19.5 and frame.loc["1e-3", "best/val/psnr"] == 20.0
    assert (frame.loc["1e-3", "best/step"], frame.loc["1e-3", "last/val/psnr"], frame.loc["1e-3", "test/step"]) == (
        2, 12.0, 2)
    assert frame["steps"].to_dict() == {"1e-3": 4, "1e-4": 4, "1e-5": 2, DEFAULT: 4}
    assert frame["budget"].to_dict() == {"1e-3": 1.0, "1e-4": 1.0, "1e-5": 0.5, DEFAULT: 1.0}
    assert frame["degraded"].to_dict() == {"1e-3": True, "1e-4": False, "1e-5": False, DEFAULT: False}
    assert frame.loc["1e-3", "degraded_note"] == "fell from 20.00 at step 2 to 12.00 at step 4"


def test_rows_are_grouped_ranked_among_completed_and_flagged(make_run):
    result = analyse(one_seed_run(make_run))
    text, numeric = result.tables["table"]
    assert text.columns[:4] == ["rank", "configuration", "trained", "psnr (test, dB) ↑"]
    assert text.columns[-3:] == ["degraded", "infeasible", "status"]
    body = [row[:4] + row[-3:] for row in text.rows]
    assert body == [
        ["1", "1e-3", "completed (4 steps)", "19.50 (n=1)", "1/1", "0/1", "completed 1"],
        ["2", "1e-4", "completed (4 steps)", "17.80 (n=1)", "0/1", "0/1", "completed 1"],
        ["3", DEFAULT, "completed (4 steps)", "16.50 (n=1)", "0/1", "0/1", "completed 1"],
        # the highest value of the run, from step 2: never ranked above a completed row
        ["—", "1e-5", "stopped at step 2", "stopped at step 2: 24.00 (n=1) at that step", "0/1", "0/1",
         "stopped early 1"],
    ]
    assert list(numeric["rank"].astype("float").fillna(0)) == [1, 2, 3, 0]
    assert numeric.loc[0, "test/psnr/mean"] == 19.5 and numeric.loc[0, "degraded"] == 1
    notes = "\n".join(text.notes)
    assert "rank: among the rows completed at 4 steps only" in notes
    assert "  1e-3 (seed 0): fell from 20.00 at step 2 to 12.00 at step 4" in notes
    assert "the test value of the checkpoint each trial selected on validation (its best val/psnr)" in notes


def test_one_seed_verdict_picks_the_completed_best_and_says_what_it_cannot_tell(make_run):
    result = analyse(one_seed_run(make_run))
    assert result.verdict == (
        "Verdict: best 1e-3 (test psnr 19.50, n=1); runner-up 1e-4 (test psnr 17.80, n=1). One seed each: this run "
        "cannot tell them apart, since their difference of 1.70 dB has no seed-to-seed spread to be judged against. "
        "Add seeds: python sweeps/run.py --space lsid_lr --seeds 3. 1 row that did not train to the end is not "
        "ranked: a value reached at step S speaks for step S only.")
    assert to_markdown(result.tables["table"][0]).startswith(result.verdict + "\n\n| rank |")


def test_differences_only_between_equal_steps(make_run):
    result = analyse(one_seed_run(make_run))
    rows = {row[1]: row[2] for row in result.tables["vs_baseline"][0].rows}
    assert rows[f"1e-5 − {DEFAULT}"] == "not comparable: 2 vs 4 steps"
    assert rows[f"1e-3 − {DEFAULT}"] == "3.00 (n=1)"


def three_seed_run(make_run) -> str:
    trials = []
    for seed, (a, b, d) in enumerate([(20.0, 18.0, 16.0), (21.0, 19.5, 16.2), (22.0, 20.0, 17.0)]):
        trials += [trial(f"a{seed}", "1e-3", seed, [(2, a), (4, a + 0.1)], selected_test(4, a)),
                   trial(f"b{seed}", "1e-4", seed, [(2, b), (4, b + 0.1)], selected_test(4, b)),
                   trial(f"d{seed}", DEFAULT, seed, [(2, d), (4, d + 0.1)], selected_test(4, d))]
    trials.append(trial("c0", "1e-5", 0, [(2, 30.0)], selected_test(2, 29.0), completed=False))
    return make_run(trials)


def test_verdict_with_seeds_gives_the_paired_difference_and_holm_p(make_run):
    result = analyse(three_seed_run(make_run))
    a, b, d = [20.0, 21.0, 22.0], [18.0, 19.5, 20.0], [16.0, 16.2, 17.0]
    diffs = np.subtract(a, b)
    t = scipy_stats.t.ppf(0.975, 2) / math.sqrt(3)
    half, ci_a, ci_b = (t * np.std(x, ddof=1) for x in (diffs, a, b))
    p_ab, p_ad, p_bd = (scipy_stats.ttest_rel(x, y).pvalue for x, y in ((a, b), (a, d), (b, d)))
    # the family of test/psnr: the verdict's a − b and, against the baseline, a − d and b − d (1e-5 − default is not
    # comparable: no test)
    p_values = [p_ab, p_ad, p_bd]
    order = np.argsort(p_values)  # Holm: the k-th smallest of m times (m − k + 1), then never smaller than before
    corrected = np.maximum.accumulate([3 * p_values[order[0]], 2 * p_values[order[1]], p_values[order[2]]])
    corrected = list(corrected[np.argsort(order)])
    assert corrected == pytest.approx(holm(p_values))
    assert result.verdict == (
        f"Verdict: best 1e-3 (test psnr 21.00 ± {ci_a:.2f}, n=3); runner-up 1e-4 (test psnr 19.17 ± {ci_b:.2f}, n=3). "
        f"Paired "
        f"over 3 seeds, best − runner-up = {diffs.mean():.2f} ± {half:.2f} dB (95 % CI), p = {corrected[0]:.3f} "
        f"(Holm-corrected over the 3 comparisons shown; {p_ab:.3f} uncorrected): the data tell them apart "
        "(p < 0.05). 1 row that did not train to the end is not ranked: a value reached at step S speaks for step S "
        "only.")
    assert corrected[0] < 0.05
    text, numeric = result.tables["vs_baseline"]
    row = next(r for r in text.rows if r[1] == f"1e-3 − {DEFAULT}")
    assert row[3:5] == [f"{p_ad:.3f}", f"{corrected[1]:.3f}"]
    assert numeric.set_index("a").loc["1e-3"].query("metric == 'test/psnr'")["p_holm"].item() == pytest.approx(
        corrected[1])


def test_images_come_from_the_selected_checkpoint_with_the_last_beside_a_degraded_one(make_run):
    run_dir = one_seed_run(make_run)
    result = analyse(run_dir)
    rows = build_rows(result.frame, result.metric, result.mode)
    tiles, on_test = images.image_tiles(run_dir, images.pick_trials(rows, "test/psnr", None), "test/psnr")
    assert on_test
    titled = dict(tiles)
    # 1e-3's selected checkpoint (step 2) made the red output; its last one (step 4), the blue
    assert np.array_equal(titled["1e-3 (seed 0, step 2): 19.5"], RED)
    assert np.array_equal(titled["1e-3: last (step 4), degraded"], BLUE)
    assert [title for title, _ in tiles][:2] == ["input (degraded)", "1e-3 (seed 0, step 2): 19.5"]
    assert "1e-4: last (step 4), degraded" not in titled  # a trial that did not fall shows its selected output only


def test_one_seed_figures_have_no_error_bars(make_run):
    result = analyse(one_seed_run(make_run))
    table = result.tables["table"][1]
    bars = figures.ablation_bars(table, "test/psnr", DEFAULT)
    assert bars.data[0].error_y.visible is False and all(v is None for v in bars.data[0].error_y.array)
    assert not any("±" in text for text in bars.data[0].hovertext)
    assert list(bars.data[0].x) == ["1e-3", "1e-4", DEFAULT]  # the stopped row is no bar
    iso = figures.isolation(result.frame, ["config/optim.lr"], "test/psnr", "max")
    assert iso.data[0].error_y.visible is False
    cost = pareto.quality_vs_cost(table, "test/psnr", "max", result.frame)
    assert cost.data[0].error_y.visible is False
    # one network for every configuration: latency differences are noise, so no front is drawn, and the title says why
    assert [trace.name for trace in cost.data] == ["configurations"]
    assert "same network (same MACs and parameters)" in cost.layout.title.text


def test_three_seed_figures_draw_their_intervals(make_run):
    result = analyse(three_seed_run(make_run))
    bars = figures.ablation_bars(result.tables["table"][1], "test/psnr", DEFAULT)
    assert bars.data[0].error_y.visible is True
    assert bars.data[0].error_y.array[0] == pytest.approx(scipy_stats.t.ppf(0.975, 2) * 1.0 / math.sqrt(3))


def test_an_asha_run_with_one_completed_trial_says_what_it_cannot_rank(make_run):
    run_dir = make_run([
        trial("a", "1e-3", 0, [(2, 20.0), (4, 21.0)], selected_test(4, 19.5)),
        trial("b", "1e-4", 0, [(2, 15.0)], selected_test(2, 14.8), completed=False),
        trial("c", "1e-5", 0, [(2, 9.0)], selected_test(2, 8.8), completed=False),
    ], command="python sweeps/run.py --space lsid_lr --name quick --scheduler asha --seeds 1")
    assert analyse(run_dir).verdict == (
        "Verdict: only 1e-3 trained to the end (test psnr 19.50, n=1); no other configuration has the same steps "
        "(the 2 other rows stopped earlier: a value reached at step S speaks for step S only). One seed per "
        "configuration could not tell them apart either. To compare them, train every one to the end with seeds: "
        "python sweeps/run.py --space lsid_lr --scheduler fifo --seeds 3.")
