"""``benchmarks/heap.py``'s table: each setting's medians, the first trial apart, and the ratio of the two trials
that ran beside each other in a round."""

from __future__ import annotations

from benchmarks.heap import table


def _process(seconds: list[float], faults: int, peak: float) -> dict:
    return {"kept": None, "peak_mib": peak,
            "trials": [{"seconds": s, "faults": faults, "system_s": faults / 1e6} for s in seconds]}


def test_the_ratio_is_kept_over_system_in_each_round_and_the_first_trial_stands_apart():
    rounds = [{"keep": _process([10.0, 8.0, 8.0], 1_000, 700.0),
               "system": _process([12.0, 10.0, 10.0], 900_000, 720.0)},
              {"keep": _process([11.0, 9.0, 9.0], 3_000, 710.0),
               "system": _process([11.0, 10.0, 10.0], 800_000, 730.0)}]
    rows = table(rounds)
    assert rows[2] == "| keep | first | 10.50 | 2,000 | 0.00 | 705 | **0.917** [0.833, 1.000] |"
    assert rows[3] == "| system | first | 11.50 | 850,000 | 0.85 | 725 |  |"
    assert rows[4] == "| keep | later | 8.50 | 2,000 | 0.00 | 705 | **0.850** [0.800, 0.900] |"
    assert rows[5] == "| system | later | 10.00 | 850,000 | 0.85 | 725 |  |"


def test_one_trial_a_process_has_no_later_rows():
    rows = table([{"keep": _process([9.0], 10, 1.0), "system": _process([10.0], 10, 1.0)}])
    assert [row.split(" | ")[1] for row in rows[2:]] == ["first", "first"]
