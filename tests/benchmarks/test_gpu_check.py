"""What of ``benchmarks/gpu_check.py`` can be checked without a GPU: its configs and sweep are valid for this
project as it is now, so that a GPU machine's few minutes are not spent on a renamed key."""

from __future__ import annotations

import importlib.util
import os

import pytest

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


def test_its_packing_sweep_plans_four_trials(gpu_check):
    from search_spaces import SPACES, list_spaces, register_space
    from sweeps.driver.runner import plan_sweep
    from sweeps.settings.options import SweepOptions

    if gpu_check.PACK.name not in SPACES:
        register_space(gpu_check.PACK)
    plan = plan_sweep(SweepOptions(space=gpu_check.PACK.name, profile="smoke", gpus_per_trial=0.25, max_concurrent=4))
    assert len(plan.trials) == 4 and plan.scheduler == "fifo"
    assert set(gpu_check.STEP_OPTION_SPACES) <= set(list_spaces())


def test_its_training_config_trains_here_on_cpu(gpu_check):
    from restore_core.config import deep_merge
    from restore_core.loop import train

    result = train(deep_merge(gpu_check.PACK_BASE, {"train": {"device": "cpu", "amp": "bf16", "steps": 2,
                                                                "eval_every": 2}}))
    assert result.stop_reason == "completed" and result.metrics["val/psnr"] > 0
