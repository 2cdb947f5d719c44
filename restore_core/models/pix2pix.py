"""The pix2pix U-Net generator (unet_256), its "small" ablation, and the weight init the GAN models share."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from restore_core.models.registry import ModelOptionError, register_model

# Down-samplings of each variant: unet_256 has 8; the desmoking study's "small" generator drops two of the inner
# 512-channel levels (its layers 6, 7 and their decoder twins 10, 11), keeping the innermost one.
VARIANTS: dict[str, int] = {"full": 8, "small": 6}
INITS = ("normal", "xavier")


def init_gan_weights(module: nn.Module, init: str = "normal") -> None:
    """Initialise conv and norm layers as the GAN repositories do.

    ``normal``: conv weights N(0, 0.02), BatchNorm weights N(1, 0.02), biases 0 (pix2pix's default ``init_type``,
    and TCFL's ``weights_init_normal``). ``xavier``: Xavier-normal conv weights with gain 1, BatchNorm weights
    U(0.02, 1), biases 0 (the desmoking repository's ``weights_init_xavier``).
    """
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)}; got {init!r}")
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            if init == "normal":
                nn.init.normal_(m.weight, 0.0, 0.02)
            else:
                nn.init.xavier_normal_(m.weight, gain=1.0)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            if init == "normal":
                nn.init.normal_(m.weight, 1.0, 0.02)
            else:
                nn.init.uniform_(m.weight, 0.02, 1.0)
            nn.init.zeros_(m.bias)


class Pix2PixUNet(nn.Module):
    """U-Net generator of Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR
    2017 (junyanz/pytorch-CycleGAN-and-pix2pix, ``UnetGenerator``), as used for desmoking by Salazar-Colores et al.,
    IEEE Access 2020 (ssalazarcolores/Desmoking-laparoscopy-...-Dark-).

    Level ``i`` has ``ngf · min(2^i, 8)`` channels. Down path: [LeakyReLU(0.2) →] conv 4×4 stride 2 [→ BatchNorm];
    the outermost level has no activation or norm, the innermost no norm. Up path: ReLU → transposed conv 4×4
    stride 2 → BatchNorm [→ Dropout(0.5)], then the skip is concatenated in front (``cat([skip, up])``); the
    outermost up is ReLU → transposed conv (with bias) → tanh. As in the original, whose LeakyReLU works in place,
    the skip carries the LeakyReLU-activated features. Convs have no bias because BatchNorm follows them.
    Dropout sits in the up blocks of the 512-channel levels between the innermost and the 256-channel one (three in
    unet_256, one in the small variant). Output in [-1, 1]. unet_256 3→3 has 54,413,955 parameters, 4→4 54,417,028.

    Args:
        in_channels: input channels (3 for RGB, 4 for RGB + dark channel).
        out_channels: output channels (the desmoking code predicts 4 and takes the loss on the first 3).
        num_downs: down-samplings; height and width must be multiples of ``2 ** num_downs`` (8 for unet_256).
        ngf: channels of the outermost level (64 in the paper; smaller for smoke tests).
        dropout: probability of the inner decoder dropouts (0.5; 0 switches them off, as ``--no_dropout``).
        init: weight init, ``normal`` (pix2pix) or ``xavier`` (desmoking repository); see :func:`init_gan_weights`.
    """

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_downs: int = 8,
        ngf: int = 64,
        dropout: float = 0.5,
        init: str = "normal",
    ):
        super().__init__()
        if num_downs < 5:
            raise ValueError(f"pix2pix_unet needs at least 5 down-samplings; got {num_downs}")
        for option, value in (("ngf", ngf), ("in_channels", in_channels), ("out_channels", out_channels)):
            if value < 1:
                raise ModelOptionError("pix2pix_unet", option, ">= 1", value)
        if not 0 <= dropout < 1:
            raise ModelOptionError("pix2pix_unet", "dropout", "in [0, 1) (0 switches the dropouts off)", dropout)
        if init not in INITS:
            raise ModelOptionError("pix2pix_unet", "init", f"one of {', '.join(INITS)}", init)
        self.num_downs = num_downs
        ch = [ngf * min(2**i, 8) for i in range(num_downs)]
        downs: list[nn.Module] = [nn.Conv2d(in_channels, ch[0], 4, stride=2, padding=1, bias=False)]
        for i in range(1, num_downs):
            layers = [nn.Conv2d(ch[i - 1], ch[i], 4, stride=2, padding=1, bias=False)]
            if i < num_downs - 1:
                layers.append(nn.BatchNorm2d(ch[i]))
            downs.append(nn.Sequential(*layers))
        self.down_act = nn.LeakyReLU(0.2)  # opens every down block but the outermost
        ups: list[nn.Module] = [
            nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(2 * ch[0], out_channels, 4, stride=2, padding=1), nn.Tanh())
        ]
        for i in range(1, num_downs):
            in_up = ch[i] if i == num_downs - 1 else 2 * ch[i]  # the innermost up sees no skip
            layers = [
                nn.ReLU(),
                nn.ConvTranspose2d(in_up, ch[i - 1], 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(ch[i - 1]),
            ]
            if 4 <= i < num_downs - 1 and dropout > 0:
                layers.append(nn.Dropout(dropout))
            ups.append(nn.Sequential(*layers))
        self.downs = nn.ModuleList(downs)
        self.ups = nn.ModuleList(ups)  # ups[i] undoes downs[i]
        init_gan_weights(self, init)

    @property
    def size_multiple(self) -> int:
        return 2**self.num_downs

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-2] % self.size_multiple or x.shape[-1] % self.size_multiple:
            raise ValueError(
                f"pix2pix_unet with {self.num_downs} down-samplings needs height and width divisible by "
                f"{self.size_multiple}; got {tuple(x.shape[-2:])}"
            )
        skips = []
        for i, down in enumerate(self.downs):
            if i > 0:
                # pix2pix's LeakyReLU is in place, so the skip it concatenates is the activated tensor.
                x = self.down_act(x)
                skips.append(x)  # (B, ch[i-1], H / 2^i, W / 2^i)
            x = down(x)
        for i in reversed(range(self.num_downs)):
            x = self.ups[i](x)
            if i > 0:
                x = torch.cat([skips[i - 1], x], dim=1)  # pix2pix's cat([x, model(x)]): the skip comes first
        return x


@register_model("pix2pix_unet")
def pix2pix_unet(
    variant: str = "full",
    in_channels: int = 3,
    out_channels: int = 3,
    ngf: int = 64,
    dropout: float = 0.5,
    init: str = "normal",
) -> Pix2PixUNet:
    """The pix2pix generator: ``variant`` ``full`` (unet_256) or ``small`` (two inner levels removed)."""
    if variant not in VARIANTS:
        raise ModelOptionError("pix2pix_unet", "variant", f"one of {', '.join(VARIANTS)}", variant)
    return Pix2PixUNet(in_channels, out_channels, VARIANTS[variant], ngf=ngf, dropout=dropout, init=init)


def variant_label(variant: str = "full", in_channels: int = 3) -> str:
    """Readable name of a generator, e.g. ``full U-Net, RGB`` or ``small U-Net, RGB + dark channel``."""
    return f"{variant} U-Net, {'RGB + dark channel' if in_channels == 4 else 'RGB'}"
