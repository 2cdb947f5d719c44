"""The driver's live progress line: trials done, running, stopped, failed and pending, the share of the sweep's
step budget spent, and an ETA from the step times the trials measure.

    progress: 3 done, 2 running, 1 stopped, 0 failed, 4 pending | steps 1,230/4,800 (26%) | 52 ms/step | ETA 4 min

Printed every :data:`EVERY` seconds while the sweep runs (beside Ray's table every 30 s) and once when it ends.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from ray.tune import Callback

EVERY = 10.0  # seconds between progress lines


@dataclass
class Progress:
    """Counts of one moment of the sweep."""

    done: int = 0  # trained to the end
    running: int = 0
    stopped: int = 0  # ended early: by the scheduler, or the trial's own NaN or collapse check
    failed: int = 0
    pending: int = 0  # not started yet, or paused (a waiting ASHA trial)
    steps: int = 0  # steps trained, over every trial
    budget: int = 0  # steps the sweep would train if every trial went to the end
    step_ms: float | None = None  # mean of the running (else last) trials' measured time per step
    eta_s: float | None = None
    upper_bound: bool = False  # the ETA assumes every trial goes to the end (ASHA stops some earlier)

    def line(self) -> str:
        share = self.steps / self.budget if self.budget else 0.0
        parts = [f"progress: {self.done} done, {self.running} running, {self.stopped} stopped, {self.failed} failed, "
                 f"{self.pending} pending", f"steps {self.steps:,}/{self.budget:,} ({share:.0%})"]
        if self.step_ms is not None:
            parts.append(f"{self.step_ms:.0f} ms/step")
        if self.eta_s is not None:
            parts.append(f"ETA {'at most ' if self.upper_bound else ''}{duration(self.eta_s)}")
        return " | ".join(parts)


def duration(seconds: float) -> str:
    """``45 s``, ``12 min``, ``3.5 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def measure(trials: list, planned_steps, total_trials: int, base_steps: int, early_stopping: bool) -> Progress:
    """The sweep's progress from Ray's trials.

    Args:
        trials: Ray's trials so far (a sampled search adds them as it goes).
        planned_steps: a trial -> the steps it trains to the end (its config's ``train.steps``).
        total_trials: how many trials the sweep runs in all.
        base_steps: the planned steps of a trial not created yet.
        early_stopping: the scheduler stops trials early (the ETA is then an upper bound).
    """
    progress = Progress(upper_bound=early_stopping)
    remaining, step_times = 0, []
    for trial in trials:
        result = trial.last_result or {}
        reached, planned = int(result.get("step", 0) or 0), planned_steps(trial)
        progress.steps += reached
        progress.budget += planned
        if trial.status == "RUNNING":
            progress.running += 1
        elif trial.status == "ERROR":
            progress.failed += 1
        elif trial.status == "TERMINATED":
            if result.get("stop_reason") == "completed":
                progress.done += 1
            else:
                progress.stopped += 1
        else:  # PENDING, PAUSED
            progress.pending += 1
        if trial.status in ("RUNNING", "PENDING", "PAUSED"):
            remaining += max(0, planned - reached)
        step_ms = result.get("time/step_ms")
        if isinstance(step_ms, (int, float)) and math.isfinite(step_ms) and trial.status == "RUNNING":
            step_times.append(step_ms)
    unseen = max(0, total_trials - len(trials))
    progress.pending += unseen
    progress.budget += unseen * base_steps
    remaining += unseen * base_steps
    if not step_times:  # between trials: the last measured times
        step_times = [t.last_result["time/step_ms"] for t in trials
                      if isinstance((t.last_result or {}).get("time/step_ms"), (int, float))]
    if step_times:
        progress.step_ms = sum(step_times) / len(step_times)
        if remaining:
            # trials run side by side: as many as run now (at least one)
            progress.eta_s = remaining * progress.step_ms / 1000 / max(1, progress.running)
        else:
            progress.eta_s = 0.0
    return progress


class ProgressCallback(Callback):
    """Prints the progress line every :data:`EVERY` seconds, and when the sweep ends."""

    def __init__(self, plan: Any, every: float = EVERY):
        self.plan, self.every = plan, every
        self._last = 0.0
        self._steps: dict[str, int] = {}
        base_steps = int(plan.base["train"].get("steps", 1))
        self._base_steps = base_steps
        if plan.trials:  # a grid: every trial is known, each with its own steps
            steps = [int(plan.space.resolve(plan.base, t)["train"].get("steps", base_steps)) for t in plan.trials]
            self._total, self._base_steps = len(steps), round(sum(steps) / len(steps))
        else:
            self._total = plan.num_samples
        self._early = plan.scheduler == "asha"

    def _planned(self, trial) -> int:
        if trial.trial_id not in self._steps:
            config = self.plan.space.resolve(self.plan.base, trial.config)
            self._steps[trial.trial_id] = int(config["train"].get("steps", self._base_steps))
        return self._steps[trial.trial_id]

    def line(self, trials: list) -> str:
        return measure(trials, self._planned, max(self._total, len(trials)), self._base_steps, self._early).line()

    def on_step_end(self, iteration: int, trials: list, **info) -> None:
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            print(self.line(trials), flush=True)

    def on_experiment_end(self, trials: list, **info) -> None:
        print(self.line(trials), flush=True)
