"""PatchGAN discriminators: pix2pix's (BatchNorm) and TCFL's (InstanceNorm) counts, layouts, map sizes, gradients."""

import pytest
import torch
from torch import nn

from restore_core.models.patchgan import PatchDiscriminator, patchgan, patchgan_in
from restore_core.models.registry import create_model
from tests.restore_core.models.checks import assert_every_parameter_gets_a_finite_gradient, n_params


@pytest.mark.parametrize(
    "name, kwargs, expected",
    [
        ("patchgan", {}, 2_768_705),  # RGB condition + RGB image
        ("patchgan", {"in_channels": 8}, 2_770_753),  # RGBD + RGBD (desmoking)
        ("patchgan_in", {}, 2_762_688),  # TCFL, one grayscale image
    ],
)
def test_parameter_counts(name, kwargs, expected):
    assert n_params(create_model(name, **kwargs)) == expected


def test_pix2pix_layout():
    convs = [m for m in patchgan().modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [
        (6, 64, 2),
        (64, 128, 2),
        (128, 256, 2),
        (256, 512, 1),
        (512, 1, 1),
    ]
    assert [c.bias is not None for c in convs] == [True, False, False, False, True]  # no bias before BatchNorm
    assert sum(isinstance(m, nn.BatchNorm2d) for m in patchgan().modules()) == 3
    C, N, A = nn.Conv2d, nn.BatchNorm2d, nn.LeakyReLU
    assert [type(m) for m in patchgan().model] == [C, A, C, N, A, C, N, A, C, N, A, C]
    assert [m.negative_slope for m in patchgan().model if isinstance(m, A)] == [0.2] * 4


def test_tcfl_layout():
    model = patchgan_in()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.stride[0]) for c in convs] == [
        (1, 64, 2),
        (64, 128, 2),
        (128, 256, 2),
        (256, 512, 2),
        (512, 1, 1),
    ]
    assert [c.bias is not None for c in convs] == [True, True, True, True, False]
    norms = [m for m in model.modules() if isinstance(m, nn.InstanceNorm2d)]
    assert len(norms) == 3 and not any(n.affine for n in norms)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert model.model[-2].padding == (1, 0, 1, 0)
    C, N, A = nn.Conv2d, nn.InstanceNorm2d, nn.LeakyReLU
    assert [type(m) for m in model.model] == [C, A, C, N, A, C, N, A, C, N, A, nn.ZeroPad2d, C]
    assert [m.negative_slope for m in model.model if isinstance(m, A)] == [0.2] * 4


@pytest.mark.parametrize("size, side", [(256, 30), (70, 6), (64, 6), (24, 1)])
def test_pix2pix_score_map_size(size, side):
    # 256² gives pix2pix's 30×30 map of 70×70 patches.
    out = patchgan(ndf=8)(torch.rand(2, 6, size, size))
    assert out.shape == (2, 1, side, side)


@pytest.mark.parametrize("size", [32, 64, 128, 640])
def test_tcfl_score_map_is_one_sixteenth(size):
    # TCFL builds its label maps as (1, H/16, W/16): 40×40 for its 640×640 images.
    model = patchgan_in(ndf=4)
    assert model.score_map_side(size) == size // 16
    if size <= 128:
        assert model(torch.rand(2, 1, size, size)).shape == (2, 1, size // 16, size // 16)


@pytest.mark.parametrize("factory, channels, too_small", [(patchgan, 6, 23), (patchgan_in, 1, 31)])
def test_inputs_too_small_for_a_score_map_raise(factory, channels, too_small):
    model = factory(ndf=8)
    with pytest.raises(ValueError, match=f"at least {too_small + 1} pixels"):
        model(torch.rand(1, channels, too_small, 64))
    model(torch.rand(1, channels, too_small + 1, too_small + 1))


def test_bad_options_raise_with_the_accepted_values():
    with pytest.raises(ValueError, match="batch, instance, none"):
        PatchDiscriminator(norm="layer")
    with pytest.raises(ValueError, match="pix2pix, tcfl"):
        PatchDiscriminator(layout="cyclegan")


@pytest.mark.parametrize("name, channels", [("patchgan", 8), ("patchgan_in", 1)])
def test_every_variant_passes_gradients_to_every_parameter(name, channels):
    torch.manual_seed(0)
    model = create_model(name, in_channels=channels, ndf=8)
    out = model(torch.rand(2, channels, 64, 64))
    assert_every_parameter_gets_a_finite_gradient(model, (out - 1).pow(2).mean())  # LSGAN "real" target
