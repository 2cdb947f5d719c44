"""Collapse detection on TCFL (the loop's generic check on the generator's noise maps): a generator that really
emits the same map for every input is stopped as "collapsed"; healthy trainings are not."""

import numpy as np
import pytest
import torch
from torch import nn

from restore_core import train
from restore_core.loop import CHECKPOINT_FILE
from restore_core.schema import validate_config
from restore_core.tasks import get_task

CPU = torch.device("cpu")


def config(gan_mode="lsgan", lr=1e-3, **train_options):
    return {
        "task": {"name": "tcfl", "gan_mode": gan_mode, "discriminator": {"name": "patchgan_in", "ndf": 8}},
        "data": {"tile": 32, "patch": 32, "n_scenes": 3, "n_clean": 3, "n_val": 3},
        "model": {"name": "dncnn", "depth": 4, "features": 8},
        "loss": {"tv": 1.0},
        "optim": {"lr": lr, "betas": [0.5, 0.999]},
        "train": {"steps": 20, "batch_size": 2, "eval_every": 10, "cost_size": 32, **train_options},
    }


def constant_generator_checkpoint(raw: dict, folder) -> None:
    """A step-0 checkpoint in the loop's format whose generator has its last conv zeroed: DnCNN has no biases, so
    it outputs exactly 0 for every input (clean estimate = input, TCFL's degenerate solution A = 0)."""
    cfg = validate_config(raw)
    cls = get_task("tcfl")
    task = cls(cfg, cls.prepare_data(cfg), CPU)
    generator = task.modules["generator"]
    last = [m for m in generator.modules() if isinstance(m, nn.Conv2d)][-1]
    nn.init.zeros_(last.weight)
    generator.eval()
    with torch.no_grad():
        outputs = generator(torch.rand(4, 1, 32, 32))
    assert torch.count_nonzero(outputs) == 0
    state = {
        "step": 0,
        "cost": {},
        "modules": {name: module.state_dict() for name, module in task.modules.items()},
        "optimizers": {name: optimizer.state_dict() for name, optimizer in task.optimizers.items()},
        "extra": task.extra_state(),
    }
    torch.save(state, folder / CHECKPOINT_FILE)


def test_a_generator_that_emits_a_constant_is_stopped_as_collapsed(tmp_path):
    # A learning rate of 1e-12 keeps the zeroed conv at ~1e-11 for the 10 steps before the first evaluation.
    raw = config(lr=1e-12)
    constant_generator_checkpoint(raw, tmp_path)
    result = train(raw, resume_from=str(tmp_path))
    assert result.stop_reason == "collapsed" and result.metrics["stop_reason"] == "collapsed"
    assert result.metrics["step"] == 10 and len(result.history) == 1  # stopped at the first evaluation
    # The "denoiser" returns its input: the metrics equal the noisy input's reference values.
    assert result.metrics["val/psnr"] == pytest.approx(result.metrics["val/ref_psnr"], abs=1e-4)


@pytest.mark.parametrize("gan_mode", ["lsgan", "wgan"])
def test_healthy_training_is_not_stopped(gan_mode):
    result = train(config(gan_mode))
    assert result.stop_reason == "completed" and [h["step"] for h in result.history] == [10, 20]
    assert all(np.isfinite(h["val/psnr"]) for h in result.history)


def test_injected_collapse_fault_stops_the_trial():
    result = train(config(fault="collapse", fault_step=15))
    assert result.stop_reason == "collapsed" and result.metrics["step"] == 20
    assert [h["stop_reason"] for h in result.history] == ["running", "collapsed"]
