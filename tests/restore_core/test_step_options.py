"""The opt-in step options train.channels_last and train.compile: validated, applied in place, same checkpoints."""

import pytest
import torch
from torch._dynamo.utils import counters

from restore_core.config import set_path
from restore_core.errors import ConfigError
from restore_core.loop import CHECKPOINT_FILE, pick_device, train
from restore_core.schema import validate_config
from restore_core.step_options import apply_step_options
from restore_core.tasks import get_task


@pytest.fixture(scope="module")
def step_config(config):
    """The 4-step lsid_lr smoke config with a one-level SID U-Net (the study's variant "7"): the options act on
    every module the same way, and Inductor compiles a few kernels instead of the four-level network's many."""
    return set_path(config, "model.levels", [1])


@pytest.fixture(scope="module")
def eager(step_config, shared):
    """The eager run and its step-2 checkpoint, the reference of every option."""
    states = {}
    result = train(step_config, data=shared, report=lambda m, folder: states.setdefault(m["step"], _load(folder)))
    return result, states


def _load(folder: str) -> dict:
    return torch.load(f"{folder}/{CHECKPOINT_FILE}", weights_only=False)


@pytest.mark.parametrize("key", ["channels_last", "compile"])
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_options_must_be_bools(step_config, key, value):
    with pytest.raises(ConfigError, match=f"config key 'train.{key}' must be bool, got {value!r}"):
        validate_config(set_path(step_config, f"train.{key}", value))
    assert getattr(validate_config(set_path(step_config, f"train.{key}", True)).train, key) is True


def test_channels_last_converts_weights_in_place(step_config, shared):
    """The optimizer still holds the module's parameters, now channels-last; the state_dict keys are unchanged."""
    cfg = validate_config(set_path(step_config, "train.channels_last", True))
    task = get_task(cfg.task_name)(cfg, shared.data, pick_device(cfg))
    params = list(task.optimizers["model"].param_groups[0]["params"])
    keys = list(task.modules["model"].state_dict())
    apply_step_options(task.modules, cfg.train)
    model = task.modules["model"]
    convs = [p for p in model.parameters() if p.dim() == 4]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    assert all(a is b for a, b in zip(params, model.parameters(), strict=True))
    assert list(model.state_dict()) == keys


def test_channels_last_trains_to_the_same_metrics(step_config, shared, eager):
    result = train(set_path(step_config, "train.channels_last", True), data=shared).metrics
    reference = eager[0].metrics
    assert result["val/psnr"] == pytest.approx(reference["val/psnr"], abs=1e-3)
    assert result["train/loss"] == pytest.approx(reference["train/loss"], rel=1e-4)
    assert result["cost/macs"] == reference["cost/macs"]


def test_compiled_run_checkpoints_eager_keys_and_resumes(step_config, shared, eager, tmp_path):
    """One compiled run: it compiles, matches the eager run, saves eager state_dict keys and resumes from step 2."""
    compiled = set_path(step_config, "train.compile", True)
    states = {}
    counters.clear()
    result = train(compiled, data=shared, report=lambda m, folder: states.setdefault(m["step"], _load(folder)))
    assert counters["stats"]["unique_graphs"] >= 2  # a training graph and an evaluation (no-grad) graph
    reference, eager_states = eager
    assert result.metrics["val/psnr"] == pytest.approx(reference.metrics["val/psnr"], abs=1e-3)
    assert list(states[2]["modules"]["model"]) == list(eager_states[2]["modules"]["model"])
    assert not any("_orig_mod" in key for key in states[2]["modules"]["model"])

    torch.save(states[2], tmp_path / CHECKPOINT_FILE)
    resumed = train(compiled, data=shared, resume_from=str(tmp_path))
    assert resumed.history[0]["step"] == 4 and resumed.stop_reason == "completed"
    assert resumed.metrics["val/psnr"] == pytest.approx(result.metrics["val/psnr"], abs=1e-4)
    assert resumed.metrics["cost/params"] == result.metrics["cost/params"]
