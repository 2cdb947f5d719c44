"""The real-time network's inference path: the same function as :class:`~restore_core.models.lamba_rt.LambaRT`,
rewritten for the CPU's convolution kernels (measured in ``benchmarks/model_cost_lamba_vs_sid.py``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restore_core.models.folding import (
    blocked_conv,
    blocks_of,
    fold_weight_norm,
    reorder_inputs,
    reorder_outputs,
    shuffle_order,
    shuffle_order_last,
    shuffle_view_last,
    unshuffle_channels_last,
)
from restore_core.models.lamba_rt import LambaRT, check_bayer

CHANNELS_LAST = torch.channels_last


class LambaRTInference(nn.Module):
    """A trained :class:`LambaRT` rewritten for inference; outputs equal the model's to float rounding (the output
    is stored channels-last).

    What changes, and why (single layers timed against their eager form on a 2-core CPU; the whole network in
    ``benchmarks/model_cost_lamba_vs_sid.py``, docs/PERFORMANCE.md):

    - Weight norm is folded into plain weights: no norm recomputed at every call.
    - The half-resolution tail, the 5×5 convs ``conv2x`` (4 → 12) and ``fuse2`` (24 → 12) with a third of the
      network's multiply-adds, runs on 2×2 pixel blocks at quarter resolution (:func:`blocked_conv`: 16 → 48 and
      96 → 48 channels, 3×3 kernels). The CPU's kernels run those shapes 1.5× faster than a few channels at twice
      the resolution, despite the 1.44× multiply-adds of the blocked kernels' zeros.
    - Every layer runs channels-last: the blocked tail gains 1.4× from it, the 1/32 branch's grouped conv (1024 →
      128 in 128 groups) 1.6×; the other layers timed within the noise of their default layout (±15 % on a loaded
      machine), so one layout throughout spares the copies between layouts.
    - No copy is spent on layout: the mosaic is unshuffled straight into each branch's channels-last input; fuse
      block 1's channel shuffle is gone (its grouped conv is split into the part that reads the 1/8 branch and the
      part that reads the 1/32 branch, summed); its outputs and fuse block 2's are reordered so that their pixel
      shuffles copy contiguous runs, fuse block 1's straight into fuse block 2's input beside ``conv2x``'s, fuse
      block 2's into the image with the final clamp in the same pass.
    """

    def __init__(self, model: LambaRT):
        super().__init__()
        folded = fold_weight_norm(model).to(memory_format=CHANNELS_LAST)
        self.size_multiple = model.size_multiple
        self.conv32x, self.rdbs, self.rdball = folded.conv32x, folded.rdbs, folded.rdball
        self.conv_rdb8x, self.resblock8x = folded.conv_rdb8x, folded.resblock8x
        grouped, widen = folded.fuse1[0], folded.fuse1[1]
        # the shuffled input's even channels are the 1/8 branch's, its odd ones the 1/32 branch's
        self.register_buffer("fuse1_from8x", grouped.weight[:, 0::2].contiguous(memory_format=CHANNELS_LAST))
        self.register_buffer("fuse1_from32x", grouped.weight[:, 1::2].contiguous(memory_format=CHANNELS_LAST))
        self.register_buffer("fuse1_bias", grouped.bias.detach().clone())
        self.fuse1_groups, self.slope = grouped.groups, folded.fuse1[2].negative_slope
        # pixel_shuffle(·, 4) to half resolution then pixel_unshuffle(·, 2) is one pixel_shuffle(·, 2) of reordered
        # channels: (B, 192, H/8, W/8) → (B, 48, H/4, W/4); block position first for shuffle_view_last
        order = shuffle_order(widen.out_channels, lambda x: F.pixel_unshuffle(F.pixel_shuffle(x, 4), 2))
        self.widen = reorder_outputs(widen, order[shuffle_order_last(widen.out_channels, 2)])
        # on 2×2 blocks of the half-resolution image, read straight from 4×4 blocks of the mosaic: the same
        # numbers in another channel order, copied in runs of four
        blocks_of_blocks = shuffle_order(16, lambda x: F.pixel_shuffle(F.pixel_shuffle(x, 2), 2))
        self.conv2x = reorder_inputs(blocked_conv(folded.conv2x, 2), torch.argsort(blocks_of_blocks))
        self.conv2x.to(memory_format=CHANNELS_LAST)
        fuse2 = blocked_conv(folded.fuse2, 2)
        # the two pixel shuffles back to full resolution (blocks, then the network's own) as one of 4
        order = shuffle_order(fuse2.out_channels, lambda x: F.pixel_shuffle(F.pixel_shuffle(x, 2), 2))
        self.fuse2 = reorder_outputs(fuse2, order[shuffle_order_last(fuse2.out_channels, 4)])
        self.fuse2.to(memory_format=CHANNELS_LAST)
        self.requires_grad_(False)
        self.eval()

    def forward(self, bayer: torch.Tensor) -> torch.Tensor:
        check_bayer(bayer, self.size_multiple)
        batch, _, height, width = bayer.shape
        low2x = F.pixel_unshuffle(bayer, 2)  # (B, 4, H/2, W/2)
        # 1/32 branch
        feat32x = self.conv32x(unshuffle_channels_last(low2x, 16))  # (B, 64, H/32, W/32)
        outputs, x = [], feat32x
        for block in self.rdbs:
            x = block(x)
            outputs.append(x)
        out32x = self.rdball(torch.cat(outputs, dim=1)) + feat32x
        out32x = self.conv_rdb8x(F.pixel_shuffle(out32x, 4))  # (B, 64, H/8, W/8)
        # 1/8 branch and fuse block 1, without the channel shuffle
        feat8x = self.resblock8x(unshuffle_channels_last(low2x, 4))  # (B, 64, H/8, W/8)
        fused = F.conv2d(feat8x, self.fuse1_from8x, self.fuse1_bias, padding=1, groups=self.fuse1_groups)
        fused += F.conv2d(out32x, self.fuse1_from32x, None, padding=1, groups=self.fuse1_groups)
        fused = F.leaky_relu(self.widen(fused), self.slope, inplace=True)  # (B, 192, H/8, W/8)
        # 1/2 branch and fuse block 2, on 2×2 blocks of the half-resolution image: both halves of fuse block 2's
        # input written in place, the 1/8 one straight from its pixel shuffle
        joined = torch.empty(batch, 96, height // 4, width // 4, dtype=bayer.dtype, device=bayer.device,
                             memory_format=CHANNELS_LAST)
        joined[:, :48] = self.conv2x(unshuffle_channels_last(bayer, 4))
        blocks_of(joined[:, 48:], 2).copy_(shuffle_view_last(fused, 2))
        out = self.fuse2(joined)  # (B, 48, H/4, W/4)
        image = torch.empty(batch, 3, height, width, dtype=bayer.dtype, device=bayer.device,
                            memory_format=CHANNELS_LAST)
        torch.clamp(shuffle_view_last(out, 4), 0, 1, out=blocks_of(image, 4))
        return image  # (B, 3, H, W)
