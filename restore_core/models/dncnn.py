"""DnCNN, the noise generator of TCFL (it predicts the noise; the clean image is the input minus the output)."""

from __future__ import annotations

import math

from torch import Tensor, nn

from restore_core.models.pix2pix import init_gan_weights
from restore_core.models.registry import ModelOptionError, register_model


class DnCNN(nn.Module):
    """Residual denoiser of Zhang et al., "Beyond a Gaussian Denoiser", IEEE TIP 2017, in the 10-layer form that
    Geng et al. use as the generator of TCFL, IEEE TMI 2022 (gengmufeng/TCFL-OCT, ``code/model.py``).

    Layout: conv 3×3 ``channels → features`` → LeakyReLU, then ``depth - 2`` × [conv 3×3 → BatchNorm →
    LeakyReLU], then conv 3×3 ``features → channels``; no conv has a bias, padding keeps the size. The output is
    the predicted noise, so ``clean = noisy - model(noisy)`` (see :meth:`denoise`). With the defaults (1 channel,
    depth 10, 64 features) it has 297,088 parameters. Weights are N(0, 0.02) and BatchNorm weights N(1, 0.02), as
    TCFL's ``weights_init_normal`` leaves them (it runs after the generator's own He init, replacing it).

    Args:
        channels: image channels (1 for grayscale OCT).
        depth: number of convs (10 in TCFL, 17 in the original DnCNN).
        features: channels of the hidden convs.
        negative_slope: LeakyReLU slope (TCFL uses PyTorch's default, 0.01).
    """

    def __init__(self, channels: int = 1, depth: int = 10, features: int = 64, negative_slope: float = 0.01):
        super().__init__()
        if depth < 2:
            raise ModelOptionError("dncnn", "depth", ">= 2 (at least 2 convs)", depth)
        for option, value in (("channels", channels), ("features", features)):
            if value < 1:
                raise ModelOptionError("dncnn", option, ">= 1", value)
        if not 0 <= negative_slope < math.inf:
            raise ModelOptionError("dncnn", "negative_slope", "a finite number >= 0", negative_slope)
        layers: list[nn.Module] = [
            nn.Conv2d(channels, features, 3, padding=1, bias=False),
            nn.LeakyReLU(negative_slope),
        ]
        for _ in range(depth - 2):
            layers += [
                nn.Conv2d(features, features, 3, padding=1, bias=False),
                nn.BatchNorm2d(features),
                nn.LeakyReLU(negative_slope),
            ]
        layers.append(nn.Conv2d(features, channels, 3, padding=1, bias=False))
        self.body = nn.Sequential(*layers)
        init_gan_weights(self, "normal")

    def forward(self, noisy: Tensor) -> Tensor:
        """The predicted noise, same shape as ``noisy``."""
        return self.body(noisy)

    def denoise(self, noisy: Tensor) -> Tensor:
        """The clean estimate ``noisy - noise`` (not clamped; TCFL clips to [0, 1] only when saving)."""
        return noisy - self(noisy)


@register_model("dncnn")
def dncnn(channels: int = 1, depth: int = 10, features: int = 64, negative_slope: float = 0.01) -> DnCNN:
    """TCFL's DnCNN-10 noise generator."""
    return DnCNN(channels=channels, depth=depth, features=features, negative_slope=negative_slope)
