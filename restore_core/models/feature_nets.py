"""AlexNet and VGG16 ``.features`` with torchvision's layer indices, for feature (perceptual) losses.

The layers and state-dict keys are torchvision's, so torchvision's ImageNet checkpoints load into them as they are
(their ``classifier.*`` keys are dropped). Pretrained weights are never downloaded: they are read from the torch hub
cache, ``$TORCH_HOME/hub/checkpoints`` (``~/.cache/torch/hub/checkpoints`` by default), where the user puts
torchvision's file; a missing file is an error that says so, never a silent fallback to random weights.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from restore_core.errors import UserError

# ImageNet statistics for [0, 1] RGB input, as torchvision's and Johnson et al.'s preprocessing use them.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHTS = ("imagenet", "random")


@dataclass(frozen=True)
class Backbone:
    """``layers``: the ``.features`` Sequential as (kind, arguments); ``taps``: output name -> index of its ReLU."""

    layers: tuple[tuple, ...]
    taps: dict[str, int]
    default_taps: tuple[str, ...]
    url: str  # torchvision's IMAGENET1K_V1 checkpoint


def _vgg16_layers() -> tuple[tuple, ...]:
    layers, channels = [], 3
    for v in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if v == "M":
            layers.append(("pool", 2, 2))
        else:
            layers += [("conv", channels, v, 3, 1, 1), ("relu",)]
            channels = v
    return tuple(layers)


BACKBONES: dict[str, Backbone] = {
    # torchvision/models/alexnet.py; ("conv", in, out, kernel, stride, padding) at indices 0, 3, 6, 8, 10.
    "alexnet": Backbone(
        layers=(
            ("conv", 3, 64, 11, 4, 2),
            ("relu",),
            ("pool", 3, 2),
            ("conv", 64, 192, 5, 1, 2),
            ("relu",),
            ("pool", 3, 2),
            ("conv", 192, 384, 3, 1, 1),
            ("relu",),
            ("conv", 384, 256, 3, 1, 1),
            ("relu",),
            ("conv", 256, 256, 3, 1, 1),
            ("relu",),
            ("pool", 3, 2),
        ),
        taps={"relu1": 1, "relu2": 4, "relu3": 7, "relu4": 9, "relu5": 11},
        default_taps=("relu1", "relu2", "relu3", "relu4", "relu5"),
        url="https://download.pytorch.org/models/alexnet-owt-7be5be79.pth",
    ),
    # torchvision/models/vgg.py, cfg "D": convs at 0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28.
    "vgg16": Backbone(
        layers=_vgg16_layers(),
        taps={"relu1_2": 3, "relu2_2": 8, "relu3_3": 15, "relu4_3": 22, "relu5_3": 29},
        default_taps=("relu1_2", "relu2_2", "relu3_3", "relu4_3"),  # Johnson et al.'s loss network
        url="https://download.pytorch.org/models/vgg16-397923af.pth",
    ),
}


def _build(spec: tuple) -> nn.Module:
    kind, *args = spec
    if kind == "conv":
        c_in, c_out, k, stride, pad = args
        return nn.Conv2d(c_in, c_out, k, stride=stride, padding=pad)
    if kind == "relu":
        return nn.ReLU()  # not in place: the tapped activations are returned
    return nn.MaxPool2d(args[0], stride=args[1])


class FeatureNet(nn.Module):
    """The convolutional part of AlexNet (Krizhevsky et al., NeurIPS 2012) or VGG16 (Simonyan & Zisserman, ICLR
    2015) as in pytorch/vision, returning activations at named ReLUs as LPIPS (richzhang/PerceptualSimilarity,
    ``lpips/pretrained_networks.py``) and pytorch/examples' ``fast_neural_style/vgg.py`` slice them.

    Input is RGB in [0, 1], ``(B, 3, H, W)``; it is normalised with the ImageNet mean and std first. The
    ``features`` Sequential has torchvision's indices, so its state-dict keys are ``features.<idx>.{weight,bias}``;
    the normalisation constants are non-persistent buffers. Only the layers up to the deepest tap run.

    Args:
        backbone: ``alexnet`` (taps ``relu1`` … ``relu5``: 64, 192, 384, 256, 256 channels) or ``vgg16`` (taps
            ``relu1_2``, ``relu2_2``, ``relu3_3``, ``relu4_3``, ``relu5_3``: 64, 128, 256, 512, 512 channels).
        taps: which activations ``forward`` returns; by default all five for AlexNet and the first four for VGG16.
    """

    def __init__(self, backbone: str = "vgg16", taps: tuple[str, ...] | None = None):
        super().__init__()
        if backbone not in BACKBONES:
            raise ValueError(f"unknown feature backbone {backbone!r}; known: {', '.join(BACKBONES)}")
        spec = BACKBONES[backbone]
        taps = tuple(taps) if taps is not None else spec.default_taps
        unknown = [t for t in taps if t not in spec.taps]
        if unknown or not taps:
            raise ValueError(f"{backbone} taps must be among {', '.join(spec.taps)}; got {list(taps)}")
        self.backbone = backbone
        self.taps = sorted(taps, key=spec.taps.get)
        self.features = nn.Sequential(*(_build(s) for s in spec.layers))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self._tap_at = {spec.taps[t]: t for t in self.taps}
        self._last = max(self._tap_at)
        if backbone == "vgg16":  # torchvision's VGG init; AlexNet keeps PyTorch's default conv init, as torchvision
            for m in self.features:
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    nn.init.zeros_(m.bias)

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        if image.dim() != 4 or image.shape[1] != 3:
            raise ValueError(f"{self.backbone} features take RGB images (B, 3, H, W); got {tuple(image.shape)}")
        x = (image - self.mean) / self.std
        out = {}
        for idx, layer in enumerate(self.features[: self._last + 1]):
            x = layer(x)
            if idx in self._tap_at:
                out[self._tap_at[idx]] = x
        return out


def weights_file(backbone: str) -> str:
    """torchvision's file name for the backbone's ImageNet weights, e.g. ``alexnet-owt-7be5be79.pth``."""
    return BACKBONES[backbone].url.rsplit("/", 1)[1]


def weights_cache_dir() -> str:
    """The folder torch.hub reads checkpoints from: ``$TORCH_HOME/hub/checkpoints`` (resolved now)."""
    return os.path.join(torch.hub.get_dir(), "checkpoints")


def _check_hash(path: str, file_name: str) -> None:
    # torch.hub checks the name's hash prefix only while downloading; a cached file is trusted as it is, so a
    # truncated or substituted file would load silently. Check it here.
    prefix = re.search(r"-([a-f0-9]{8,})\.", file_name).group(1)
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if not digest.hexdigest().startswith(prefix):
        raise UserError(
            f"{path} is not torchvision's {file_name} (its sha256 does not start with {prefix}); download it again"
        )


def load_imagenet_weights(net: FeatureNet, backbone: str, verify_hash: bool = True) -> str:
    """Load torchvision's ImageNet weights for ``backbone`` into ``net.features`` from the torch hub cache.

    The full torchvision state dict is read with ``torch.hub.load_state_dict_from_url`` (which takes the cached
    file and never downloads here, because a missing file is reported first); its ``features.*`` keys are loaded
    with ``strict=True`` and its ``classifier.*`` keys dropped.

    Args:
        net: the feature network to fill.
        backbone: ``alexnet`` or ``vgg16``.
        verify_hash: check that the file's sha256 starts with the hash in its name.

    Returns:
        A description of the weights, for logs and manifests.

    Raises:
        UserError: the file is missing (the message names it and the folder to put it in), has the wrong hash, or
            does not have torchvision's layout.
    """
    url = BACKBONES[backbone].url
    file_name, folder = weights_file(backbone), weights_cache_dir()
    path = os.path.join(folder, file_name)
    if not os.path.isfile(path):
        raise UserError(
            f"ImageNet weights for {backbone} not found: put torchvision's {file_name} ({url}) in {folder} "
            "(the torch hub cache, $TORCH_HOME/hub/checkpoints), or use weights 'random'"
        )
    if verify_hash:
        _check_hash(path, file_name)
    state = torch.hub.load_state_dict_from_url(url, map_location="cpu", check_hash=True, weights_only=True)
    features = {k: v for k, v in state.items() if k.startswith("features.")}
    try:
        net.load_state_dict(features, strict=True)
    except RuntimeError as err:  # missing, unexpected or mis-shaped keys
        detail = "; ".join(line.strip() for line in str(err).splitlines()[1:] if line.strip())
        raise UserError(f"{path} does not have torchvision's {backbone} layout: {detail}") from err
    return f"imagenet ({file_name}{', sha256 checked' if verify_hash else ''})"


def build_feature_net(
    backbone: str = "vgg16", weights: str = "imagenet", taps: tuple[str, ...] | None = None, verify_hash: bool = True
) -> tuple[FeatureNet, str]:
    """A feature network and a description of the weights it holds (``imagenet (<file>...)`` or ``random init``)."""
    if weights not in WEIGHTS:
        raise UserError(f"unknown feature weights {weights!r}; known: {', '.join(WEIGHTS)}")
    if backbone not in BACKBONES:
        raise UserError(f"unknown feature backbone {backbone!r}; known: {', '.join(BACKBONES)}")
    net = FeatureNet(backbone, taps)
    if weights == "random":
        return net, "random init (no pretrained weights)"
    return net, load_imagenet_weights(net, backbone, verify_hash=verify_hash)
