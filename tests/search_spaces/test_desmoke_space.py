"""The desmoke_dark_channel space: the 2 × 3 grid, its pairs, valid configs in every profile, the study's recipe,
and a smoke sweep through Ray Tune."""

import numpy as np
import pytest

from analysis import load_run
from restore_core.cost import count_parameters
from restore_core.errors import ConfigError
from restore_core.models import create_model
from restore_core.schema import validate_config
from search_spaces import get_space
from sweeps.run import main

SPACE = get_space("desmoke_dark_channel")
LABELS = [f"{size}, dark={mode}" for size in ("full", "small") for mode in ("none", "min", "patch15")]


def configs(profile: str, tmp_path) -> dict[str, dict]:
    # paper and reproduction read users' paired folders
    overrides = {"data.root": str(tmp_path)} if profile in ("paper", "reproduction") else {}
    base = SPACE.base_config(profile, overrides)
    return {SPACE.label(trial): SPACE.resolve(base, trial) for trial in SPACE.grid_trials(seeds=1)}


def test_grid_is_generator_size_times_dark_channel(tmp_path):
    resolved = configs("quick", tmp_path)
    assert list(resolved) == LABELS
    assert {label: (c["model"]["variant"], c["task"]["dark_channel"]) for label, c in resolved.items()} == {
        f"{size}, dark={mode}": (size, mode) for size in ("full", "small") for mode in ("none", "min", "patch15")
    }
    assert len(SPACE.grid_trials(seeds=3)) == 18 and SPACE.baseline == "full, dark=none"


def test_pairs_compare_with_and_without_dark_channel_for_each_generator():
    dark = [(p.a, p.b) for p in SPACE.pairs if p.kind == "dark channel"]
    assert dark == [("full, dark=min", "full, dark=none"), ("full, dark=patch15", "full, dark=none"),
                    ("small, dark=min", "small, dark=none"), ("small, dark=patch15", "small, dark=none")]
    assert all(p.a in LABELS and p.b in LABELS for p in SPACE.pairs)
    assert set(SPACE.reported) <= set(LABELS)


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper", "reproduction"])
def test_every_grid_config_validates_with_matching_input_channels(profile, tmp_path):
    for label, config in configs(profile, tmp_path).items():
        cfg = validate_config(config)
        assert cfg.task_name == "desmoke" and cfg.model["name"] == "pix2pix_unet", label
        assert cfg.data.tile % 256 == 0 and cfg.train.cost_size % 256 == 0  # unet_256's 8 down-samplings
        # A wrong explicit channel count is refused before any trial starts.
        wrong = 4 if cfg.task.dark_channel == "none" else 3
        with pytest.raises(ConfigError, match="does not match task.dark_channel"):
            validate_config({**config, "model": {**config["model"], "in_channels": wrong}})


def test_reproduction_profile_is_the_dl4h_recipe_and_alone_meets_its_numbers(tmp_path):
    cfg = validate_config(configs("reproduction", tmp_path)["full, dark=none"])
    task = cfg.task
    assert (task.conditional_d, task.gan_loss, task.swap_d_labels, task.augment, task.uqi) == (
        False, "l1", True, "dl4h", "gaussian11")
    assert task.dark_channel_before_transforms and (cfg.data.tile, cfg.data.patch) == (512, 256)
    assert (cfg.train.batch_size, cfg.train.steps, cfg.optim.lr, cfg.optim.milestones) == (8, 60 * 27_464, 2e-4, [])
    assert (cfg.model["ngf"], task.ndf) == (64, 64)
    assert SPACE.reported_for("reproduction") == SPACE.reported
    assert SPACE.reported["full, dark=none"]["val/uqi"] == 0.6844
    assert SPACE.reported_for("quick") == SPACE.reported_for("paper") == {}  # other recipes, not comparable


def test_quick_and_paper_use_the_studys_gan_recipe(tmp_path):
    for profile in ("quick", "paper"):
        cfg = validate_config(configs(profile, tmp_path)["full, dark=min"])
        assert (cfg.optim.lr, cfg.optim.betas, cfg.optim.schedule) == (2e-4, [0.5, 0.999], "linear")
        assert (cfg.task.gan_loss, cfg.task.lambda_l1, cfg.task.d_layers) == ("vanilla", 100.0, 3)
        assert cfg.model["init"] == "xavier" and cfg.data.tile == 256
    paper = validate_config(configs("paper", tmp_path)["full, dark=min"])
    assert (paper.model["ngf"], paper.task.ndf, paper.train.batch_size) == (64, 64, 16)
    assert paper.optim.decay_start == pytest.approx(50 / 55) and paper.data.source == "folders"
    quick = validate_config(configs("quick", tmp_path)["full, dark=min"])
    assert quick.optim.decay_start == 0.5 and quick.model["ngf"] == quick.task.ndf < 64


def test_paper_generator_is_unet_256():
    assert count_parameters(create_model("pix2pix_unet", variant="full", in_channels=3, ngf=64)) == 54_413_955


@pytest.fixture(scope="module")
def grid_run(ray_session, tmp_path_factory):
    """The smoke grid swept once through Ray Tune (6 trials); the tests below assert on its trials."""
    storage = tmp_path_factory.mktemp("desmoke")
    assert main(["--space", "desmoke_dark_channel", "--profile", "smoke", "--storage", str(storage), "--name", "grid",
                 "--verbose", "0"]) == 0
    return load_run(str(storage / "desmoke_dark_channel" / "grid"))


@pytest.mark.parametrize("size", ["full", "small"])
def test_smoke_trial_of_each_generator_trains(grid_run, size):
    """The trial ``{"row": size, "task.dark_channel": "patch15", "seed": 0}`` of the swept grid: trained to the end,
    every loss and metric finite in its last report."""
    trial = grid_run[grid_run["label"] == f"{size}, dark=patch15"]
    assert len(trial) == 1
    trial = trial.iloc[0]
    assert (trial["seed"], trial["config/model.variant"], trial["config/task.dark_channel"]) == (0, size, "patch15")
    assert trial["status"] == "completed" and trial["reason"] == "trained to the end" and trial["last/step"] == 2
    keys = ("train/loss_g", "train/loss_d", "val/psnr", "val/ssim", "val/uqi", "val/ref_uqi", "val/delta_psnr")
    assert all(np.isfinite(trial[f"last/{k}"]) for k in keys)


def test_grid_sweep_end_to_end(grid_run):
    frame = grid_run
    assert sorted(frame["label"]) == sorted(LABELS) and (frame["status"] == "completed").all()
    assert (frame["best/val/ref_psnr"] > 5).all() and frame["best/val/uqi"].between(-1, 1).all()
    params = frame.set_index("label")["last/cost/params"]
    assert params["full, dark=min"] > params["small, dark=min"] and params["full, dark=min"] > params["full, dark=none"]
