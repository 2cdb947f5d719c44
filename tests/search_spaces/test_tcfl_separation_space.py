"""The tcfl_separation space: the reproduction's σ grid of the separation term, generator-only (no discriminator in
any trial), its pairs against σ = 0, valid configs in every profile, and a smoke trial."""

import numpy as np
import pytest
import torch

from restore_core import train
from restore_core.errors import ConfigError
from restore_core.schema import validate_config
from restore_core.tasks import get_task
from search_spaces import get_space
from search_spaces.tcfl_separation import SIGMAS

SPACE = get_space("tcfl_separation")


def configs(profile: str, tmp_path) -> dict[str, dict]:
    overrides = {"data.root": str(tmp_path)} if profile == "paper" else {}
    base = SPACE.base_config(profile, overrides)
    return {SPACE.label(trial): SPACE.resolve(base, trial) for trial in SPACE.grid_trials(seeds=1)}


def test_grid_is_the_reproduction_sigmas_generator_only(tmp_path):
    resolved = configs("quick", tmp_path)
    assert SIGMAS[1:] == (0.1, 0.5, 1, 2.5, 5, 10)  # the reproduction's six images; 0 is the run without the term
    assert {label: (c["task"]["gan_mode"], c["loss"]) for label, c in resolved.items()} == {
        f"sigma={s}": ("none", {"tv": 0.0, "separation": s}) for s in SIGMAS
    }
    assert SPACE.baseline == "sigma=0" and [p.label for p in SPACE.pairs] == [
        f"sigma={s} − sigma=0" for s in SIGMAS[1:]
    ]


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_every_config_validates_and_builds_no_discriminator(profile, tmp_path):
    for name, config in configs(profile, tmp_path).items():
        cfg = validate_config(config)
        assert cfg.task.gan_mode == "none" and cfg.task.identity_weight == 6.0, name
    if profile == "smoke":
        cfg = validate_config(config)
        cls = get_task("tcfl")
        task = cls(cfg, cls.prepare_data(cfg), torch.device("cpu"))
        assert list(task.modules) == ["generator"]
    with pytest.raises(ConfigError, match="has no reproduction profile"):
        SPACE.base_config("reproduction")


def test_smoke_trial_trains_the_generator_alone():
    result = train(SPACE.resolve(SPACE.base_config("smoke"), {"loss.separation": 2.5, "seed": 0}))
    assert result.stop_reason == "completed" and result.metrics["step"] == 16
    assert "train/loss_d" not in result.metrics and "train/loss_adv" not in result.metrics
    assert -1 < result.metrics["train/loss_sep"] < 0
    assert np.isfinite(result.metrics["val/psnr"]) and np.isfinite(result.metrics["val/baseline/bm3d/psnr"])
