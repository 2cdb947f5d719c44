"""The low-light task's metric convention: val/psnr and val/ssim (and their references) on float images, or on uint8
images with scikit-image as Lamba & Mitra's run_test measures them."""

import pytest
import torch

from restore_core.metrics import psnr, psnr_uint8, ssim_uint8
from restore_core.schema import validate_config
from restore_core.tasks.lowlight import LowLightTask
from search_spaces import get_space


def build(convention):
    space = get_space("lamba_loss")
    config = space.resolve(space.base_config("smoke", {"task.metric_convention": convention}), {"row": space.baseline,
                                                                                               "seed": 0})
    cfg = validate_config(config)
    return LowLightTask(cfg, LowLightTask.prepare_data(cfg), torch.device("cpu"))


def test_uint8_convention_measures_what_run_test_measures():
    plain, lamba = build("float"), build("skimage_uint8")
    val, plain_val = lamba.eval_set("val"), plain.eval_set("val")
    reference, target = val["reference"], val["target"]
    assert val["metrics"]["val/ref_psnr"] == pytest.approx(psnr_uint8(reference, target).mean().item())
    assert val["metrics"]["val/ref_ssim"] == pytest.approx(ssim_uint8(reference, target).mean().item())
    assert plain_val["metrics"]["val/ref_psnr"] == pytest.approx(psnr(reference, target).mean().item())
    assert plain_val["metrics"]["val/ref_ssim"] != pytest.approx(val["metrics"]["val/ref_ssim"], abs=1e-3)
    metrics = lamba.evaluate().metrics
    assert metrics["val/delta_psnr"] == pytest.approx(metrics["val/psnr"] - metrics["val/ref_psnr"])
