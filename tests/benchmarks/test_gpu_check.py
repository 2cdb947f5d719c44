"""What of ``benchmarks/gpu_check.py`` can be checked without a GPU: its configs and sweep are valid for this
project as it is now, so that a GPU machine's few minutes are not spent on a renamed key."""

from __future__ import annotations

import importlib.util
import os

import pytest
import torch

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", os.path.join(ROOT, "benchmarks", "gpu_check.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_config_it_trains_is_valid(gpu_check):
    from restore_core.config import deep_merge
    from restore_core.schema import validate_config

    overrides = [{"train": {"amp": amp, "steps": 200, "eval_every": 100}} for amp in ("none", "bf16", "fp16")]
    overrides += [{"train": {"steps": 20, "eval_every": 10}},
                  {"train": {"steps": 20, "eval_every": 10, "fault": "oom", "fault_step": 15}}]
    for override in overrides:
        config = validate_config(deep_merge(gpu_check.PACK_BASE, override))
        assert config.train.device == "cuda" and config.model["width"] == 1.0


def test_its_packing_sweep_is_the_quick_lsid_lr_grid_on_the_gpu(gpu_check):
    from search_spaces import list_spaces
    from sweeps.driver.runner import plan_sweep
    from sweeps.settings.options import SweepOptions

    plan = plan_sweep(SweepOptions(space=gpu_check.PACKING_SPACE, search="grid", scheduler="fifo",
                                   sets={"train.device": "cuda"}))
    assert len(plan.trials) == 10 and plan.settings.profile == "quick" and plan.base["train"]["device"] == "cuda"
    assert set(gpu_check.STEP_OPTION_SPACES) <= set(list_spaces())


def test_its_probe_measures_a_quick_sid_trial_and_a_paper_size_pix2pix(gpu_check):
    from restore_core.models import create_model
    from restore_core.schema import validate_config

    sid, pix2pix = gpu_check.probe_configs().values()
    sizes = []
    for config in (sid, pix2pix):
        validated = validate_config(config)
        assert validated.train.device == "cuda"
        with torch.device("meta"):
            sizes.append(sum(p.numel() for p in create_model(**config["model"]).parameters()))
        sizes.append((config["train"]["batch_size"], config["data"].get("patch", config["data"]["tile"])))
    assert sizes == [7_760_748, (4, 64), 54_413_955, (16, 256)]
    assert pix2pix["task"]["ndf"] == 64 and pix2pix["data"]["source"] == "synthetic"


def test_its_training_config_trains_here_on_cpu(gpu_check):
    from restore_core.config import deep_merge
    from restore_core.loop import train

    result = train(deep_merge(gpu_check.PACK_BASE, {"train": {"device": "cpu", "amp": "bf16", "steps": 2,
                                                                "eval_every": 2}}))
    assert result.stop_reason == "completed" and result.metrics["val/psnr"] > 0
