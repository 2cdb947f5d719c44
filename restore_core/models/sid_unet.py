"""The Learning-to-See-in-the-Dark U-Net, with its layer ablations as data."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from restore_core.models.registry import ModelOptionError, register_model

LEVEL_CHANNELS = (32, 64, 128, 256)  # g_conv1 .. g_conv4 (and their decoder twins g_conv9 .. g_conv6)
MIDDLE_CHANNELS = 512  # g_conv5_1 / g_conv5_2

# The eleven networks of the layer-ablation study (seed 001), as keyword arguments of ``SIDUNet``.
# "default" has all nine conv pairs; each numbered variant removes pairs (or, for 2, adds a conv to each). The study
# says only that network 10 "consists of only 1 layer": "10" reads it as SID's own 1×1 output layer left alone, "10b"
# as one 3×3 conv (the kernel of every other SID layer).
ABLATIONS: dict[str, dict] = {
    "default": {},
    "1": {"convs_per_block": 1},
    "2": {"convs_per_block": 3},
    "3": {"middle": False},
    "9": {"levels": [1, 2, 3]},
    "4": {"levels": [1, 2, 3], "middle": False},
    "8": {"levels": [1, 2]},
    "5": {"levels": [1, 2], "middle": False},
    "7": {"levels": [1]},
    "6": {"levels": [1], "middle": False},
    "10": {"levels": [], "middle": False},
    "10b": {"levels": [], "middle": False, "out_kernel": 3},
}


def _conv_block(in_channels: int, out_channels: int, n_convs: int) -> nn.Sequential:
    """``n_convs`` 3×3 convs (bias, SAME padding), each followed by LeakyReLU(0.2) as ``lrelu`` in train_Sony.py."""
    layers: list[nn.Module] = []
    for i in range(n_convs):
        layers += [nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers)


class SIDUNet(nn.Module):
    """U-Net of Chen et al., "Learning to See in the Dark", CVPR 2018 (cchen156/Learning-to-See-in-the-Dark).

    Input: packed Bayer raw, ``(B, 4, H/2, W/2)``, amplified by the exposure ratio. Output: sRGB at full resolution,
    ``(B, 3, H, W)``, from a 1×1 conv to 12 channels and a pixel shuffle by 2. With the default arguments it has
    7,760,748 parameters: the TensorFlow original's 7,760,268 plus the 480 biases of PyTorch's transposed convs.

    Args:
        in_channels: channels of the packed input (4 for Bayer).
        out_channels: colour channels of the output after the pixel shuffle.
        upscale: pixel-shuffle factor from the packed resolution to the output.
        levels: which encoder/decoder levels exist (1 = 32 channels ... 4 = 256 channels). Removing level ``k``
            removes ``g_convk`` and its decoder twin ``g_conv(10-k)``; channel counts of what remains adapt.
        middle: whether the 512-channel middle pair ``g_conv5`` exists.
        convs_per_block: convs in each "pair" (1, 2 as in the paper, or 3).
        width: channel multiplier; only the ``smoke`` profile uses anything but 1.
        out_kernel: side of the output conv, 1 as SID's (3: the second reading of ablation 10).
    """

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        upscale: int = 2,
        levels: Sequence[int] = (1, 2, 3, 4),
        middle: bool = True,
        convs_per_block: int = 2,
        width: float = 1.0,
        out_kernel: int = 1,
    ):
        super().__init__()
        if any(level not in (1, 2, 3, 4) for level in levels) or len(set(levels)) != len(levels):
            raise ModelOptionError("sid_unet", "levels", "distinct values from 1, 2, 3, 4", list(levels))
        if convs_per_block not in (1, 2, 3):
            raise ModelOptionError("sid_unet", "convs_per_block", "1, 2 or 3", convs_per_block)
        if not 0 < width < math.inf:
            raise ModelOptionError("sid_unet", "width", "a finite number > 0", width)
        if in_channels < 1:
            raise ModelOptionError("sid_unet", "in_channels", ">= 1", in_channels)
        if out_kernel not in (1, 3):
            raise ModelOptionError("sid_unet", "out_kernel", "1 or 3", out_kernel)
        levels = sorted(levels)
        self.levels = levels
        self.has_middle = middle
        ch = {lvl: max(1, round(LEVEL_CHANNELS[lvl - 1] * width)) for lvl in levels}
        self.encoder = nn.ModuleDict()
        channels = in_channels
        for lvl in levels:
            self.encoder[str(lvl)] = _conv_block(channels, ch[lvl], convs_per_block)
            channels = ch[lvl]
        self.pool = nn.MaxPool2d(2)
        self.middle = None
        if middle:
            self.middle = _conv_block(channels, max(1, round(MIDDLE_CHANNELS * width)), convs_per_block)
            channels = max(1, round(MIDDLE_CHANNELS * width))
        self.upsample = nn.ModuleDict()
        self.decoder = nn.ModuleDict()
        for lvl in reversed(levels):
            # upsample_and_concat: 2×2 stride-2 deconv, no activation; deconv output first, then the skip.
            self.upsample[str(lvl)] = nn.ConvTranspose2d(channels, ch[lvl], 2, stride=2)
            self.decoder[str(lvl)] = _conv_block(2 * ch[lvl], ch[lvl], convs_per_block)
            channels = ch[lvl]
        self.out = nn.Conv2d(channels, out_channels * upscale**2, out_kernel, padding=out_kernel // 2)
        self.shuffle = nn.PixelShuffle(upscale)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.ConvTranspose2d):
                nn.init.trunc_normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Conv2d):  # slim.conv2d defaults: Xavier weights, zero biases
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)

    @property
    def size_multiple(self) -> int:
        """Packed height and width must be multiples of this (one max-pool per level)."""
        return 2 ** len(self.levels)

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        if packed.shape[-1] % self.size_multiple or packed.shape[-2] % self.size_multiple:
            raise ValueError(
                f"sid_unet with levels {self.levels} needs packed height and width divisible by "
                f"{self.size_multiple}; got {tuple(packed.shape[-2:])}"
            )
        x = packed
        skips = []
        for lvl in self.levels:
            x = self.encoder[str(lvl)](x)
            skips.append(x)
            x = self.pool(x)  # (B, C, H/2, W/2)
        if self.middle is not None:
            x = self.middle(x)
        for lvl, skip in zip(reversed(self.levels), reversed(skips)):
            x = torch.cat([self.upsample[str(lvl)](x), skip], dim=1)
            x = self.decoder[str(lvl)](x)
        return self.shuffle(self.out(x))  # (B, 12, h, w) -> (B, 3, 2h, 2w)


@register_model("sid_unet")
def sid_unet(
    levels: list[int] = (1, 2, 3, 4),
    middle: bool = True,
    convs_per_block: int = 2,
    width: float = 1.0,
    in_channels: int = 4,
    out_kernel: int = 1,
) -> SIDUNet:
    """The SID U-Net; the keyword arguments select a layer-ablation variant (see ``ABLATIONS``)."""
    return SIDUNet(in_channels=in_channels, levels=levels, middle=middle, convs_per_block=convs_per_block, width=width,
                   out_kernel=out_kernel)

