"""The perceptual loss: zero for identical images, growing with noise, frozen, finite gradients, weights reported."""

import math

import pytest
import torch

from restore_core.errors import ConfigError, UserError
from restore_core.losses.perceptual import PerceptualLoss, unit_channels
from restore_core.losses.registry import LOSSES, WeightedLoss


def textured_image(size: int = 64) -> torch.Tensor:
    """A smooth colour image with some texture, (1, 3, size, size) in [0, 1]."""
    y, x = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    r = 0.5 + 0.4 * torch.sin(6 * math.pi * x) * y
    g = 0.2 + 0.6 * x * y
    b = 0.5 + 0.3 * torch.cos(4 * math.pi * (x + y))
    return torch.stack([r, g, b]).unsqueeze(0).clamp(0, 1)


CASES = [("vgg16", "channel"), ("vgg16", "none"), ("alexnet", "channel"), ("alexnet", "none")]


@pytest.mark.parametrize("backbone, feature_norm", CASES)
def test_identical_images_give_zero(backbone, feature_norm):
    loss = LOSSES.get("perceptual")(backbone=backbone, feature_norm=feature_norm)
    image = textured_image()
    assert loss(image, image.clone()).item() == 0.0


@pytest.mark.parametrize("backbone, feature_norm", CASES)
def test_loss_grows_with_the_noise_level(backbone, feature_norm):
    torch.manual_seed(0)
    loss = PerceptualLoss(backbone=backbone, feature_norm=feature_norm)
    clean = textured_image()
    noise = torch.randn_like(clean)
    values = [loss((clean + sigma * noise).clamp(0, 1), clean).item() for sigma in (0.02, 0.05, 0.1, 0.2, 0.4)]
    assert all(a < b for a, b in zip(values, values[1:])), values
    assert values[0] > 0


def test_channel_normalised_distance_is_lpips_with_unit_weights():
    torch.manual_seed(0)
    loss = PerceptualLoss(backbone="alexnet", layers=["relu2"])
    a, b = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64)
    fa, fb = loss.net(a)["relu2"], loss.net(b)["relu2"]
    na = fa / (fa.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
    nb = fb / (fb.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
    expected = (na - nb).pow(2).sum(1).mean()
    torch.testing.assert_close(loss(a, b), expected, rtol=1e-4, atol=1e-6)
    assert 0 < loss(a, b).item() <= 4


def test_network_is_frozen_and_stays_in_eval_mode():
    loss = PerceptualLoss(backbone="alexnet")
    assert not any(p.requires_grad for p in loss.parameters())
    loss.train()
    assert loss.training and not loss.net.training


def test_gradients_reach_the_prediction_and_stay_finite_on_black_images():
    loss = PerceptualLoss(backbone="vgg16")
    for pred, target, textured in [
        (textured_image() * 0.5, textured_image(), True),
        (torch.zeros(1, 3, 64, 64), torch.zeros(1, 3, 64, 64), False),
    ]:
        pred = pred.clone().requires_grad_(True)
        loss(pred, target).backward()
        assert pred.grad is not None and torch.isfinite(pred.grad).all()
        if textured:  # a prediction unlike its target gets a gradient that moves it
            assert pred.grad.abs().sum() > 0
    zeros = torch.zeros(1, 8, 4, 4, requires_grad=True)
    unit_channels(zeros).sum().backward()
    assert torch.isfinite(zeros.grad).all()


def test_grayscale_images_are_repeated_to_rgb():
    loss = PerceptualLoss(backbone="alexnet")
    gray_a, gray_b = textured_image()[:, :1], textured_image()[:, 1:2]
    torch.testing.assert_close(loss(gray_a, gray_b), loss(gray_a.expand(-1, 3, -1, -1), gray_b.expand(-1, 3, -1, -1)))


def test_weights_used_is_reported():
    assert PerceptualLoss(backbone="alexnet").weights_used == "random init (no pretrained weights)"


def test_missing_imagenet_weights_raise_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(UserError, match="alexnet-owt-7be5be79.pth"):
        PerceptualLoss(backbone="alexnet", weights="imagenet")


def test_bad_options_raise():
    with pytest.raises(ConfigError, match="channel, none"):
        PerceptualLoss(feature_norm="gram")
    with pytest.raises(ConfigError, match="relu1_2"):
        PerceptualLoss(layers=["relu9"])
    with pytest.raises(UserError, match="alexnet, vgg16"):
        PerceptualLoss(backbone="squeeze")


def test_weighted_with_mse_as_in_the_spill_study():
    weighted = WeightedLoss({"mse": 0.3, "perceptual": 0.7}, perceptual={"backbone": "alexnet"})
    pred, target = textured_image() * 0.8, textured_image()
    total, parts = weighted(pred, target)
    assert set(parts) == {"mse", "perceptual"}
    torch.testing.assert_close(parts["mse"], torch.nn.functional.mse_loss(pred, target))
    torch.testing.assert_close(total, 0.3 * parts["mse"] + 0.7 * parts["perceptual"])
