"""A trial's reports as its ``result.json`` holds them, read by the tests that kill drivers, workers and nodes."""

from __future__ import annotations

import json
import os


def reports(trial_dir: str) -> list[dict]:
    """The trial's reports that are whole lines (the driver may be writing the last one)."""
    try:
        with open(os.path.join(trial_dir, "result.json"), encoding="utf-8") as handle:
            lines = handle.read().split("\n")[:-1]
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.strip()]


def lives(trial_dir: str) -> list[list[dict]]:
    """The trial's reports by attempt: each retry or resume starts counting ``iterations_since_restore`` again."""
    out: list[list[dict]] = []
    for report in reports(trial_dir):
        if report["iterations_since_restore"] == 1 or not out:
            out.append([])
        out[-1].append(report)
    return out
