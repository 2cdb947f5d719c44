"""The driver's progress line, as the fault sweep of tests/sweeps/conftest.py printed it (``--verbose 1``)."""

from __future__ import annotations

import re

from analysis import load_run
from sweeps.driver.progress import duration
from tests.sweeps.spaces import FAULT_SLOW

LINE = re.compile(r"^progress: (\d+) done, (\d+) running, (\d+) stopped, (\d+) failed, (\d+) pending \| "
                  r"steps ([\d,]+)/([\d,]+) \((\d+)%\)(?: \| (\d+) ms/step)?(?: \| ETA (.+))?$")


def _lines(output: str) -> list[re.Match]:
    return [LINE.match(line) for line in output.splitlines() if line.startswith("progress: ")]


def test_the_last_progress_line_counts_every_trial_and_step(fault_sweep):
    lines = _lines(fault_sweep.output)
    assert lines and all(lines)
    frame = load_run(fault_sweep.run_dir)
    done = int((frame["status"] == "completed").sum())
    failed = int((frame["status"] == "error").sum())
    stopped = len(frame) - done - failed
    assert (done, failed, stopped) == (2, 3, 2)  # ok and slow; raise, oom, hang; nan and collapse
    last = lines[-1]
    assert [int(g) for g in last.groups()[:5]] == [done, 0, stopped, failed, 0]
    # every trial trains 4 smoke steps but the slow one 60; the steps are those each trial reached
    assert int(last.group(6).replace(",", "")) == int(frame["steps"].sum())
    assert int(last.group(7).replace(",", "")) == 6 * 4 + FAULT_SLOW["train"]["steps"]
    assert last.group(10) == "0 s"  # nothing left


def test_progress_lines_come_while_the_sweep_runs_with_an_eta(fault_sweep):
    lines = _lines(fault_sweep.output)
    running = [m for m in lines[:-1] if int(m.group(2)) > 0]
    assert running, "no progress line while trials ran"
    assert any(m.group(9) is not None and m.group(10) is not None for m in running)


def test_durations_read_in_the_unit_that_suits_them():
    assert [duration(s) for s in (45, 720, 12600)] == ["45 s", "12 min", "3.5 h"]
