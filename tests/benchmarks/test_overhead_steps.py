"""benchmarks/overhead.py's ratio with the sweep's training steps taken as long as the bare loop's, read from a
timeline of both paths."""

from __future__ import annotations

import pytest

from benchmarks.overhead import steps_at_bare_speed


def _trial(pid: int, start: str, steps: float) -> list[dict]:
    """One trial's marks as the loop writes them (an evaluation after its steps), from t=0 in process ``pid``."""
    events = [(start, 0.0), ("train", 0.1), ("data", 0.1), ("build", 0.2), ("cost", 0.3), ("writer", 0.3),
              ("first step", 0.4), ("evaluate", 0.4 + steps), ("tensorboard", 0.6 + steps),
              ("checkpoint", 0.6 + steps), ("saved", 0.7 + steps), ("reported", 0.8 + steps),
              ("trained", 0.8 + steps)]
    if start == "trial":
        events.append(("released", 0.9 + steps))
    return [{"t": t, "pid": pid, "event": event} for event, t in events]


def test_the_sweeps_steps_are_replaced_by_the_bare_loops():
    marks = _trial(2, "trial", 10.0) + _trial(3, "bare trial", 12.0)
    adjusted, sweep_steps, bare_steps = steps_at_bare_speed(marks, 20.0)
    assert sweep_steps == pytest.approx(10.1) and bare_steps == pytest.approx(12.1)  # from the writer on
    assert adjusted == pytest.approx(22.0)


def test_nothing_when_a_path_has_no_whole_trial_or_fewer_trials():
    assert steps_at_bare_speed(_trial(2, "trial", 10.0), 20.0) is None
    assert steps_at_bare_speed(_trial(2, "trial", 10.0) + _trial(3, "bare trial", 1.0)
                               + [{"t": 50.0, "pid": 4, "event": "trial"}]  # cut short: not a whole trial
                               + _trial(5, "trial", 1.0), 20.0) is None
