"""The desmoking GAN task: one G and one D step, the dark channel in the generator's input, the reference and delta
metrics, TensorBoard images, checkpoints of both networks and optimizers, real paired folders and config errors."""

import math

import cv2
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from restore_core.config import set_path
from restore_core.data.dark_channel import dark_channel
from restore_core.errors import ConfigError, DataError
from restore_core.loop import CHECKPOINT_FILE, prepare_shared_data, train
from restore_core.metrics import psnr, uqi
from restore_core.schema import validate_config
from restore_core.tasks import get_task

# The small generator (6 down-samplings) on 64-pixel tiles: a whole trial in about a second.
CONFIG = {
    "task": {"name": "desmoke", "dark_channel": "min", "ndf": 4, "d_layers": 2},
    "data": {"tile": 64, "n_train": 2, "n_val": 2, "smoke_per_tile": 2},
    "model": {"name": "pix2pix_unet", "variant": "small", "ngf": 4},
    "optim": {"lr": 2e-4, "betas": [0.5, 0.999], "schedule": "linear", "decay_start": 0.5},
    "train": {"steps": 4, "eval_every": 2, "cost_size": 64, "log_images": 2, "threads": 1},
}


def make_task(config=CONFIG, data=None):
    cfg = validate_config(config)
    task_cls = get_task("desmoke")
    return task_cls(cfg, data if data is not None else task_cls.prepare_data(cfg), torch.device("cpu"))


def weights(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items() if v.is_floating_point()}


@pytest.mark.parametrize("gan_loss", ["vanilla", "lsgan"])
def test_one_step_updates_generator_and_discriminator_with_finite_losses(gan_loss):
    torch.manual_seed(0)
    task = make_task(set_path(CONFIG, "task.gan_loss", gan_loss))
    before = {name: weights(module) for name, module in task.modules.items()}
    losses = task.train_step(task.sample_batch(np.random.default_rng(0)))
    assert set(losses) == {"loss", "loss_g", "loss_d", "loss_gan", "loss_l1"}
    assert all(torch.isfinite(v) and v.ndim == 0 and not v.requires_grad for v in losses.values())
    assert losses["loss"] == losses["loss_g"]
    parts = losses["loss_gan"].item() + 100 * losses["loss_l1"].item()
    assert losses["loss_g"].item() == pytest.approx(parts, rel=1e-5)
    # Untrained: the L1 in [-1, 1] is a sizeable fraction of the range, D is near chance (ln 2 or 0.25 for lsgan).
    assert 0.05 < losses["loss_l1"].item() < 2
    assert 0 < losses["loss_d"].item() < 5
    for name, module in task.modules.items():
        after = weights(module)
        conv_weights = [k for k in after if k.endswith("weight") and after[k].ndim == 4]
        assert all(not torch.equal(before[name][k], after[k]) for k in conv_weights), name
        assert all(p.requires_grad for p in module.parameters()), name  # D is trainable again after the G step
    assert task.optimizers["generator"].param_groups[0]["betas"] == (0.5, 0.999)
    assert {name: opt.state_dict()["state"][0]["step"].item() for name, opt in task.optimizers.items()} == {
        "generator": 1.0, "discriminator": 1.0}


def test_dark_channel_is_the_fourth_input_channel_on_a_hand_made_image():
    # R, G, B = 0.2, 0.6, 0.9 everywhere, and one pixel with a black blue channel.
    image = np.empty((1, 3, 64, 64), np.float32)
    image[:, 0], image[:, 1], image[:, 2] = 0.2, 0.6, 0.9
    image[0, 2, 30, 40] = 0.0
    inputs = {mode: make_task(set_path(CONFIG, "task.dark_channel", mode)).network_input(image)
              for mode in ("none", "min", "patch15")}
    assert inputs["none"].shape == (1, 3, 64, 64) and inputs["min"].shape == (1, 4, 64, 64)
    for mode in ("none", "min", "patch15"):
        np.testing.assert_allclose(inputs[mode][0, :3], image[0] * 2 - 1)  # RGB in [-1, 1] as pix2pix
    per_pixel = inputs["min"][0, 3]
    assert per_pixel[30, 40] == -1 and np.allclose(np.delete(per_pixel.ravel(), 30 * 64 + 40), 0.2 * 2 - 1)
    patch = inputs["patch15"][0, 3]  # the 15×15 min-filter spreads the black pixel over its neighbourhood
    dark_block = np.zeros((64, 64), bool)
    dark_block[23:38, 33:48] = True
    assert (patch[dark_block] == -1).all() and np.allclose(patch[~dark_block], -0.6)


