"""Lamba & Mitra's real-time network for extremely dark raw images, with its RDB ablations as data."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from restore_core.models.registry import ModelOptionError, register_model

FEATURES = 64  # channels of the 1/32 and 1/8 branches
GROWTH = 32  # growth rate of the dense layers
SLOPE = 0.2  # LeakyReLU slope everywhere in the network

# Dense layers per RDB for each ``n_rdb``: the paper's 3 RDBs have 4, 5, 5; fewer drop the last ones, a fourth
# repeats the deepest block.
DENSE_LAYERS: dict[int, tuple[int, ...]] = {2: (4, 5), 3: (4, 5, 5), 4: (4, 5, 5, 5)}
RDB_KINDS = ("star", "plain")


def wn_conv(
    in_channels: int, out_channels: int, kernel_size: int = 3, groups: int = 1, bias: bool = True, slope: float = 1.0
) -> nn.Module:
    """``conv_layer`` of network.py: a weight-normalised conv with SAME padding and Kaiming-normal init.

    ``slope`` is the LeakyReLU slope that follows or precedes the conv (1 = linear), used only for the init gain.
    The Kaiming draw is taken before weight normalisation, so ``g`` starts at the norm of that draw.
    """
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size - 1) // 2, groups=groups, bias=bias)
    nn.init.kaiming_normal_(conv.weight, a=slope, mode="fan_in", nonlinearity="leaky_relu")
    if bias:
        nn.init.zeros_(conv.bias)
    return weight_norm(conv)  # parameters: weight_g (out, 1, 1, 1) as original0, weight_v as original1


def _dense_layer(in_channels: int, position: str, kind: str) -> nn.Module:
    """One dense layer of an RDB; its output is concatenated to its input by :class:`RDB`.

    RDB* (``star``): the first layer is a bare conv, the middle ones are pre-activation LeakyReLU(0.2) → conv, and
    the last has a LeakyReLU of slope 1 (the identity) before its conv, so it is a bare conv too. The plain RDB of
    the ablation is conv → LeakyReLU(0.2) in every layer.
    """
    if kind == "plain":
        return nn.Sequential(wn_conv(in_channels, GROWTH, bias=False, slope=SLOPE), nn.LeakyReLU(SLOPE))
    if position == "middle":
        return nn.Sequential(nn.LeakyReLU(SLOPE), wn_conv(in_channels, GROWTH, bias=False, slope=SLOPE))
    return wn_conv(in_channels, GROWTH, bias=False, slope=SLOPE if position == "first" else 1.0)


class RDB(nn.Module):
    """Residual dense block: ``n_layers`` dense layers (growth 32), a 1×1 conv back to ``channels``, plus the input."""

    def __init__(self, channels: int, n_layers: int, kind: str = "star"):
        super().__init__()
        positions = ["first"] + ["middle"] * (n_layers - 2) + ["last"]
        self.layers = nn.ModuleList(
            _dense_layer(channels + i * GROWTH, position, kind) for i, position in enumerate(positions)
        )
        self.fuse = wn_conv(channels + n_layers * GROWTH, channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = x
        for layer in self.layers:
            features = torch.cat([features, layer(features)], dim=1)
        return self.fuse(features) + x


class ResBlock(nn.Module):
    """conv → LeakyReLU(0.2) → conv, plus the input (both convs with bias)."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(
            wn_conv(channels, channels, slope=SLOPE), nn.LeakyReLU(SLOPE), wn_conv(channels, channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + x


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """ShuffleNet's channel shuffle: interleave the ``groups`` halves (here the 1/8 and 1/32 branches)."""
    b, c, h, w = x.shape
    return x.view(b, groups, c // groups, h, w).transpose(1, 2).reshape(b, c, h, w)


class LambaRT(nn.Module):
    """Three-scale network of Lamba & Mitra, "Restoring Extremely Dark Images in Real Time", CVPR 2021
    (MohitLamba94/Restoring-Extremely-Dark-Images-In-Real-Time, ``network.py``).

    Input: the full-resolution Bayer mosaic, ``(B, 1, H, W)`` with H and W multiples of 32, already amplified.
    It is pixel-unshuffled to 4 channels at 1/2, which feed three branches: a 1/32 encoder (grouped conv, conv, a
    chain of RDBs whose outputs are concatenated, a 1×1 conv and a skip), a 1/8 encoder (one ResBlock), and a 1/2
    encoder (one 5×5 conv). Fuse block 1 joins 1/32 and 1/8 (channel shuffle, grouped conv, conv + LeakyReLU, pixel
    shuffle to 1/2); fuse block 2 joins that with the 1/2 branch (5×5 conv, pixel shuffle to sRGB at full
    resolution). The output is clamped to [0, 1]. Every conv is weight-normalised. With the defaults it has
    784,768 parameters (``g`` and ``v`` of every weight norm counted), as the official README prints.

    Args:
        rdb: ``"star"`` for the paper's RDB* (pre-activation, no nonlinearity before the first and last convs) or
            ``"plain"`` for the original RDB (conv → LeakyReLU(0.2) in every dense layer).
        n_rdb: number of RDBs in the 1/32 branch, 2, 3 (the paper) or 4; their dense-layer counts are
            ``DENSE_LAYERS[n_rdb]``, and the 1×1 conv after them takes ``n_rdb × 64`` channels.
    """

    size_multiple = 32  # 2 (Bayer unshuffle) × 16 (to the 1/32 branch)

    def __init__(self, rdb: str = "star", n_rdb: int = 3):
        super().__init__()
        if rdb not in RDB_KINDS:
            raise ModelOptionError("lamba_rt", "rdb", f"one of {', '.join(RDB_KINDS)}", rdb)
        if n_rdb not in DENSE_LAYERS:
            raise ModelOptionError("lamba_rt", "n_rdb", f"one of {', '.join(map(str, DENSE_LAYERS))}", n_rdb)
        self.rdb_kind, self.n_rdb = rdb, n_rdb
        self.unshuffle2, self.unshuffle4, self.unshuffle16 = (nn.PixelUnshuffle(r) for r in (2, 4, 16))
        self.shuffle2, self.shuffle4 = nn.PixelShuffle(2), nn.PixelShuffle(4)
        # 1/32 branch (HSE): 4 × 16² = 1024 channels in.
        self.conv32x = nn.Sequential(wn_conv(1024, 128, groups=128), wn_conv(128, FEATURES))
        self.rdbs = nn.ModuleList(RDB(FEATURES, n, rdb) for n in DENSE_LAYERS[n_rdb])
        self.rdball = wn_conv(n_rdb * FEATURES, FEATURES, kernel_size=1, bias=False)
        self.conv_rdb8x = wn_conv(FEATURES // 16, FEATURES)  # after the 4× pixel shuffle to 1/8
        # 1/8 branch (MSE): 4 × 4² = 64 channels in.
        self.resblock8x = ResBlock(FEATURES)
        # Fuse block 1: 128 → 32 (groups 4) → 192 = 12 × 4², shuffled to 12 channels at 1/2.
        self.fuse1 = nn.Sequential(
            wn_conv(2 * FEATURES, 32, groups=4), wn_conv(32, 192, slope=SLOPE), nn.LeakyReLU(SLOPE)
        )
        # 1/2 branch (LSE) and fuse block 2: 12 + 12 → 12 = 3 × 2², shuffled to RGB at full resolution.
        self.conv2x = wn_conv(4, 12, kernel_size=5)
        self.fuse2 = wn_conv(24, 12, kernel_size=5)

    def forward(self, bayer: torch.Tensor) -> torch.Tensor:
        check_bayer(bayer, self.size_multiple)
        low2x = self.unshuffle2(bayer)  # (B, 4, H/2, W/2), channels (0,0), (0,1), (1,0), (1,1)
        # 1/32 branch
        feat32x = self.conv32x(self.unshuffle16(low2x))  # (B, 64, H/32, W/32)
        outputs, x = [], feat32x
        for block in self.rdbs:
            x = block(x)
            outputs.append(x)
        out32x = self.rdball(torch.cat(outputs, dim=1)) + feat32x
        out32x = self.conv_rdb8x(self.shuffle4(out32x))  # (B, 64, H/8, W/8)
        # 1/8 branch and fuse block 1
        feat8x = self.resblock8x(self.unshuffle4(low2x))  # (B, 64, H/8, W/8)
        fused = self.fuse1(channel_shuffle(torch.cat([feat8x, out32x], dim=1), groups=2))
        fused = self.shuffle4(fused)  # (B, 12, H/2, W/2)
        # 1/2 branch and fuse block 2
        out = self.fuse2(torch.cat([self.conv2x(low2x), fused], dim=1))
        return self.shuffle2(out).clamp(0, 1)  # (B, 3, H, W)


def check_bayer(bayer: torch.Tensor, size_multiple: int) -> None:
    """Refuse what the network cannot take: anything but ``(B, 1, H, W)`` with sides that divide by
    ``size_multiple``."""
    if bayer.dim() != 4 or bayer.shape[1] != 1:
        raise ValueError(f"lamba_rt takes a 1-channel Bayer mosaic (B, 1, H, W); got shape {tuple(bayer.shape)}")
    if bayer.shape[-2] % size_multiple or bayer.shape[-1] % size_multiple:
        raise ValueError(f"lamba_rt needs height and width divisible by {size_multiple}; got {tuple(bayer.shape[-2:])}")


@register_model("lamba_rt")
def lamba_rt(rdb: str = "star", n_rdb: int = 3) -> LambaRT:
    """Lamba & Mitra's network; ``rdb`` and ``n_rdb`` select the RDB ablation variants."""
    return LambaRT(rdb=rdb, n_rdb=n_rdb)


def variant_label(rdb: str = "star", n_rdb: int = 3) -> str:
    """Readable name of a variant, e.g. ``3 × RDB*`` or ``2 × plain RDB``."""
    return f"{n_rdb} × {'RDB*' if rdb == 'star' else 'plain RDB'}"
