"""The pix2pix U-Net generator: unet_256 counts, the small variant, shapes, dropout, size errors, gradients."""

import pytest
import torch
from torch import nn

from restore_core.models.pix2pix import Pix2PixUNet, init_gan_weights, pix2pix_unet, variant_label
from restore_core.models.registry import create_model
from tests.restore_core.models.checks import assert_every_parameter_gets_a_finite_gradient, n_params

# Each 512-channel level: down conv 512·512·16 + BN 2·512, up transposed conv 1024·512·16 + BN 2·512.
INNER_LEVEL_PARAMS = 512 * 512 * 16 + 1024 + 1024 * 512 * 16 + 1024


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, 54_413_955),  # unet_256, 3 → 3
        ({"in_channels": 4, "out_channels": 4}, 54_417_028),  # the desmoking generator, RGBD → RGBD
        ({"variant": "small"}, 54_413_955 - 2 * INNER_LEVEL_PARAMS),
        ({"variant": "small", "in_channels": 4, "out_channels": 4}, 54_417_028 - 2 * INNER_LEVEL_PARAMS),
    ],
)
def test_parameter_counts(kwargs, expected):
    assert n_params(pix2pix_unet(**kwargs)) == expected


def test_small_variant_is_29244035_parameters_and_two_levels_shallower():
    full, small = pix2pix_unet(ngf=8), pix2pix_unet(variant="small", ngf=8)
    assert n_params(pix2pix_unet(variant="small")) == 29_244_035
    assert (len(full.downs), len(small.downs)) == (8, 6)


def test_layout_of_unet_256():
    model = pix2pix_unet()
    convs = [m for m in model.downs.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 512, 512, 512, 512]
    assert all(c.kernel_size == (4, 4) and c.stride == (2, 2) and c.bias is None for c in convs)
    norms = [m for m in model.downs.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(norms) == 6  # neither the outermost nor the innermost down block has a norm
    outermost = model.ups[0]
    assert outermost[1].bias is not None and isinstance(outermost[2], nn.Tanh)
    assert model.down_act.negative_slope == 0.2
    assert all(type(up[0]) is nn.ReLU and isinstance(up[1], nn.ConvTranspose2d) for up in model.ups)


@pytest.mark.parametrize("variant, dropouts", [("full", 3), ("small", 1)])
def test_dropout_sits_in_the_inner_512_channel_up_blocks(variant, dropouts):
    model = pix2pix_unet(variant=variant, ngf=8)
    with_dropout = [i for i, up in enumerate(model.ups) if any(isinstance(m, nn.Dropout) for m in up)]
    assert with_dropout == list(range(4, 4 + dropouts))
    assert all(m.p == 0.5 for m in model.modules() if isinstance(m, nn.Dropout))
    assert not any(isinstance(m, nn.Dropout) for m in pix2pix_unet(variant=variant, ngf=8, dropout=0).modules())


def test_dropout_is_active_in_training_and_off_in_eval():
    torch.manual_seed(0)
    model = pix2pix_unet(variant="small", ngf=8)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    model.eval()
    torch.testing.assert_close(model(x), model(x))
    model.train()
    assert not torch.allclose(model(x), model(x))


def test_full_variant_maps_256_squared_rgbd_to_rgbd_in_tanh_range():
    torch.manual_seed(0)
    out = pix2pix_unet(in_channels=4, out_channels=4, ngf=8)(torch.rand(1, 4, 256, 256) * 2 - 1)
    assert out.shape == (1, 4, 256, 256)
    assert out.min() >= -1 and out.max() <= 1


@pytest.mark.parametrize("size", [(64, 64), (128, 64), (64, 192)])
@pytest.mark.parametrize("channels", [3, 4])
def test_small_variant_shapes(size, channels):
    out = pix2pix_unet(variant="small", in_channels=channels, out_channels=3, ngf=8)(torch.rand(2, channels, *size))
    assert out.shape == (2, 3, *size)


@pytest.mark.parametrize("variant, size, multiple", [("full", (128, 128), 256), ("small", (64, 96), 64)])
def test_sizes_that_are_not_multiples_of_the_depth_raise(variant, size, multiple):
    with pytest.raises(ValueError, match=f"divisible by {multiple}"):
        pix2pix_unet(variant=variant, ngf=8)(torch.rand(1, 3, *size))


def test_unknown_variant_raises_with_the_known_ones():
    with pytest.raises(ValueError, match="full, small"):
        create_model("pix2pix_unet", variant="medium")


@pytest.mark.parametrize("variant, size", [("full", 256), ("small", 64)])
def test_every_variant_passes_gradients_to_every_parameter(variant, size):
    torch.manual_seed(2)
    model = create_model("pix2pix_unet", variant=variant, in_channels=4, out_channels=4, ngf=8)
    x = torch.rand(2, 4, size, size) * 2 - 1
    assert_every_parameter_gets_a_finite_gradient(model, (model(x) - x).abs().mean())


@pytest.mark.parametrize("init", ["normal", "xavier"])
def test_init_follows_the_gan_repositories(init):
    torch.manual_seed(0)
    model = Pix2PixUNet(ngf=16, init=init)
    conv = model.downs[3][0]  # 64 → 128, 4×4
    norm = model.downs[3][1]
    if init == "normal":
        assert conv.weight.std().item() == pytest.approx(0.02, rel=0.05)
        assert norm.weight.mean().item() == pytest.approx(1.0, abs=0.01)
    else:
        fan_in, fan_out = 64 * 16, 128 * 16
        assert conv.weight.std().item() == pytest.approx((2 / (fan_in + fan_out)) ** 0.5, rel=0.05)
        assert 0.02 <= norm.weight.min().item() and norm.weight.max().item() <= 1.0
    assert (model.ups[0][1].bias == 0).all()
    with pytest.raises(ValueError, match="normal, xavier"):
        init_gan_weights(model, "orthogonal")


def test_labels_name_the_variant():
    assert variant_label("small", 4) == "small U-Net, RGB + dark channel"
    assert variant_label() == "full U-Net, RGB"
