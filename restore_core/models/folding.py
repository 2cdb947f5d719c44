"""Exact rewrites of trained layers for inference: weight norm folded into plain weights, a 'same' convolution
moved onto the pixel-unshuffled image, and the channel orders that pixel (un)shuffles imply.

Each rewrite computes the same function as the layers it replaces (up to the order of floating-point sums); the
inference paths in :mod:`restore_core.models.inference` are built from them and tested against the eager model.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize


def fold_weight_norm(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode with every parametrization (weight norm) folded into a plain tensor, and no
    gradients. ``model`` itself is left as it was.

    ``torch.nn.utils.parametrize.remove_parametrizations`` is not used on the copy: it deletes the property from
    the parametrized class, which a deep copy shares with the original, so the original would lose its weights.
    """
    folded = copy.deepcopy(model).eval()
    for module in list(folded.modules()):
        if not parametrize.is_parametrized(module):
            continue
        values = {name: getattr(module, name).detach().clone() for name in module.parametrizations}
        delattr(module, "parametrizations")
        module.__class__ = module.__class__.__bases__[0]  # parametrize made a subclass of the module's own class
        for name, value in values.items():
            module.register_parameter(name, nn.Parameter(value))
    folded.requires_grad_(False)
    return folded


def blocked_conv(conv: nn.Conv2d, block: int) -> nn.Conv2d:
    """The convolution that ``conv`` (stride 1, odd kernel, 'same' zero padding, no groups) is on the pixel-
    unshuffled image: ``pixel_shuffle(blocked(pixel_unshuffle(x, block)), block) == conv(x)``.

    A ``k×k`` kernel over ``C`` channels becomes a ``(2⌈p/block⌉ + 1)²`` kernel over ``C·block²`` channels at
    ``1/block`` of the resolution (``p`` the padding): more multiply-adds (the new kernel holds zeros), but in
    shapes the CPU's convolution kernels run far faster than a few channels at full resolution. The zero padding
    agrees exactly: a padded block is all zeros.
    """
    out_channels, in_channels, k, k_w = conv.weight.shape
    pad = conv.padding[0]
    if (conv.stride != (1, 1) or conv.groups != 1 or k != k_w or k % 2 == 0 or conv.padding != (pad, pad)
            or 2 * pad != k - 1 or conv.dilation != (1, 1)):
        raise ValueError(f"blocked_conv takes a stride-1, ungrouped 'same' conv with an odd square kernel; got {conv}")
    reach = -(-pad // block)  # blocks of context on each side
    size = 2 * reach + 1
    weight = conv.weight.detach()
    blocked = weight.new_zeros(out_channels, block, block, in_channels, block, block, size, size)
    for oy in range(block):
        for ox in range(block):
            for iy in range(block):
                for ix in range(block):
                    for dy in range(-reach, reach + 1):
                        for dx in range(-reach, reach + 1):
                            ky, kx = block * dy + iy - oy + pad, block * dx + ix - ox + pad
                            if 0 <= ky < k and 0 <= kx < k:
                                blocked[:, oy, ox, :, iy, ix, dy + reach, dx + reach] = weight[:, :, ky, kx]
    result = nn.Conv2d(in_channels * block**2, out_channels * block**2, size, padding=reach,
                       bias=conv.bias is not None)
    with torch.no_grad():
        result.weight.copy_(blocked.reshape(result.weight.shape))
        if conv.bias is not None:
            result.bias.copy_(conv.bias.detach().repeat_interleave(block**2))
    return result.requires_grad_(False)


def shuffle_order(channels: int, layout) -> torch.Tensor:
    """The channel order ``perm`` that makes ``layout(x) == pixel_shuffle(x[:, perm], r)``, found by passing channel
    numbers through ``layout`` (a composition of pixel (un)shuffles of a ``(1, channels, 1, 1)`` tensor whose result
    is ``(1, channels / r², r, r)``)."""
    numbers = torch.arange(channels, dtype=torch.float64).view(1, channels, 1, 1)
    placed = layout(numbers)
    return F.pixel_unshuffle(placed, placed.shape[-1]).flatten().round().long()


def reorder_outputs(conv: nn.Conv2d, order: torch.Tensor) -> nn.Conv2d:
    """A copy of ``conv`` whose output channel ``i`` is ``conv``'s output channel ``order[i]``."""
    result = copy.deepcopy(conv)
    with torch.no_grad():
        result.weight.copy_(conv.weight[order])
        if conv.bias is not None:
            result.bias.copy_(conv.bias[order])
    return result.requires_grad_(False)


def unshuffle_channels_last(x: torch.Tensor, factor: int) -> torch.Tensor:
    """``pixel_unshuffle(x, factor)`` (same values, same channel order) stored channels-last, in one copy."""
    b, c, h, w = x.shape
    blocks = x.reshape(b, c, h // factor, factor, w // factor, factor).permute(0, 2, 4, 1, 3, 5)
    return blocks.reshape(b, h // factor, w // factor, c * factor * factor).permute(0, 3, 1, 2)


def shuffle_order_last(channels: int, factor: int) -> torch.Tensor:
    """The channel order that puts the block position first: a conv whose outputs are reordered by it gives, read
    by :func:`shuffle_view_last`, what ``pixel_shuffle(conv(x), factor)`` gives. Channel ``(a·factor + b)·C + c``
    then holds pixel ``(a, b)`` of the shuffle's channel ``c``, which it reads from ``c·factor² + a·factor + b``."""
    per = factor * factor
    out = channels // per
    return torch.arange(channels).view(out, per).t().reshape(-1)


def shuffle_view_last(x: torch.Tensor, factor: int) -> torch.Tensor:
    """A channels-last ``x`` with its channels in :func:`shuffle_order_last`'s order, viewed (no copy) as the
    ``(B, H, factor, W, factor, C)`` blocks of its pixel shuffle's channels-last storage; copying it into such a
    view of a channels-last tensor moves runs of ``C`` contiguous numbers."""
    b, c, h, w = x.shape
    out = c // (factor * factor)
    return x.permute(0, 2, 3, 1).reshape(b, h, w, factor, factor, out).permute(0, 1, 3, 2, 4, 5)


def blocks_of(x: torch.Tensor, factor: int) -> torch.Tensor:
    """The ``(B, H/factor, factor, W/factor, factor, C)`` view of a channels-last ``x``: where
    :func:`shuffle_view_last` of a tensor at ``1/factor`` of the resolution is copied to."""
    b, c, h, w = x.shape
    return x.permute(0, 2, 3, 1).view(b, h // factor, factor, w // factor, factor, c)


def reorder_inputs(conv: nn.Conv2d, order: torch.Tensor) -> nn.Conv2d:
    """A copy of ``conv`` (no groups) that reads its inputs in another order: ``result(x) == conv(x[:, order])``."""
    result = copy.deepcopy(conv)
    with torch.no_grad():
        result.weight.copy_(conv.weight[:, torch.argsort(order)])
    return result.requires_grad_(False)
