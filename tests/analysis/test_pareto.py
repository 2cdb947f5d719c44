"""The Pareto front of a multi-objective run, on hand-made runs with known numbers: which rows the table marks (ranked
rows only), the front in n dimensions, the report's figure, and a manifest whose objectives no trial reports."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from analysis import pareto
from analysis.objectives import nondominated
from analysis.outputs import analyse
from analysis.report import render_report
from restore_core.errors import DataError
from tests.analysis.test_truth import DEFAULT, report, selected_test

OBJECTIVES = [{"metric": "val/psnr", "mode": "max"}, {"metric": "cost/latency_ms", "mode": "min"}]


def costly(tid: str, row: str, vals: list[tuple[int, float]], test: float, latency: float, params: int,
           completed: bool = True) -> dict:
    results = [{**report(step, value), "cost/latency_ms": latency, "cost/params": params} for step, value in vals]
    if completed:
        results[-1]["stop_reason"] = "completed"
    return {"id": tid, "params": {"row": row, "seed": 0}, "results": results, "status": "terminated",
            "test": selected_test(vals[-1][0], test)}


def multi_run(make_run, objectives=OBJECTIVES) -> str:
    """``1e-3`` is the best on test PSNR, ``1e-4`` the fastest of the completed rows, the default slower and worse
    than ``1e-4`` (dominated); ``1e-5`` would beat them all on both, but was stopped at step 2."""
    return make_run([
        costly("a", "1e-3", [(2, 18.0), (4, 20.0)], 19.5, latency=3.0, params=400),
        costly("b", "1e-4", [(2, 15.0), (4, 18.0)], 17.8, latency=1.0, params=300),
        costly("c", "1e-5", [(2, 25.0)], 24.0, latency=0.5, params=100, completed=False),
        costly("d", DEFAULT, [(2, 16.0), (4, 17.0)], 16.5, latency=2.0, params=200),
    ], objectives=objectives, search="optuna")


def test_the_table_marks_the_ranked_rows_no_other_ranked_row_beats_on_every_objective(make_run):
    result = analyse(multi_run(make_run))
    assert result.objectives == [("val/psnr", "max"), ("cost/latency_ms", "min")]
    text, numeric = result.tables["table"]
    assert text.columns[:4] == ["rank", "Pareto", "configuration", "trained"]
    assert [row[:3] for row in text.rows] == [["1", "✓", "1e-3"], ["2", "✓", "1e-4"], ["3", "", DEFAULT],
                                              ["—", "—", "1e-5"]]
    assert numeric["pareto"].tolist() == [True, True, False, None]
    notes = "\n".join(text.notes)
    assert ("Pareto: ✓ marks a configuration no other of the ranked rows (completed at 4 steps) matches or beats on "
            "every objective (val/psnr ↑, cost/latency_ms ↓;") in notes


def test_three_objectives_and_a_single_one(make_run):
    three = OBJECTIVES + [{"metric": "cost/params", "mode": "min"}]
    _, numeric = analyse(multi_run(make_run, three)).tables["table"]
    assert numeric["pareto"].tolist() == [True, True, True, None]  # the default has the fewest parameters
    text, numeric = analyse(multi_run(make_run, OBJECTIVES[:1])).tables["table"]
    assert "Pareto" not in text.columns and "pareto" not in numeric


def test_nondominated_in_n_dimensions_keeps_one_of_identical_points_and_drops_nan():
    points = np.array([[1.0, 5.0, 2.0], [2.0, 4.0, 3.0], [2.0, 5.0, 3.0], [1.0, 5.0, 2.0], [np.nan, 0.0, 0.0],
                       [0.5, 6.0, 9.0]])
    assert nondominated(points, [False, True, True]).tolist() == [True, True, False, False, False, False]
    assert nondominated(points[:, :2], [True, True]).tolist() == [True, True, False, False, False, True]


def test_the_report_draws_the_front_of_the_objectives(make_run):
    result = analyse(multi_run(make_run))
    figure = pareto.objectives_front(result.tables["table"][1], result.objectives)
    dominated, front = figure.data
    assert (list(dominated.x), list(dominated.y), list(dominated.text)) == ([2.0], [16.5], [DEFAULT])
    assert (list(front.x), list(front.y), list(front.text)) == ([1.0, 3.0], [17.8, 19.5], ["1e-4", "1e-3"])
    assert figure.layout.title.text == "Pareto front of val/psnr ↑, cost/latency_ms ↓"
    page = render_report(result)
    assert 'id="fig-pareto"' in page and "objectives val/psnr ↑, cost/latency_ms ↓" in page
    single = analyse(multi_run(make_run, OBJECTIVES[:1]))
    assert pareto.objectives_front(single.tables["table"][1], single.objectives) is None
    assert 'id="fig-pareto"' not in render_report(single)


@pytest.mark.parametrize("objectives, words", [
    ([{"metric": "val/psnr", "mode": "up"}], ["objectives is", '(mode: max or min)']),
    ("val/psnr:max", ["objectives is", "a list of objects"]),
])
def test_a_manifest_with_malformed_objectives_is_refused(make_run, objectives, words):
    with pytest.raises(DataError) as err:
        analyse(multi_run(make_run, objectives))
    assert all(word in str(err.value) for word in words), str(err.value)


def test_objectives_no_trial_reports_are_named_with_what_they_report(make_run):
    run_dir = multi_run(make_run, OBJECTIVES + [{"metric": "val/nope", "mode": "min"}])
    with pytest.raises(DataError) as err:
        analyse(run_dir)
    assert str(err.value) == (f"{os.path.join(run_dir, 'manifest.json')}: objectives name val/nope, which no trial "
                              "reports; the trials report cost/latency_ms, cost/macs, cost/params, val/psnr, val/ssim")
    with open(os.path.join(run_dir, "manifest.json"), encoding="utf-8") as handle:
        assert json.load(handle)["objectives"][-1]["metric"] == "val/nope"  # read, not changed
