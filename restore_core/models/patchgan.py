"""PatchGAN discriminators: pix2pix's 70×70 (BatchNorm) and TCFL's (InstanceNorm), one class."""

from __future__ import annotations

from torch import Tensor, nn

from restore_core.models.pix2pix import INITS, init_gan_weights
from restore_core.models.registry import ModelOptionError, register_model

NORMS = ("batch", "instance", "none")
LAYOUTS = ("pix2pix", "tcfl")


def _norm(kind: str, channels: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm2d(channels)]
    if kind == "instance":
        return [nn.InstanceNorm2d(channels, affine=False)]
    return []


class PatchDiscriminator(nn.Module):
    """Convolutional PatchGAN discriminator; each output value scores one receptive-field patch (logits, no sigmoid).

    ``layout="pix2pix"``: ``NLayerDiscriminator`` of Isola et al., CVPR 2017 (junyanz/pytorch-CycleGAN-and-pix2pix).
    Conv 4×4 stride 2 → LeakyReLU(0.2) at ``ndf`` channels (no norm), then ``n_layers - 1`` blocks of conv 4×4 stride
    2 → norm → LeakyReLU doubling the channels (at most ``8 · ndf``), one more such block with stride 1, and a 4×4
    stride-1 conv to 1 channel with bias. With ``n_layers=3`` the receptive field is 70×70 and a 256² input gives a
    30×30 map. 2,768,705 parameters for 6 input channels, 2,770,753 for 8.

    ``layout="tcfl"``: the discriminator of Geng et al., "Triplet Cross-Fusion Learning for Unpaired Image Denoising
    in Optical Coherence Tomography", IEEE TMI 2022 (gengmufeng/TCFL-OCT, ``code/model.py``, in the style of
    PyTorch-GAN). All ``n_layers + 1`` blocks have stride 2; then ZeroPad2d((1, 0, 1, 0)) and a 4×4 conv to 1 channel
    without bias, so the map is H/16 × W/16. With ``norm="instance"`` and 1 input channel: 2,762,688 parameters.

    In both, a conv carries a bias unless BatchNorm follows it (pix2pix's ``use_bias`` rule); the first block has no
    norm. The desmoking code's sigmoid + BCE is BCE-with-logits on this output.

    Args:
        in_channels: input channels; for a conditional GAN the condition and the image concatenated (3 + 3 = 6,
            4 + 4 = 8 with dark channels), for TCFL the single grayscale image (1).
        ndf: channels of the first block.
        n_layers: strided blocks after the first (3 for both papers).
        norm: ``batch``, ``instance`` (InstanceNorm, affine=False) or ``none``.
        layout: ``pix2pix`` or ``tcfl`` (see above).
        init: weight init, ``normal`` N(0, 0.02) (both papers' default) or ``xavier``; see ``init_gan_weights``.
    """

    def __init__(
        self,
        in_channels: int = 6,
        ndf: int = 64,
        n_layers: int = 3,
        norm: str = "batch",
        layout: str = "pix2pix",
        init: str = "normal",
    ):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"patchgan norm must be one of {', '.join(NORMS)}; got {norm!r}")
        if layout not in LAYOUTS:
            raise ValueError(f"patchgan layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
        model = "patchgan" if layout == "pix2pix" else "patchgan_in"
        for option, value in (("n_layers", n_layers), ("ndf", ndf), ("in_channels", in_channels)):
            if value < 1:
                raise ModelOptionError(model, option, ">= 1", value)
        if init not in INITS:
            raise ModelOptionError(model, "init", f"one of {', '.join(INITS)}", init)
        self.layout = layout
        self.n_layers = n_layers
        use_bias = norm != "batch"
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        channels = ndf
        for n in range(1, n_layers + 1):
            out = ndf * min(2**n, 8)
            stride = 1 if (layout == "pix2pix" and n == n_layers) else 2
            layers += [nn.Conv2d(channels, out, 4, stride=stride, padding=1, bias=use_bias), *_norm(norm, out)]
            layers.append(nn.LeakyReLU(0.2))
            channels = out
        if layout == "tcfl":
            layers += [nn.ZeroPad2d((1, 0, 1, 0)), nn.Conv2d(channels, 1, 4, padding=1, bias=False)]
        else:
            layers.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)
        init_gan_weights(self, init)

    def score_map_side(self, side: int) -> int:
        """Side of the score map for a square input side; 0 when the input is too small.

        Too small also covers a norm layer that would see a 1×1 map (InstanceNorm cannot normalise one pixel).
        """
        for layer in self.model:
            if isinstance(layer, nn.ZeroPad2d):
                side += 1
            elif isinstance(layer, nn.Conv2d):
                side = (side + 2 - 4) // layer.stride[0] + 1 if side >= 2 else 0
            elif isinstance(layer, (nn.BatchNorm2d, nn.InstanceNorm2d)) and side < 2:
                return 0
        return max(side, 0)

    @property
    def min_size(self) -> int:
        """Smallest input side that gives a non-empty score map (24 for pix2pix, 32 for TCFL with InstanceNorm)."""
        return next(side for side in range(1, 4096) if self.score_map_side(side) > 0)

    def forward(self, x: Tensor) -> Tensor:
        if min(x.shape[-2:]) < self.min_size:
            raise ValueError(
                f"patchgan ({self.layout}) needs inputs of at least {self.min_size} pixels a side; "
                f"got {tuple(x.shape[-2:])}"
            )
        return self.model(x)


@register_model("patchgan")
def patchgan(in_channels: int = 6, ndf: int = 64, n_layers: int = 3, init: str = "normal") -> PatchDiscriminator:
    """pix2pix's 70×70 PatchGAN with BatchNorm; input is condition and image concatenated."""
    return PatchDiscriminator(in_channels, ndf=ndf, n_layers=n_layers, norm="batch", layout="pix2pix", init=init)


@register_model("patchgan_in")
def patchgan_in(in_channels: int = 1, ndf: int = 64, init: str = "normal") -> PatchDiscriminator:
    """TCFL's PatchGAN discriminator with InstanceNorm (affine=False); input is one grayscale image."""
    return PatchDiscriminator(in_channels, ndf=ndf, n_layers=3, norm="instance", layout="tcfl", init=init)
