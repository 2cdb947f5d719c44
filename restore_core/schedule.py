"""Learning-rate schedules as a multiplier of the base rate, over the fraction of training done."""

from __future__ import annotations

import bisect

from restore_core.schema import OptimConfig


def lr_factor(optim: OptimConfig, step: int, total_steps: int) -> float:
    """The multiplier of ``optim.lr`` at ``step`` of ``total_steps``.

    ``step``: ×``gamma`` for every milestone passed (SID: 1e-4, then 1e-5 after half of training).
    ``linear``: 1 until ``decay_start``, then linearly to 0 at the end (pix2pix's ``lambda`` policy).
    """
    progress = step / total_steps
    if optim.schedule == "step":
        return optim.gamma ** bisect.bisect_right(optim.milestones, progress)
    if progress < optim.decay_start:
        return 1.0
    return max(0.0, 1.0 - (progress - optim.decay_start) / (1.0 - optim.decay_start))


def schedule_label(optim: OptimConfig) -> str:
    """``1e-3→1e-4 @2.5%`` style label of a step schedule."""
    rates = [optim.lr * optim.gamma**i for i in range(len(optim.milestones) + 1)]
    text = "→".join(f"{r:.0e}".replace("e-0", "e-") for r in rates)
    if optim.milestones:
        text += " @" + ",".join(f"{m * 100:g}%" for m in optim.milestones)
    return text
