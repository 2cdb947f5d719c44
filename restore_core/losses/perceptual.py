"""Feature (perceptual) loss on a frozen AlexNet or VGG16, as in Johnson et al. and LPIPS."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from restore_core.errors import ConfigError, UserError
from restore_core.losses.registry import register_loss
from restore_core.models.feature_nets import build_feature_net

FEATURE_NORMS = ("channel", "none")
EPS = 1e-10  # LPIPS's epsilon in normalize_tensor


def unit_channels(x: Tensor) -> Tensor:
    """Scale every pixel's feature vector to unit length (LPIPS's ``normalize_tensor``).

    ``rsqrt(Σ x² + eps)`` rather than LPIPS's ``x / (sqrt(Σ x²) + eps)``: the latter has a NaN gradient where a
    pixel's features are all zero, which dead ReLUs make common.
    """
    return x * torch.rsqrt(x.pow(2).sum(dim=1, keepdim=True) + EPS)


class PerceptualLoss(nn.Module):
    """Mean over the tapped layers of a feature distance between prediction and target.

    Feature loss of Johnson et al., "Perceptual Losses for Real-Time Style Transfer and Super-Resolution", ECCV 2016
    (pytorch/examples ``fast_neural_style``), with LPIPS's per-channel normalisation option (Zhang et al., CVPR 2018,
    richzhang/PerceptualSimilarity) and no learned layer weights. Images are ``(B, 3, H, W)`` in [0, 1]
    (1-channel images are repeated to RGB); the network normalises them with the ImageNet statistics. The network
    is frozen and stays in eval mode. It is 0 for identical images and grows with their difference.

    Args:
        backbone: ``vgg16`` (taps relu1_2 … relu4_3) or ``alexnet`` (relu1 … relu5).
        weights: ``imagenet`` (torchvision's file from the torch hub cache; an error if it is missing) or ``random``.
        feature_norm: ``channel``: per layer, the squared distance between unit-length feature vectors summed over
            channels and averaged over pixels (LPIPS with unit weights; each layer lies in [0, 4]); ``none``: the
            plain MSE of the features, as the spill-detection study's ``MSE[AlexNet(x), AlexNet(x̂)]``.
        layers: taps to use instead of the backbone's defaults, e.g. ``["relu2_2"]`` for Johnson's content loss.

    Attributes:
        weights_used: a description of the weights, e.g. ``random init (no pretrained weights)``, for the manifest.
    """

    def __init__(
        self,
        backbone: str = "vgg16",
        weights: str = "random",
        feature_norm: str = "channel",
        layers: list[str] | None = None,
    ):
        super().__init__()
        if feature_norm not in FEATURE_NORMS:
            raise ConfigError(
                f"perceptual feature_norm must be one of {', '.join(FEATURE_NORMS)}; got {feature_norm!r}"
            )
        try:
            self.net, self.weights_used = build_feature_net(backbone, weights, taps=layers)
        except UserError:
            raise
        except ValueError as err:  # bad layer names
            raise ConfigError(f"perceptual loss: {err}") from err
        self.backbone = backbone
        self.feature_norm = feature_norm
        self.net.requires_grad_(False)
        self.net.eval()

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.net.eval()  # the loss network never leaves eval mode
        return self

    def _features(self, image: Tensor) -> dict[str, Tensor]:
        if image.shape[1] == 1:
            image = image.expand(-1, 3, -1, -1)  # grayscale -> RGB
        return self.net(image)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        with torch.no_grad():
            target_features = self._features(target)
        pred_features = self._features(pred)
        distances = []
        for name, f_pred in pred_features.items():
            f_target = target_features[name]
            if self.feature_norm == "channel":
                distances.append((unit_channels(f_pred) - unit_channels(f_target)).pow(2).sum(dim=1).mean())
            else:
                distances.append(F.mse_loss(f_pred, f_target))
        return torch.stack(distances).mean()


@register_loss("perceptual")
def perceptual(
    backbone: str = "vgg16", weights: str = "random", feature_norm: str = "channel", layers: list[str] | None = None
) -> PerceptualLoss:
    """Feature loss on a frozen AlexNet/VGG16; ``weights_used`` says which weights it holds."""
    return PerceptualLoss(backbone=backbone, weights=weights, feature_norm=feature_norm, layers=layers)
