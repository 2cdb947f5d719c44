"""The rules that read a trial's reports (the selected evaluation, the degradation flag) and ``test.json``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from restore_core.errors import DataError
from restore_core.run_files import (
    DEGRADE_TOLERANCE,
    decode_png,
    degradation,
    encode_png,
    is_tested,
    metric_kind,
    read_test,
    select_report,
    write_test,
)
from restore_core.schema import validate_config


def reports(*values, metric: str = "val/psnr") -> list[dict]:
    return [{"step": 100 * (i + 1), metric: v} for i, v in enumerate(values)]


def test_the_selected_evaluation_is_the_best_finite_one_and_the_later_of_equals():
    assert select_report(reports(20.0, 25.0, 22.0), "val/psnr", False)["step"] == 200
    assert select_report(reports(20.0, 25.0, 25.0), "val/psnr", False)["step"] == 300  # as Ray keeps equal scores
    assert select_report(reports(3.0, 1.0, 2.0, metric="val/loss"), "val/loss", True)["step"] == 200  # lower is better
    assert select_report(reports(math.nan, 21.0, math.inf), "val/psnr", False)["step"] == 200
    assert select_report(reports(math.nan), "val/psnr", False) is None


def test_a_trial_that_ends_more_than_the_tolerance_below_its_peak_is_degraded():
    fell = degradation(reports(19.39, 10.69, 5.99), "val/psnr", False, DEGRADE_TOLERANCE)
    assert (fell.peak, fell.peak_step, fell.last, fell.last_step) == (19.39, 100, 5.99, 300)
    assert fell.describe() == "fell from 19.39 at step 100 to 5.99 at step 300"
    assert degradation(reports(20.0, 19.1), "val/psnr", False, DEGRADE_TOLERANCE) is None  # 0.9 dB < 1 dB
    assert degradation(reports(20.0, 18.9), "val/psnr", False, {"psnr": 1.0}) is not None
    assert degradation(reports(20.0, math.nan), "val/psnr", False, DEGRADE_TOLERANCE).describe().endswith(
        "nan at step 200")

    def fell(metric: str, lower: bool, tolerances: dict, *values) -> bool:
        return degradation(reports(*values, metric=metric), metric, lower, tolerances) is not None

    assert fell("val/ssim", False, DEGRADE_TOLERANCE, 0.9, 0.84)  # 0.06 > 0.05
    assert fell("val/loss", True, {"loss": 1.0}, 1.0, 3.0)  # lower is better: it rose by 2
    assert not fell("val/gcmse", True, DEGRADE_TOLERANCE, 20.0, 5.0)  # no tolerance for this kind of metric
    assert metric_kind("val/delta_psnr") == metric_kind("test/psnr") == "psnr"


def test_the_tolerance_is_a_train_option_each_kind_of_which_keeps_its_default():
    config = {"task": {"name": "lowlight"}, "model": {"name": "sid_unet"}, "loss": {"l1": 1.0},
              "train": {"degrade_tolerance": {"psnr": 0.5}}}
    assert validate_config(config, cross_field=False).train.degrade_tolerance == {**DEGRADE_TOLERANCE, "psnr": 0.5}
    config["train"]["degrade_tolerance"] = {"ssim": -0.1}
    with pytest.raises(Exception, match=r"train.degrade_tolerance.ssim must be a finite number >= 0"):
        validate_config(config, cross_field=False)


def test_test_json_round_trip_and_a_corrupt_one_is_a_data_error(tmp_path):
    image = np.arange(48, dtype=np.uint8).reshape(4, 4, 3)
    write_test(str(tmp_path), {"step": 200, "metrics": {"test/psnr": 21.5}, "images": {"output": encode_png(image)}})
    record = read_test(str(tmp_path))
    assert record["metrics"] == {"test/psnr": 21.5} and np.array_equal(decode_png(record["images"]["output"]), image)
    assert is_tested(record, {"step": 200}) and not is_tested(record, {"step": 300}) and not is_tested(None, {})
    assert read_test(str(tmp_path / "nowhere")) is None
    (tmp_path / "test.json").write_text(json.dumps({"step": "200", "metrics": {}}))
    with pytest.raises(DataError, match=r"test.json has no whole-number 'step' and 'metrics' object"):
        read_test(str(tmp_path))
