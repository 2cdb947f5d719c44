"""Inference paths: each rewrite computes what the trained model computes, and leaves the model as it was."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from restore_core.cost import example_input, model_cost
from restore_core.models import create_model, inference_model, list_models
from restore_core.models.folding import (
    blocked_conv,
    fold_weight_norm,
    reorder_inputs,
    reorder_outputs,
    shuffle_order,
    unshuffle_channels_last,
)
from restore_core.models.lamba_rt import lamba_rt
from restore_core.models.lamba_rt_inference import LambaRTInference


def trained(model: nn.Module, seed: int = 0) -> nn.Module:
    """``model`` with every parameter moved off its initialisation (weight norm's ``g`` no longer the norm of
    ``v``, biases no longer zero), as after training."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1 + 0.5 * torch.randn_like(p)).add_(0.05 * torch.randn_like(p))
    return model


def test_folded_weight_norm_gives_the_same_outputs_with_plain_weights_and_leaves_the_model_alone():
    model = trained(lamba_rt(n_rdb=2))
    x = torch.rand(2, 1, 64, 96) * 2
    with torch.no_grad():
        expected = model.eval()(x)
    folded = fold_weight_norm(model)
    assert not any(parametrize.is_parametrized(m) for m in folded.modules())
    assert all(type(m) is nn.Conv2d for m in folded.modules() if isinstance(m, nn.Conv2d))
    assert not any(p.requires_grad for p in folded.parameters()) and not folded.training
    with torch.no_grad():
        torch.testing.assert_close(folded(x), expected, rtol=0, atol=2e-6)
        # torch's remove_parametrizations on a deep copy deletes the weight from the class both share; not here
        torch.testing.assert_close(model(x), expected, rtol=0, atol=0)
    assert all(parametrize.is_parametrized(m) for m in model.modules() if isinstance(m, nn.Conv2d))
    assert sum(p.numel() for p in folded.parameters()) == 581_792 - sum(  # g (one per output channel) folded in
        m.out_channels for m in model.modules() if isinstance(m, nn.Conv2d))


@pytest.mark.parametrize("kernel, block", [(5, 2), (3, 2), (5, 3), (7, 2), (1, 2)])
def test_a_blocked_conv_on_the_unshuffled_image_is_the_conv(kernel, block):
    torch.manual_seed(kernel * 10 + block)
    conv = nn.Conv2d(3, 5, kernel, padding=kernel // 2)
    x = torch.randn(2, 3, 6 * block, 4 * block)
    blocked = blocked_conv(conv, block)
    reach = -(-(kernel // 2) // block)
    assert blocked.weight.shape == (5 * block**2, 3 * block**2, 2 * reach + 1, 2 * reach + 1)
    with torch.no_grad():
        torch.testing.assert_close(F.pixel_shuffle(blocked(F.pixel_unshuffle(x, block)), block), conv(x),
                                   rtol=0, atol=2e-5)


@pytest.mark.parametrize("conv", [nn.Conv2d(3, 5, 3, padding=1, stride=2), nn.Conv2d(4, 4, 3, padding=1, groups=2),
                                  nn.Conv2d(3, 5, 3, padding=0), nn.Conv2d(3, 5, 4, padding=2)])
def test_only_same_ungrouped_stride_1_convs_are_blocked(conv):
    with pytest.raises(ValueError, match="stride-1, ungrouped 'same' conv"):
        blocked_conv(conv, 2)


def test_channel_orders_follow_the_pixel_shuffles():
    x = torch.randn(2, 192, 3, 5)
    order = shuffle_order(192, lambda t: F.pixel_unshuffle(F.pixel_shuffle(t, 4), 2))
    torch.testing.assert_close(F.pixel_shuffle(x[:, order], 2), F.pixel_unshuffle(F.pixel_shuffle(x, 4), 2))
    assert sorted(order.tolist()) == list(range(192))
    conv = nn.Conv2d(16, 8, 3, padding=1)
    y = torch.randn(1, 16, 4, 4)
    order = torch.randperm(16)
    with torch.no_grad():
        torch.testing.assert_close(reorder_inputs(conv, order)(y), conv(y[:, order]))
        order = torch.randperm(8)
        torch.testing.assert_close(reorder_outputs(conv, order)(y), conv(y)[:, order])


@pytest.mark.parametrize("factor", [2, 4, 16])
def test_unshuffling_channels_last_is_pixel_unshuffle(factor):
    x = torch.randn(2, 4, 32, 64)
    result = unshuffle_channels_last(x, factor)
    assert result.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(result, F.pixel_unshuffle(x, factor), rtol=0, atol=0)


@pytest.mark.parametrize("rdb", ["star", "plain"])
@pytest.mark.parametrize("n_rdb", [2, 3, 4])
def test_the_real_time_network_s_inference_path_gives_the_model_s_outputs(rdb, n_rdb):
    model = trained(create_model("lamba_rt", rdb=rdb, n_rdb=n_rdb), seed=n_rdb)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fast = inference_model(model)
    assert isinstance(fast, LambaRTInference) and not fast.training
    assert not any(p.requires_grad for p in fast.parameters())
    x = torch.rand(2, 1, 64, 96) * 3  # amplified: some outputs clamp at 1
    with torch.no_grad():
        expected = model.eval()(x)
        out = fast(x)
    assert out.shape == (2, 3, 64, 96) and out.min() >= 0 and out.max() <= 1
    assert 0 < (expected == 1).float().mean() < 0.5  # a test of the clamp too
    # float sums in another order; a channel out of place would be off by 0.1 to 1
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-4)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("shape, message", [((1, 1, 48, 64), "divisible by 32"), ((1, 4, 64, 64), "1-channel Bayer")])
def test_the_inference_path_refuses_what_the_model_refuses(shape, message):
    with pytest.raises(ValueError, match=message):
        inference_model(lamba_rt())(torch.rand(*shape))


@pytest.mark.parametrize("name", [n for n in list_models() if n != "lamba_rt"])
def test_other_models_infer_with_a_copy_of_themselves(name):
    kwargs = {"width": 0.125} if name == "sid_unet" else {"ngf": 8} if name == "pix2pix_unet" else {}
    model = create_model(name, **kwargs).eval()
    copy = inference_model(model)
    assert copy is not model and type(copy) is type(model) and not copy.training
    assert not any(p.requires_grad for p in copy.parameters())
    assert all(p.requires_grad for p in model.parameters())
    x = example_input(name, 256 if name == "pix2pix_unet" else 64)  # pix2pix: 8 halvings
    with torch.no_grad():
        torch.testing.assert_close(copy(x), model(x), rtol=0, atol=0)


def test_model_cost_counts_the_model_and_leaves_it_training():
    model = lamba_rt(n_rdb=2)
    cost = model_cost(model, torch.rand(1, 1, 64, 64), repeats=1)
    assert cost["cost/params"] == 581_792  # the model's own parameters, g and v counted
    assert cost["cost/macs"] > 0 and cost["cost/latency_ms"] > 0
    assert model.training and all(p.requires_grad for p in model.parameters())
