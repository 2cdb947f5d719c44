"""Lamba & Mitra's network: parameter counts of the reference table, MACs, shapes, size errors and gradients."""

import copy

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from restore_core.errors import ConfigError
from restore_core.models.lamba_rt import LambaRT, lamba_rt, variant_label
from restore_core.models.registry import create_model
from tests.restore_core.models.checks import assert_every_parameter_gets_a_finite_gradient, n_params


def test_default_has_the_784768_parameters_of_the_official_readme():
    assert n_params(lamba_rt()) == 784_768


def test_per_module_counts_match_the_reference_table():
    model = lamba_rt()
    counts = {
        "conv32x": n_params(model.conv32x),
        "RDB1": n_params(model.rdbs[0]),
        "RDB2": n_params(model.rdbs[1]),
        "RDB3": n_params(model.rdbs[2]),
        "rdball": n_params(model.rdball),
        "conv_rdb8x": n_params(model.conv_rdb8x),
        "resblock8x": n_params(model.resblock8x),
        "FB1 convs": n_params(model.fuse1),
        "conv2x": n_params(model.conv2x),
        "conv_2_8_32": n_params(model.fuse2),
    }
    assert counts == {
        "conv32x": 83_328,
        "RDB1": 141_504,
        "RDB2": 198_880,
        "RDB3": 198_880,
        "rdball": 12_352,
        "conv_rdb8x": 2_432,
        "resblock8x": 73_984,
        "FB1 convs": 64_960,
        "conv2x": 1_224,
        "conv_2_8_32": 7_224,
    }


def test_every_conv_is_weight_normalised_with_g_and_v_counted():
    model = lamba_rt()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 2 + (4 + 1) + (5 + 1) * 2 + 1 + 1 + 2 + 2 + 1 + 1  # 29
    for conv in convs:
        g, v = conv.parametrizations.weight.original0, conv.parametrizations.weight.original1
        assert g.shape == (conv.out_channels, 1, 1, 1) and v.shape == conv.weight.shape
        # g starts at the norm of the Kaiming draw, so the effective weight is that draw.
        torch.testing.assert_close(g.flatten(), v.flatten(1).norm(dim=1))


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"rdb": "plain"}, 784_768),  # same convs, only the activations move
        ({"n_rdb": 2}, 784_768 - 198_880 - 64 * 64),  # RDB3 gone; the 1×1 fuse conv takes 128 instead of 192 channels
        ({"n_rdb": 4}, 784_768 + 198_880 + 64 * 64),  # a fourth 5-layer RDB; the fuse conv takes 256 channels
        ({"n_rdb": 2, "rdb": "plain"}, 581_792),
    ],
)
def test_variant_parameter_counts(kwargs, expected):
    model = lamba_rt(**kwargs)
    assert n_params(model) == expected
    assert model.rdball.in_channels == 64 * model.n_rdb


def test_dense_layer_counts_and_activation_placement():
    assert [len(b.layers) for b in lamba_rt(n_rdb=2).rdbs] == [4, 5]
    assert [len(b.layers) for b in lamba_rt(n_rdb=4).rdbs] == [4, 5, 5, 5]
    star = lamba_rt().rdbs[1].layers
    assert isinstance(star[0], nn.Conv2d) and isinstance(star[-1], nn.Conv2d)  # no nonlinearity first and last
    for middle in star[1:-1]:
        assert isinstance(middle[0], nn.LeakyReLU) and middle[0].negative_slope == 0.2
        assert isinstance(middle[1], nn.Conv2d)  # pre-activation
    for layer in lamba_rt(rdb="plain").rdbs[1].layers:
        assert isinstance(layer[0], nn.Conv2d) and isinstance(layer[1], nn.LeakyReLU)  # conv then activation


def test_resblock_and_fuse_block_1_put_leaky_relu_after_the_conv():
    model = lamba_rt()
    body = model.resblock8x.body
    assert len(body) == 3 and isinstance(body[0], nn.Conv2d) and isinstance(body[2], nn.Conv2d)
    assert type(body[1]) is nn.LeakyReLU and body[1].negative_slope == 0.2
    fuse = model.fuse1
    assert isinstance(fuse[0], nn.Conv2d) and fuse[0].groups == 4 and isinstance(fuse[1], nn.Conv2d)
    assert type(fuse[2]) is nn.LeakyReLU and fuse[2].negative_slope == 0.2 and len(fuse) == 3


