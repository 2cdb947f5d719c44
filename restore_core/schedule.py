"""Learning-rate schedules as a multiplier of the base rate, over the fraction of training done."""

from __future__ import annotations

import bisect

from restore_core.sections import OptimConfig


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

