"""The anomaly task's config sections: ``task`` (:class:`AnomalyOptions`) and ``data`` (:class:`AnomalyData`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from restore_core.config import check_range
from restore_core.data.photos import COLOUR_PHOTOS, check_photos
from restore_core.errors import ConfigError
from restore_core.tasks.base import check_data_root


@dataclass(frozen=True)
class AnomalyOptions:
    """``score``: ``mse`` is the per-image MSE of the reconstruction; ``loss`` the per-image training loss,
    λ·MSE + (1 − λ)·perceptual (what the study's thresholds suggest it scored with: they change with the backbone at
    λ = 0); ``mse+perceptual`` the MSE plus the unweighted perceptual distance (the loss term's network, or one built
    for scoring when λ = 1). Scores are computed where the loss is: on normalised images when ``input_mean`` is set.
    ``input_mean``/``input_std``: per-channel statistics the images are normalised with, ``(x − mean) / std``, before
    the U-Net sees them (its output is in that space, and the MSE is computed there, as in the study's
    ``transforms.Normalize(MEAN, STD)``); empty lists keep images in [0, 1]. ``perceptual_input``: what the feature
    network gets when images are normalised: ``images`` (mapped back to [0, 1], then the network's ImageNet
    normalisation; the default, the network's documented input) or ``normalized`` (the normalised tensors as they are,
    the study's literal ``AlexNet(original)``). ``perceptual_layers``: the feature network's taps (default: AlexNet
    relu1–relu5, VGG16 relu1_2–relu4_3). ``augment_share``: the share
    of every training batch that gets white circles and blobs drawn on its input (the target stays clean), as the
    study's artefact augmentation (0, 1/3 or 1). ``perceptual_*``: the perceptual term's backbone, its weights
    (``imagenet`` reads torchvision's file from ``$TORCH_HOME/hub/checkpoints`` and fails without it; ``random`` must
    be asked for), its feature distance (``none``: plain MSE of the features, as the study; ``channel``: LPIPS's unit
    normalisation) and whether the weight file's sha256 must match its name."""

    score: Literal["mse", "loss", "mse+perceptual"] = "mse"
    input_mean: list[float] = field(default_factory=list)
    input_std: list[float] = field(default_factory=list)
    perceptual_input: Literal["images", "normalized"] = "images"
    perceptual_layers: list[str] | None = None
    augment_share: float = 0.0
    perceptual_backbone: Literal["alexnet", "vgg16"] = "alexnet"
    perceptual_weights: Literal["imagenet", "random"] = "imagenet"
    perceptual_norm: Literal["none", "channel"] = "none"
    perceptual_check_hash: bool = True

    def validate(self) -> None:
        if not 0 <= self.augment_share <= 1:
            raise ConfigError(f"task.augment_share must be in [0, 1]; got {self.augment_share}")
        for mean in self.input_mean:
            check_range("task.input_mean", mean, note="(one per channel)")
        for std in self.input_std:
            check_range("task.input_std", std, gt=0, note="(one per channel)")
        if len(self.input_mean) != len(self.input_std):
            raise ConfigError(f"task.input_mean and task.input_std must have one value per channel each (or both be "
                              f"empty); got {self.input_mean}, {self.input_std}")


@dataclass(frozen=True)
class AnomalyData:
    """``source: synthetic``: disjoint ``tile``-pixel tiles of the embedded ``photos``; the anomalous ones get 1–4
    spills (circles, blobs, streaks; radius ``spill_size`` of the side) drawn deterministically from ``seed``.
    ``source: folders``: ``root/normal`` and ``root/anomalous`` resized to ``tile`` (as the study resized); after a
    fixed shuffle ``n_val_normal`` and ``n_test_normal`` normal images go to val and test and the rest to training,
    ``n_val_anomalous`` anomalous images to val and the rest to test; with a ``root/test/`` folder (its own
    ``normal/`` and ``anomalous/``), that folder is the test split and the ``n_test_*`` counts are not used. Training
    crops are ``patch`` pixels."""

    source: Literal["synthetic", "folders"] = "synthetic"
    root: str | None = None
    photos: list[str] = field(default_factory=lambda: list(COLOUR_PHOTOS))
    tile: int = 64
    patch: int = 64
    n_train: int = 160
    n_val_normal: int = 40
    n_val_anomalous: int = 20
    n_test_normal: int = 60
    n_test_anomalous: int = 30
    spill_size: list[float] = field(default_factory=lambda: [0.03, 0.10])
    seed: int = 0

    def validate(self) -> None:
        check_range("data.tile", self.tile, gt=0)
        check_range("data.patch", self.patch, gt=0)
        if self.patch > self.tile:
            raise ConfigError(f"data.patch ({self.patch}) must not exceed data.tile ({self.tile})")
        counts = {k: getattr(self, k) for k in ("n_val_normal", "n_val_anomalous", "n_test_normal", "n_test_anomalous")}
        if self.n_train <= 0 or min(counts.values()) <= 0:
            raise ConfigError(f"data.n_train and the val/test counts must be > 0; got n_train={self.n_train}, {counts}")
        if len(self.spill_size) != 2 or not 0 < self.spill_size[0] <= self.spill_size[1] <= 1:
            raise ConfigError(
                f"data.spill_size must be [low, high] with 0 < low <= high <= 1 (fractions of the side); "
                f"got {self.spill_size}"
            )
        check_range("data.seed", self.seed, ge=0)
        check_data_root(self.source, self.root, "folders", "the folder that holds normal/ and anomalous/")
        if self.source == "synthetic":
            check_photos(self.photos)
