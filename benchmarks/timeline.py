"""Reading a sweep's timeline (``RESTORE_TIMELINE``, :mod:`restore_core.timeline`): each trial's parts in seconds.

A trial is what one process did from its ``trial`` mark (a sweep's worker) or ``bare trial`` mark (the bare loop of
``overhead.py``) to the next one; each part is the time between two marks that follow each other in the loop, so
that the parts of a trial add up to its time. Between trials on one worker: from the ``released`` mark (the trial
handed back to Ray) to the next trial's ``trial`` mark.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict

from restore_core.errors import DataError

STARTS = ("trial", "bare trial")
STEPS_FROM = ("writer", "first step", "reported")
# (part, from mark(s), to mark); the steps and the evaluation's parts repeat at every evaluation and are summed
PARTS = [
    ("setup in the trainable (plugins, config, TensorBoard summaries)", STARTS, "train"),
    ("config checked, data looked up", "train", "data"),
    ("model build", "data", "build"),
    ("model cost (parameters, MACs, latency)", "build", "cost"),
    ("TensorBoard writer opened", "cost", "writer"),
    ("training steps", None, "evaluate"),
    ("validation evaluations", "evaluate", "tensorboard"),
    ("TensorBoard scalars and image grids", "tensorboard", "checkpoint"),
    ("checkpoints saved", "checkpoint", "saved"),
    ("reports: checkpoint into the run, Ray's round trip", "saved", "reported"),
    ("end of the loop (writer closed)", "reported", "trained"),
    ("end of the trial (summaries closed, memory released)", "trained", "released"),
]
HANDOVER = "between trials on one worker (Ray: released to the next trial's start)"


def read_marks(path: str) -> list[dict]:
    try:
        with open(path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: not a timeline ({err}); expected the JSON lines a run with RESTORE_TIMELINE "
                        "set writes (benchmarks/overhead.py --timeline FILE)") from None


def trials(marks: list[dict]) -> tuple[dict[str, list[dict[str, float]]], list[float]]:
    """Each trial's parts in seconds, by path (``sweep``, ``bare``), and the hand-overs between trials on one
    worker."""
    by_pid = defaultdict(list)
    for mark in sorted(marks, key=lambda m: m["t"]):
        if not mark["event"].startswith("driver: "):
            by_pid[mark["pid"]].append(mark)
    found, handovers = defaultdict(list), []
    for series in by_pid.values():
        starts = [i for i, mark in enumerate(series) if mark["event"] in STARTS]
        for n, first in enumerate(starts):
            end = starts[n + 1] if n + 1 < len(starts) else len(series)
            ended = [i for i, mark in enumerate(series[first:end]) if mark["event"] in ("trained", "released")]
            if not ended:
                continue  # cut short (a failed trial, a sweep stopped)
            one = series[first:first + ended[-1] + 1]  # not the bare loop's test evaluation after it
            found["bare" if one[0]["event"] == "bare trial" else "sweep"].append(_parts(one))
            if n + 1 < len(starts) and one[-1]["event"] == "released":
                handovers.append(series[end]["t"] - one[-1]["t"])
    return dict(found), handovers


def _parts(one: list[dict]) -> dict[str, float]:
    seconds = dict.fromkeys((name for name, _, _ in PARTS), 0.0)
    previous = None
    for mark in one:
        if previous is not None:
            for name, start, end in PARTS:
                if start is None:  # the training steps: to the first step, and from there (or a report) on
                    hit = mark["event"] in (end, "first step") and previous["event"] in STEPS_FROM
                else:
                    hit = mark["event"] == end and previous["event"] in ((start,) if isinstance(start, str) else start)
                if hit:
                    seconds[name] += mark["t"] - previous["t"]
        previous = mark
    seconds["whole trial"] = one[-1]["t"] - one[0]["t"]
    return seconds


# (what, from mark, to mark): the driver's parts paid once per sweep, from its command line read to its end
ONCE = [
    ("the plan and its checks (the configs validated)", "driver: imported", "driver: checked"),
    ("the data prepared", "driver: checked", "driver: data"),
    ("Ray and its dashboard started", "driver: data", "driver: ray"),
    ("run folder, manifest, Tuner", "driver: ray", "driver: fit"),
    ("the first worker started (Python, Ray, torch, the trainable)", "driver: fit", "trial"),
    ("the sweep's test evaluation of every trial, after them (driver)", "driver: test evaluation", "driver: tested"),
    ("Ray stopped, beside the test evaluation (from its start)", "driver: test evaluation", "driver: ray stopped"),
]


def driver_span(marks: list[dict], start: str, end: str) -> float | None:
    """Seconds between the driver's first ``start`` mark and its first ``end`` mark after it (None: not both)."""
    begun = next((m["t"] for m in marks if m["event"] == start), None)
    ended = next((m["t"] for m in marks if m["event"] == end and begun is not None and m["t"] >= begun), None)
    return None if ended is None else ended - begun


def table(path: str) -> str:
    """The median of each part over a timeline's trials, per path, as a Markdown table."""
    marks = read_marks(path)
    found, handovers = trials(marks)
    if not found:
        raise DataError(f"{path}: no whole trial in this timeline")
    paths = [p for p in ("sweep", "bare") if p in found]
    head = " | ".join(f"{p} (median of {len(found[p])} trials)" for p in paths)
    rows = [f"| part of a trial | {head} |", "|---|" + "---:|" * len(paths)]
    for name in [*(name for name, _, _ in PARTS), "whole trial"]:
        rows.append(f"| {name} | " + " | ".join(f"{statistics.median(t[name] for t in found[p]):.3f}"
                                                  for p in paths) + " |")
    if handovers:
        rows.append(f"| {HANDOVER}, {len(handovers)} | {statistics.median(handovers):.3f} |" + " |" * (len(paths) - 1))
    for name, start, end in ONCE:
        seconds = driver_span(marks, start, end)
        if seconds is not None:
            rows.append(f"| once per sweep: {name} | {seconds:.3f} |" + " |" * (len(paths) - 1))
    return "\n".join(rows)
