"""The files a trial's folder holds beyond Ray's, and the rules that read its reports: which evaluation selects the
checkpoint (the best on validation), whether the trial fell from that peak, and ``test.json``, the test evaluation
of the selected checkpoint. Here, below the sweep driver and the analysis, so that both read them the same way.

``test.json`` (written atomically, once per selected checkpoint)::

    {"step": 700,                          # the step of the selected checkpoint (its best validation evaluation)
     "checkpoint": "checkpoint_000006",    # Ray's folder of that checkpoint
     "metric": "val/psnr", "value": 24.1,  # what selected it
     "metrics": {"test/psnr": 23.8, "test/ssim": 0.61, ...},
     "images": {"input": "<PNG, base64>", "output": ..., "target": ...},  # the first test image, centre crop
     "last": {"step": 1200, "checkpoint": ..., "images": {...}},          # degraded trials: the last checkpoint's
     "tables": {...}, "seconds": 1.3, "device": "cpu"}
"""

from __future__ import annotations

import base64
import io
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from restore_core.errors import DataError
from restore_core.io import read_json_object, write_json_atomic

TEST_FILE = "test.json"
# The folder a trial's checkpoint is saved in before Ray takes it (restore_core.loop), inside the trial's folder on
# local storage; a dot, so that no reader of the run looks at it, and one left by a killed worker is removed on resume.
STAGED_CHECKPOINT_PREFIX = ".ckpt-"
TEST_FORMAT = ('a trial\'s test.json is the test evaluation of its selected checkpoint, {"step": ..., "metrics": '
               '{...}, ...}, as the sweep writes it')
# Per metric kind: how far below its peak (above, for a metric where lower is better) a trial's last validation value
# may end before the trial is flagged degraded. Justified in docs/analysis.md: well above what one evaluation of
# the quick profiles moves while a trial still improves, and below the differences the studies compare.
DEGRADE_TOLERANCE = {"psnr": 1.0, "ssim": 0.05, "ms_ssim": 0.05, "uqi": 0.05, "epi": 0.05, "auc": 0.05, "f1": 0.05}


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def metric_kind(metric: str) -> str:
    """``val/psnr`` and ``val/delta_psnr`` -> ``psnr``: the key of :data:`DEGRADE_TOLERANCE`."""
    return metric.rsplit("/", 1)[-1].removeprefix("delta_").removeprefix("ref_")


def select_report(reports: Sequence[Mapping[str, Any]], metric: str, lower_is_better: bool) -> Mapping | None:
    """The evaluation that selects a trial's checkpoint: the best finite ``metric``; of equal values the later, as
    Ray's ``CheckpointConfig(checkpoint_score_attribute=...)`` keeps them (so the selected checkpoint is the one
    Ray kept). None when no report has a finite value (the trial has nothing to select)."""
    best = None
    for report in reports:
        value = report.get(metric)
        if not _finite(value):
            continue
        if best is None or (value <= best[metric] if lower_is_better else value >= best[metric]):
            best = report
    return best


@dataclass(frozen=True)
class Degradation:
    """A trial whose last validation value ended more than ``tolerance`` worse than its peak."""

    peak: float
    peak_step: int
    last: float
    last_step: int
    tolerance: float

    def describe(self, digits: int = 2) -> str:
        return (f"fell from {self.peak:.{digits}f} at step {self.peak_step} to {self.last:.{digits}f} at step "
                f"{self.last_step}")


def degradation(reports: Sequence[Mapping[str, Any]], metric: str, lower_is_better: bool,
                tolerances: Mapping[str, float]) -> Degradation | None:
    """Whether the trial fell from its peak: its last evaluation's ``metric`` (NaN counts as fallen) is more than the
    tolerance of the metric's kind worse than the selected (best) one. None: not degraded, nothing to judge, or no
    tolerance for this kind of metric."""
    peak = select_report(reports, metric, lower_is_better)
    tolerance = tolerances.get(metric_kind(metric))
    if peak is None or not reports or tolerance is None:
        return None
    last = reports[-1]
    value = last.get(metric)
    fallen = not _finite(value) or (value - peak[metric] > tolerance if lower_is_better
                                    else peak[metric] - value > tolerance)
    if not fallen:
        return None
    return Degradation(float(peak[metric]), int(peak.get("step", 0)), float(value) if _finite(value) else math.nan,
                       int(last.get("step", 0)), float(tolerance))


def encode_png(image: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_png(text: str) -> np.ndarray:
    """An image :func:`encode_png` wrote, as ``(H, W, 3)`` uint8."""
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(text))).convert("RGB"))


def read_test(trial_dir: str) -> dict[str, Any] | None:
    """The trial's test evaluation (None: not evaluated on test yet).

    Raises:
        DataError: ``test.json`` is not what :func:`write_test` writes.
    """
    path = os.path.join(trial_dir, TEST_FILE)
    record = read_json_object(path, TEST_FORMAT)
    if record is None:
        return None
    metrics = record.get("metrics")
    if not isinstance(record.get("step"), int) or isinstance(record.get("step"), bool) or not isinstance(metrics, dict):
        raise DataError(f"{path} has no whole-number 'step' and 'metrics' object; {TEST_FORMAT}")
    return record


def write_test(trial_dir: str, record: Mapping[str, Any]) -> None:
    write_json_atomic(os.path.join(trial_dir, TEST_FILE), dict(record))


def is_tested(record: Mapping[str, Any] | None, selected: Mapping[str, Any] | None) -> bool:
    """Whether ``test.json`` evaluated the checkpoint the reports select now (a trial that went on after an analysis
    of a live sweep may since have selected a later one)."""
    return record is not None and selected is not None and record.get("step") == selected.get("step")
