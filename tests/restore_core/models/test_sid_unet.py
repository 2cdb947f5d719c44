import pytest
import torch

from restore_core.cost import count_macs
from restore_core.errors import ConfigError, UnknownNameError
from restore_core.models import ModelOptionError, create_model, list_models
from restore_core.models.sid_unet import ABLATIONS

# The layer list of train_Sony.py (the reference file): g_conv1..g_conv4 and their decoder twins, g_conv5 between.
LEVEL_CHANNELS = (32, 64, 128, 256)
MIDDLE_CHANNELS = 512


def conv(cin: int, cout: int, k: int = 3) -> int:
    return cin * cout * k * k + cout


def expected_params(levels=(1, 2, 3, 4), middle=True, convs=2, cin=4, out_kernel=1) -> int:
    """The parameter count worked out from the layer list, independently of the model code."""
    total, ch = 0, cin
    for lvl in levels:
        c = LEVEL_CHANNELS[lvl - 1]
        total += conv(ch, c) + (convs - 1) * conv(c, c)
        ch = c
    if middle:
        total += conv(ch, MIDDLE_CHANNELS) + (convs - 1) * conv(MIDDLE_CHANNELS, MIDDLE_CHANNELS)
        ch = MIDDLE_CHANNELS
    for lvl in reversed(levels):
        c = LEVEL_CHANNELS[lvl - 1]
        total += ch * c * 2 * 2 + c  # deconv 2x2 with bias
        total += conv(2 * c, c) + (convs - 1) * conv(c, c)
        ch = c
    return total + conv(ch, 12, k=out_kernel)


def test_default_has_the_reference_parameter_count():
    model = create_model("sid_unet")
    assert sum(p.numel() for p in model.parameters()) == 7_760_748
    # the TF original has no deconv biases: 7,760,268 + 480
    deconv_bias = sum(m.bias.numel() for m in model.modules() if isinstance(m, torch.nn.ConvTranspose2d))
    assert deconv_bias == 480


def test_every_3x3_conv_is_followed_by_leaky_relu_0_2():
    model = create_model("sid_unet", width=0.125)
    blocks = [*model.encoder.values(), model.middle, *model.decoder.values()]
    for block in blocks:
        assert [type(m) for m in block] == [torch.nn.Conv2d, torch.nn.LeakyReLU] * 2
        assert all(m.negative_slope == 0.2 for m in block if isinstance(m, torch.nn.LeakyReLU))
    children = list(model.children())
    assert children[-2:] == [model.out, model.shuffle] and model.out.kernel_size == (1, 1)  # no activation after


def test_each_decoder_level_takes_the_deconv_first_then_the_skip():
    model, seen = create_model("sid_unet", width=0.125).eval(), {}

    def keep(key):
        return lambda module, args, out=None: seen.__setitem__(key, args[0] if out is None else out)

    for level in model.upsample:
        model.upsample[level].register_forward_hook(keep(("up", level)))
        model.encoder[level].register_forward_hook(keep(("skip", level)))
        model.decoder[level].register_forward_pre_hook(keep(("in", level)))
    with torch.no_grad():
        model(torch.rand(1, 4, 32, 32))
    for level in model.upsample:
        up, skip = seen[("up", level)], seen[("skip", level)]
        torch.testing.assert_close(seen[("in", level)], torch.cat([up, skip], dim=1), rtol=0, atol=0)
        assert not torch.equal(up, skip)


def test_packed_input_gives_full_resolution_rgb():
    model = create_model("sid_unet", width=0.125)
    out = model(torch.rand(2, 4, 32, 48))
    assert out.shape == (2, 3, 64, 96)


@pytest.mark.parametrize("label", list(ABLATIONS))
def test_every_ablation_builds_runs_and_has_the_independent_count(label):
    kwargs = ABLATIONS[label]
    model = create_model("sid_unet", **kwargs)
    levels = tuple(kwargs.get("levels", (1, 2, 3, 4)))
    expected = expected_params(levels, kwargs.get("middle", True), kwargs.get("convs_per_block", 2),
                               out_kernel=kwargs.get("out_kernel", 1))
    assert sum(p.numel() for p in model.parameters()) == expected
    x = torch.rand(1, 4, 16, 16)
    out = model(x)
    assert out.shape == (1, 3, 32, 32)
    out.mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)


def test_ablation_10_is_a_single_conv():
    model = create_model("sid_unet", **ABLATIONS["10"])
    assert sum(p.numel() for p in model.parameters()) == 4 * 12 + 12


def test_the_other_reading_of_ablation_10_is_a_single_3x3_conv():
    model = create_model("sid_unet", **ABLATIONS["10b"])
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 1 and convs[0].kernel_size == (3, 3)
    assert sum(p.numel() for p in model.parameters()) == 4 * 12 * 9 + 12
    assert model(torch.rand(1, 4, 8, 8)).shape == (1, 3, 16, 16)
    with pytest.raises(ModelOptionError, match="out_kernel"):
        create_model("sid_unet", out_kernel=5)


def test_macs_scale_with_input_area():
    model = create_model("sid_unet", width=0.25)
    small = count_macs(model, torch.rand(1, 4, 32, 32))
    large = count_macs(model, torch.rand(1, 4, 64, 64))
    assert large == 4 * small


def test_size_not_divisible_is_a_clear_error():
    with pytest.raises(ValueError, match="divisible by 16"):
        create_model("sid_unet", width=0.125)(torch.rand(1, 4, 24, 24))


def test_registry_errors_name_the_known_models():
    with pytest.raises(UnknownNameError, match="unknown model 'sid_unt'.*did you mean 'sid_unet'.*known: .*sid_unet"):
        create_model("sid_unt")
    with pytest.raises(ConfigError, match="unknown option 'model.depth' for model 'sid_unet'"):
        create_model("sid_unet", depth=3)
    assert "sid_unet" in list_models()
