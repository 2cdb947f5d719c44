"""The DL4H reproduction's desmoking recipe as options: an unconditional 3-channel discriminator, the L1 GAN
criterion, its swapped D labels, its transforms with the dark channel computed before or after them, the UQI it
measured with, and FSIMc in every evaluation."""

import numpy as np
import pytest
import torch

from restore_core.config import deep_merge
from restore_core.data.dark_channel import dark_channel
from restore_core.errors import ConfigError
from restore_core.schema import validate_config
from restore_core.tasks import get_task
from restore_core.tasks.desmoke_augment import crop_box, dl4h_transform

CONFIG = {
    "task": {"name": "desmoke", "dark_channel": "min", "ndf": 4, "d_layers": 2},
    "data": {"tile": 128, "n_train": 2, "n_val": 2, "smoke_per_tile": 1},
    "model": {"name": "pix2pix_unet", "variant": "small", "ngf": 4},
    "optim": {"lr": 2e-4, "betas": [0.5, 0.999]},
    "train": {"steps": 2, "eval_every": 2, "cost_size": 64, "log_images": 2, "threads": 1},
}
DL4H = {"task": {"conditional_d": False, "gan_loss": "l1", "swap_d_labels": True, "augment": "dl4h",
                 "dark_channel_before_transforms": True, "uqi": "gaussian11"}, "data": {"patch": 64}}


def make_task(config):
    cfg = validate_config(config)
    cls = get_task("desmoke")
    torch.manual_seed(0)
    return cls(cfg, cls.prepare_data(cfg), torch.device("cpu"))


def test_unconditional_discriminator_sees_three_channels_and_the_l1_criterion_scores_raw_outputs():
    task = make_task(deep_merge(CONFIG, DL4H))
    first = task.modules["discriminator"].model[0]
    assert first.in_channels == 3  # the RGB image alone
    assert make_task(CONFIG).modules["discriminator"].model[0].in_channels == 4 + 3  # pix2pix: condition + image
    score = torch.tensor([[0.25, -0.5], [1.5, 0.0]])
    assert task.gan_loss(score, True).item() == pytest.approx((0.75 + 1.5 + 0.5 + 1.0) / 4)
    assert task.gan_loss(score, False).item() == pytest.approx((0.25 + 0.5 + 1.5 + 0.0) / 4)


@pytest.mark.parametrize("swap", [False, True])
def test_swapped_labels_train_d_to_call_fakes_one(swap):
    """D's three calls in a step (real, detached fake, fake for G), recorded by a forward hook, give the losses: with
    the reproduction's labels D is trained towards 0 on real images and 1 on fakes, while G still aims at 1."""
    task = make_task(deep_merge(CONFIG, {"task": {"gan_loss": "l1", "conditional_d": False, "swap_d_labels": swap}}))
    scores = []
    task.modules["discriminator"].register_forward_hook(lambda module, args, out: scores.append(out.detach()))
    losses = task.train_step(task.sample_batch(np.random.default_rng(0)))
    real, fake, for_g = scores
    real_label, fake_label = (0.0, 1.0) if swap else (1.0, 0.0)
    expected_d = 0.5 * ((real - real_label).abs().mean() + (fake - fake_label).abs().mean())
    assert losses["loss_d"].item() == pytest.approx(expected_d.item(), rel=1e-5)
    assert losses["loss_gan"].item() == pytest.approx((for_g - 1).abs().mean().item(), rel=1e-5)


def test_crop_box_follows_random_resized_crop():
    rng = np.random.default_rng(3)
    for _ in range(200):
        top, left, h, w = crop_box(512, 512, rng)
        assert 0 <= top <= 512 - h and 0 <= left <= 512 - w
        assert 0.08 * 512 * 512 * 0.99 <= h * w <= 512 * 512 and 3 / 4 * 0.97 <= w / h <= 4 / 3 * 1.03


def test_transform_moves_every_plane_alike_and_is_deterministic():
    rng = np.random.default_rng(0)
    image = rng.uniform(0, 1, (3, 96, 96)).astype(np.float32)
    planes = np.concatenate([image, image, image[:1]])  # the same content in three slots
    out = dl4h_transform(planes, 48, np.random.default_rng(5))
    again = dl4h_transform(planes, 48, np.random.default_rng(5))
    assert out.shape == (7, 48, 48) and np.array_equal(out, again)
    np.testing.assert_array_equal(out[:3], out[3:6])
    np.testing.assert_array_equal(out[0], out[6])
    assert not np.array_equal(out, dl4h_transform(planes, 48, np.random.default_rng(6)))


@pytest.mark.parametrize("before", [True, False])
def test_dark_channel_from_the_frame_or_from_the_crop(before):
    config = deep_merge(CONFIG, deep_merge(DL4H, {"task": {"dark_channel": "patch15",
                                                           "dark_channel_before_transforms": before}}))
    task = make_task(config)
    inputs, targets = task.sample_batch(np.random.default_rng(1))
    assert inputs.shape == (1, 4, 64, 64) and targets.shape == (1, 3, 64, 64)
    rgb = ((inputs[0, :3] + 1) / 2).numpy().transpose(1, 2, 0)
    on_crop = dark_channel(rgb, "patch15") * 2 - 1
    if before:  # the frame's 15×15 dark channel, resized with the crop: not the crop's own
        assert not np.allclose(inputs[0, 3].numpy(), on_crop, atol=1e-3)
    else:
        np.testing.assert_allclose(inputs[0, 3].numpy(), on_crop, atol=1e-5)
    losses = task.train_step((inputs, targets))
    assert all(torch.isfinite(v) for v in losses.values())


def test_evaluation_reports_fsimc_and_the_chosen_uqi():
    box = make_task(CONFIG).evaluate().metrics
    gaussian = make_task(deep_merge(CONFIG, {"task": {"uqi": "gaussian11"}})).evaluate().metrics
    for metrics in (box, gaussian):
        assert 0 < metrics["val/ref_fsimc"] <= 1 and 0 < metrics["val/fsimc"] <= 1
        assert metrics["val/delta_fsimc"] == pytest.approx(metrics["val/fsimc"] - metrics["val/ref_fsimc"])
    assert box["val/ref_uqi"] != gaussian["val/ref_uqi"] and box["val/ref_psnr"] == gaussian["val/ref_psnr"]


def test_a_patch_without_the_cropping_transforms_is_refused():
    with pytest.raises(ConfigError, match="only task.augment=dl4h crops"):
        validate_config(deep_merge(CONFIG, {"data": {"patch": 64}}))
