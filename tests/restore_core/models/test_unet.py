"""The U-Net autoencoder of the spill-detection study: parameter count, shapes, output range, size errors."""

import pytest
import torch
from torch import nn

from restore_core.models.registry import create_model
from restore_core.models.unet import UNet, unet


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def expected_params(in_channels: int, out_channels: int, depth: int, width: int) -> int:
    def double(c_in: int, c_out: int) -> int:
        return 9 * c_in * c_out + 9 * c_out * c_out + 4 * c_out  # two bias-free convs, two BatchNorms

    ch = [width * 2**i for i in range(depth + 1)]
    total = sum(double(in_channels if i == 0 else ch[i - 1], ch[i]) for i in range(depth + 1))
    total += sum(4 * ch[i + 1] * ch[i] + ch[i] + double(2 * ch[i], ch[i]) for i in range(depth))
    return total + ch[0] * out_channels + out_channels


def test_default_is_the_classic_31m_unet():
    assert n_params(unet()) == expected_params(3, 3, 4, 64) == 31_037_763


@pytest.mark.parametrize("depth, width, c_in, c_out", [(1, 4, 3, 3), (2, 8, 1, 1), (3, 6, 3, 1)])
def test_parameter_count_follows_the_layout(depth, width, c_in, c_out):
    model = unet(depth=depth, width=width, in_channels=c_in, out_channels=c_out)
    assert n_params(model) == expected_params(c_in, c_out, depth, width)


@pytest.mark.parametrize("size", [(64, 64), (32, 48), (16, 80)])
def test_output_matches_the_input_shape_and_lies_in_unit_range(size):
    out = unet(depth=3, width=8)(torch.rand(2, 3, *size))
    assert out.shape == (2, 3, *size)
    assert out.min() > 0 and out.max() < 1


@pytest.mark.parametrize("depth, size", [(3, (60, 64)), (4, (64, 40)), (2, (30, 30))])
def test_sizes_not_divisible_by_two_to_the_depth_raise(depth, size):
    with pytest.raises(ValueError, match=f"divisible by {2**depth}"):
        unet(depth=depth, width=4)(torch.rand(1, 3, *size))


def test_bad_options_raise():
    with pytest.raises(ValueError, match="depth"):
        UNet(depth=0)
    with pytest.raises(ValueError, match="width"):
        UNet(width=0)


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_every_parameter_gets_a_finite_gradient(depth):
    torch.manual_seed(0)
    model = create_model("unet", depth=depth, width=4)
    x = torch.rand(2, 3, 32, 32)
    nn.functional.mse_loss(model(x), x).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