@pytest.mark.parametrize("mode", ["min", "patch15"])
def test_training_batches_carry_the_dark_channel_of_their_smoky_image(mode):
    task = make_task(set_path(CONFIG, "task.dark_channel", mode))
    smoky = task.data["train"].smoky
    expected = np.stack([dark_channel(s.transpose(1, 2, 0), mode) for s in smoky]) * 2 - 1
    np.testing.assert_allclose(task.train_input[:, 3], expected, atol=1e-6)
    # Flipped batches too: the dark channel of the flipped image is the flipped dark channel.
    condition, target = task.sample_batch(np.random.default_rng(3))
    for rgbd in condition.numpy():
        recomputed = dark_channel((rgbd[:3].transpose(1, 2, 0) + 1) / 2, mode) * 2 - 1
        np.testing.assert_allclose(rgbd[3], recomputed, atol=1e-5)
    assert condition.shape == (1, 4, 64, 64) and target.shape == (1, 3, 64, 64)
    assert -1 <= target.min() and target.max() <= 1


def test_reference_and_delta_metrics_compare_the_smoky_input_with_the_target():
    task = make_task()
    metrics = task.evaluate().metrics
    val = task.data["val"]
    smoky, clean = torch.from_numpy(val.smoky), torch.from_numpy(val.clean)
    assert metrics["val/ref_psnr"] == pytest.approx(psnr(smoky, clean).mean().item())
    assert metrics["val/ref_uqi"] == pytest.approx(uqi(smoky, clean).mean().item())
    assert 8 < metrics["val/ref_psnr"] < 30 and 0 < metrics["val/ref_ssim"] < 1  # smoke hides part of the image
    for name in ("psnr", "ssim", "uqi"):
        assert metrics[f"val/delta_{name}"] == pytest.approx(metrics[f"val/{name}"] - metrics[f"val/ref_{name}"])
        assert math.isfinite(metrics[f"val/{name}"])


def test_synthetic_pairs_follow_the_data_seed_only():
    cfg = validate_config(CONFIG)
    first, again = get_task("desmoke").prepare_data(cfg), get_task("desmoke").prepare_data(cfg)
    other = get_task("desmoke").prepare_data(validate_config(set_path(CONFIG, "data.seed", 1)))
    np.testing.assert_array_equal(first["train"].smoky, again["train"].smoky)
    assert np.abs(first["train"].alpha - other["train"].alpha).mean() > 0.05
    np.testing.assert_array_equal(first["train"].clean, other["train"].clean)  # same tiles, other smoke
    assert first["train"].smoky.shape == (4, 3, 64, 64) and first["val"].alpha.shape == (2, 64, 64)
    # Two smokes of one tile differ; the image under them is the same.
    np.testing.assert_array_equal(first["train"].clean[0], first["train"].clean[1])
    assert np.abs(first["train"].smoky[0] - first["train"].smoky[1]).mean() > 0.01