def test_fuse_block_1_interleaves_the_1_8_and_1_32_branches():
    """cat(MSE, HSE) then a channel shuffle with G=2: channel 2k is the 1/8 branch's k, 2k+1 the 1/32 branch's k."""
    model, seen = lamba_rt().eval(), {}
    model.resblock8x.register_forward_hook(lambda m, args, out: seen.__setitem__("mse", out))
    model.conv_rdb8x.register_forward_hook(lambda m, args, out: seen.__setitem__("hse", out))
    model.fuse1.register_forward_pre_hook(lambda m, args: seen.__setitem__("fused", args[0]))
    with torch.no_grad():
        model(torch.rand(1, 1, 64, 64))
    assert seen["fused"].shape[1] == 128
    torch.testing.assert_close(seen["fused"][:, 0::2], seen["mse"], rtol=0, atol=0)
    torch.testing.assert_close(seen["fused"][:, 1::2], seen["hse"], rtol=0, atol=0)


def test_macs_match_the_reference_conv_count():
    # The reference's conv-only count is 41.23 GMACs at 2048×4096; MACs scale with the pixels (1/1024 here).
    model = lamba_rt().eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:  # FlopCounterMode fails in inference_mode
        model(torch.rand(1, 1, 64, 128))
    macs = counter.get_total_flops() // 2
    assert macs == 40_263_680
    assert round(macs * 1024 / 1e9, 2) == 41.23


@pytest.mark.parametrize("size", [(64, 64), (64, 96), (96, 32)])
def test_output_is_rgb_at_full_resolution_in_unit_range(size):
    torch.manual_seed(0)
    out = lamba_rt()(torch.rand(2, 1, *size) * 4)  # amplified input, partly above 1
    assert out.shape == (2, 3, *size)
    assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("size", [(48, 64), (64, 40), (16, 16)])
def test_sizes_that_are_not_multiples_of_32_raise(size):
    with pytest.raises(ValueError, match="divisible by 32"):
        lamba_rt()(torch.rand(1, 1, *size))


def test_packed_input_is_refused():
    with pytest.raises(ValueError, match="1-channel Bayer"):
        lamba_rt()(torch.rand(1, 4, 64, 64))


def test_bad_options_raise_with_the_accepted_values():
    with pytest.raises(ValueError, match="star, plain"):
        LambaRT(rdb="dense")
    with pytest.raises(ValueError, match="2, 3, 4"):
        LambaRT(n_rdb=5)
    with pytest.raises(ConfigError, match="model.width"):
        create_model("lamba_rt", width=2)


@pytest.mark.parametrize("rdb", ["star", "plain"])
@pytest.mark.parametrize("n_rdb", [2, 3, 4])
def test_every_variant_passes_gradients_to_every_parameter(rdb, n_rdb):
    torch.manual_seed(1)
    model = create_model("lamba_rt", rdb=rdb, n_rdb=n_rdb)
    out = model(torch.rand(2, 1, 64, 64) * 0.5)
    assert_every_parameter_gets_a_finite_gradient(model, (out - 0.5).pow(2).mean())


def test_labels_name_the_variant():
    assert variant_label() == "3 × RDB*"
    assert variant_label("plain", 2) == "2 × plain RDB"


def test_state_dict_round_trip_and_deepcopy_keep_the_function():
    # Checkpoints go through state_dict (parametrized modules cannot be pickled whole); deepcopy also works.
    torch.manual_seed(3)
    model, fresh = lamba_rt(n_rdb=2), lamba_rt(n_rdb=2)
    fresh.load_state_dict(model.state_dict())
    x = torch.rand(1, 1, 64, 64)
    torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)
    torch.testing.assert_close(copy.deepcopy(model)(x), model(x), rtol=0, atol=0)
