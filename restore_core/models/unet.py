"""A plain U-Net autoencoder (the reconstruction model of the spill-detection study, seed 004)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from restore_core.models.registry import ModelOptionError, register_model


def double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two × [conv 3×3 → BatchNorm → ReLU]; the convs have no bias because BatchNorm follows."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    """U-Net of Ronneberger et al., "U-Net: Convolutional Networks for Biomedical Image Segmentation", MICCAI 2015,
    in the common PyTorch form (same-padded convs with BatchNorm, as in milesial/Pytorch-UNet), used as an image
    autoencoder: the spill-detection study trains it to reconstruct clean images and scores anomalies by the
    reconstruction error. The study names the architecture only ("U-net"), so this is the standard layout.

    Level ``i`` (0 … ``depth``) has ``width · 2^i`` channels. Encoder: a double conv per level, 2×2 max-pool between
    levels. Decoder: 2×2 stride-2 transposed conv halving the channels, concatenation with the encoder's skip
    (``cat([skip, up])``), a double conv. Head: 1×1 conv and a sigmoid, so the output lies in [0, 1] like the input.
    With the defaults (depth 4, width 64) it is the classic 31.0 M-parameter U-Net.

    Args:
        in_channels: input channels (3 for RGB).
        out_channels: output channels (3: the reconstruction).
        depth: number of max-pools; height and width must be multiples of ``2 ** depth``.
        width: channels of the first level.
    """

    def __init__(self, in_channels: int = 3, out_channels: int = 3, depth: int = 4, width: int = 64):
        super().__init__()
        for option, value in (("depth", depth), ("width", width), ("in_channels", in_channels),
                              ("out_channels", out_channels)):
            if value < 1:
                raise ModelOptionError("unet", option, ">= 1", value)
        self.depth = depth
        ch = [width * 2**i for i in range(depth + 1)]
        self.encoder = nn.ModuleList(double_conv(in_channels if i == 0 else ch[i - 1], ch[i]) for i in range(depth + 1))
        self.pool = nn.MaxPool2d(2)
        self.upsample = nn.ModuleList(nn.ConvTranspose2d(ch[i + 1], ch[i], 2, stride=2) for i in range(depth))
        self.decoder = nn.ModuleList(double_conv(2 * ch[i], ch[i]) for i in range(depth))
        self.head = nn.Conv2d(ch[0], out_channels, 1)

    @property
    def size_multiple(self) -> int:
        return 2**self.depth

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2] % self.size_multiple or x.shape[-1] % self.size_multiple:
            raise ValueError(
                f"unet with depth {self.depth} needs height and width divisible by {self.size_multiple}; "
                f"got {tuple(x.shape[-2:])}"
            )
        skips = []
        for i, block in enumerate(self.encoder):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)  # (B, width·2^i, H/2^i, W/2^i)
        x = skips.pop()
        for i in reversed(range(self.depth)):
            x = self.decoder[i](torch.cat([skips[i], self.upsample[i](x)], dim=1))
        return torch.sigmoid(self.head(x))


@register_model("unet")
def unet(depth: int = 4, width: int = 64, in_channels: int = 3, out_channels: int = 3) -> UNet:
    """Plain U-Net autoencoder with a sigmoid output."""
    return UNet(in_channels=in_channels, out_channels=out_channels, depth=depth, width=width)