def test_tensorboard_holds_the_studys_images_and_both_losses(tmp_path):
    result = train(CONFIG, logdir=str(tmp_path))
    assert result.stop_reason == "completed"
    events = EventAccumulator(str(tmp_path), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    names = ("input", "dark_channel", "output", "smoke_mask", "target")
    assert set(events.Tags()["images"]) == {f"images/{n}" for n in names}
    for name in names:
        logged = events.Images(f"images/{name}")
        assert [e.step for e in logged] == [2, 4]
        assert (logged[-1].height, logged[-1].width) == (64, 2 * 64)  # two validation images side by side
    scalars = set(events.Tags()["scalars"])
    assert {"train/loss_g", "train/loss_d", "val/psnr", "val/ref_uqi", "val/delta_ssim"} <= scalars
    assert events.Scalars("val/ref_psnr")[0].value == pytest.approx(result.metrics["val/ref_psnr"])


def test_without_dark_channel_no_dark_image_and_three_input_channels(tmp_path):
    task = make_task(set_path(CONFIG, "task.dark_channel", "none"))
    assert "dark_channel" not in task.evaluate().images
    assert task.modules["generator"].downs[0].in_channels == 3
    assert task.modules["discriminator"].model[0].in_channels == 6 and task.cost_input(64).shape == (1, 3, 64, 64)


def test_checkpoint_restores_both_networks_and_optimizers(tmp_path):
    """Four steps at once equal two steps, a checkpoint, and two more from it."""
    config = set_path(CONFIG, "train.eval_every", 2)
    shared = prepare_shared_data(config)
    states = {}

    def keep(metrics, folder):
        states[metrics["step"]] = torch.load(f"{folder}/{CHECKPOINT_FILE}", weights_only=False)
        if metrics["step"] == 2:
            (tmp_path / "ckpt").mkdir()
            (tmp_path / "ckpt" / CHECKPOINT_FILE).write_bytes(open(f"{folder}/{CHECKPOINT_FILE}", "rb").read())

    straight = train(config, data=shared, report=keep)
    straight_end = states.pop(4)
    assert set(states[2]["modules"]) == set(states[2]["optimizers"]) == {"generator", "discriminator"}
    resumed = train(config, data=shared, resume_from=str(tmp_path / "ckpt"), report=keep)
    assert [h["step"] for h in resumed.history] == [4]
    for name in ("generator", "discriminator"):
        for key, value in straight_end["modules"][name].items():
            torch.testing.assert_close(states[4]["modules"][name][key], value, rtol=0, atol=0, msg=f"{name}.{key}")
        for index, moments in straight_end["optimizers"][name]["state"].items():
            for key, value in moments.items():
                torch.testing.assert_close(states[4]["optimizers"][name]["state"][index][key], value, rtol=0, atol=0)
    assert resumed.metrics["train/loss_d"] == straight.metrics["train/loss_d"]
    assert resumed.metrics["val/psnr"] == straight.metrics["val/psnr"]


def write_pairs(root, names, size=(80, 96)):
    rng = np.random.default_rng(0)
    for folder in ("input", "target"):
        (root / folder).mkdir(parents=True)
    for name in names:
        clean = (rng.random((*size, 3)) * 200).astype(np.uint8)
        cv2.imwrite(str(root / "target" / f"{name}.png"), clean)
        cv2.imwrite(str(root / "input" / f"{name}.png"), (clean * 0.5 + 120).astype(np.uint8))


def test_real_folder_pairs_are_resized_and_split_by_name(tmp_path):
    write_pairs(tmp_path, ["v1_001", "v1_002", "v1_003", "v2_001", "v2_002", "v2_003"])
    config = set_path(set_path(CONFIG, "data.source", "folders"), "data.root", str(tmp_path))
    config = set_path(config, "data.n_test", 1)
    data = get_task("desmoke").prepare_data(validate_config(config))
    assert data["train"].smoky.shape == (3, 3, 64, 64) and data["val"].clean.shape == (2, 3, 64, 64)
    assert data["val"].alpha is None
    assert (data["val"].names, data["test"].names) == (["v2_001", "v2_002"], ["v2_003"])  # test last, then val
    for split, index, name in (("val", 1, "v2_002"), ("test", 0, "v2_003")):
        target = cv2.cvtColor(cv2.imread(str(tmp_path / "target" / f"{name}.png")), cv2.COLOR_BGR2RGB) / 255.0
        np.testing.assert_allclose(data[split].clean[index].mean(axis=(1, 2)), target.mean(axis=(0, 1)), atol=2e-3)
    task = make_task(config, data)
    evaluation = task.evaluate()
    assert "smoke_mask" not in evaluation.images and "dark_channel" in evaluation.images
    assert evaluation.metrics["val/ref_psnr"] < 25


def test_folder_errors_are_one_line(tmp_path):
    config = validate_config(set_path(set_path(CONFIG, "data.source", "folders"), "data.root", str(tmp_path / "no")))
    with pytest.raises(DataError, match="does not exist") as error:
        get_task("desmoke").prepare_data(config)
    assert "\n" not in str(error.value)
    write_pairs(tmp_path / "few", ["a", "b"])
    few = validate_config(set_path(set_path(CONFIG, "data.source", "folders"), "data.root", str(tmp_path / "few")))
    with pytest.raises(DataError, match=r"2 image pairs; data.n_val=2 and data.n_test=3 \(no test/ folder\) leave"):
        get_task("desmoke").prepare_data(few)
    with pytest.raises(ConfigError, match="needs data.root"):
        validate_config(set_path(CONFIG, "data.source", "folders"))


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("model.in_channels", 3, r"model.in_channels=3 does not match task.dark_channel='min'"),
        ("model.out_channels", 4, "must be 3"),
        ("data.tile", 96, r"data.tile \(96\) must be a multiple of 64"),
        ("task.dark_channel", "dcp", "task.dark_channel' must be one of none, min, patch15"),
        ("task.gan_loss", "wgan", "task.gan_loss' must be one of vanilla, lsgan"),
        ("loss.l1", 1.0, "loss.l1: this task takes no loss terms"),
    ],
)
def test_bad_configs_fail_before_training(path, value, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(set_path(CONFIG, path, value))


def test_full_generator_needs_256_pixels():
    config = set_path(set_path(CONFIG, "model.variant", "full"), "train.cost_size", 256)
    with pytest.raises(ConfigError, match=r"data.tile \(64\) must be a multiple of 256 .*8 down-samplings"):
        validate_config(config)
    assert validate_config(set_path(CONFIG, "model.in_channels", 4)).model["in_channels"] == 4  # matching is fine
