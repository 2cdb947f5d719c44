"""TCFL's DnCNN-10 noise generator: parameter count, layout, noise-prediction contract, gradients."""

import pytest
import torch
from torch import nn

from restore_core.models.dncnn import DnCNN, dncnn
from restore_core.models.registry import create_model


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_default_is_dncnn_10_with_297088_parameters():
    model = dncnn()
    assert n_params(model) == 297_088
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 10 and all(c.bias is None for c in convs)
    assert (convs[0].in_channels, convs[-1].out_channels) == (1, 1)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 8
    assert {m.negative_slope for m in model.modules() if isinstance(m, nn.LeakyReLU)} == {0.01}


@pytest.mark.parametrize("channels, depth, features", [(1, 17, 64), (3, 10, 16), (1, 4, 8)])
def test_parameter_count_follows_the_layout(channels, depth, features):
    expected = (
        channels * features * 9 + (depth - 2) * (features * features * 9 + 2 * features) + features * channels * 9
    )
    assert n_params(dncnn(channels=channels, depth=depth, features=features)) == expected


@pytest.mark.parametrize("shape", [(2, 1, 40, 40), (1, 1, 33, 17), (3, 1, 8, 64)])
def test_output_is_a_noise_map_of_the_input_shape(shape):
    model = dncnn(features=16)
    noisy = torch.rand(shape)
    noise = model(noisy)
    assert noise.shape == shape
    torch.testing.assert_close(model.denoise(noisy), noisy - noise)


def test_init_is_tcfl_weights_init_normal():
    torch.manual_seed(0)
    model = dncnn()
    hidden = model.body[2]
    assert hidden.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.body[3].weight.mean().item() == pytest.approx(1.0, abs=0.01)


def test_bad_depth_raises():
    with pytest.raises(ValueError, match="at least 2"):
        DnCNN(depth=1)


@pytest.mark.parametrize("kwargs", [{}, {"channels": 3, "depth": 5, "features": 8}])
def test_every_parameter_gets_a_finite_gradient(kwargs):
    torch.manual_seed(0)
    model = create_model("dncnn", **kwargs)
    c = kwargs.get("channels", 1)
    clean = torch.rand(2, c, 24, 24)
    noisy = clean + 0.1 * torch.randn_like(clean)
    ((model.denoise(noisy) - clean) ** 2).mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
