"""What the driver prints at the end of a sweep (``sweeps.driver.report.print_summary``): the best trial is one
the tables count, with a finite value; a run without one says so instead of naming a trial."""

from __future__ import annotations

import math

from sweeps.driver.report import print_summary
from tests.analysis.test_corrupt_runs import report


def trial(row: str, psnr: float, stop: str = "completed", status: str = "terminated", error: str | None = None,
          seed: int = 0) -> dict:
    return {"id": f"{row}-{seed}", "params": {"row": row, "seed": seed}, "status": status, "error": error,
            "results": [report(2, psnr - 1, "running" if stop == "completed" else stop), report(4, psnr, stop)]}


def best_line(capsys) -> str:
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("best trial:")]
    assert len(lines) == 1, lines
    return lines[0]


def test_the_best_trial_is_never_a_failed_diverged_collapsed_or_infinite_one(make_run, capsys):
    run_dir = make_run([
        trial("1e-3", 40.0, status="error", error="RuntimeError: boom"),  # reported before it failed
        trial("1e-4", 39.0, stop="nan"),
        trial("1e-5", 38.0, stop="collapsed"),
        trial("1e-6", math.inf),  # JSON's Infinity, as Ray writes it: never a trial's best
        trial("1e-3→1e-4 @25%", 30.0, stop="running"),  # stopped by the scheduler
        trial("1e-7", 25.0),
    ])
    print_summary(run_dir)
    assert best_line(capsys) == ("best trial: 1e-3→1e-4 @25% (seed 0): val/psnr = 30.0000 at step 4 (validation; not "
                                 "evaluated on test)")


def test_a_run_without_a_usable_trial_names_none(make_run, capsys):
    run_dir = make_run([trial("1e-3", 6.4625, status="error", error="RuntimeError: boom")])
    print_summary(run_dir)
    assert best_line(capsys) == ("best trial: none; no trial trained to the end with a finite val/psnr without "
                                 "failing, diverging or collapsing (1 trial in the run)")


def test_the_summary_opens_with_the_verdict_and_ranks_only_completed_trials(make_run, capsys):
    run_dir = make_run([trial("1e-3", 25.0), trial("1e-4", 24.0),
                        {"id": "1e-5-0", "params": {"row": "1e-5", "seed": 0}, "status": "terminated",
                         "results": [report(2, 40.0, "running")]}])  # stopped at step 2 with the highest value
    print_summary(run_dir)
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("Verdict: best 1e-3 (val psnr 25.00, n=1); runner-up 1e-4 (val psnr 24.00, n=1). One "
                             "seed each: this run cannot tell them apart")
    assert [line for line in out if line.startswith("best trial:")] == [
        "best trial: 1e-3 (seed 0): val/psnr = 25.0000 at step 4 (validation; not evaluated on test)"]
