"""The desmoking task's config sections: ``task`` (:class:`DesmokeOptions`) and ``data`` (:class:`DesmokeData`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from restore_core.config import check_range
from restore_core.data.photos import COLOUR_PHOTOS, check_photos
from restore_core.errors import ConfigError
from restore_core.tasks.base import check_data_root


@dataclass(frozen=True)
class DesmokeOptions:
    """``dark_channel``: the generator's 4th input channel, ``min`` (per-pixel RGB minimum, what the official code
    feeds), ``patch15`` (He et al.'s 15×15 min-filter, as the paper's figure shows) or ``none`` (RGB only).
    ``gan_loss``: ``vanilla`` (BCE on logits; the study), ``lsgan`` (MSE to 1/0) or ``l1`` (L1 of the raw scores to
    1/0, the DL4H reproduction's ``training_criterion``). ``lambda_l1``: weight of the L1 term in the generator loss
    (100 in pix2pix and the study). ``ndf``/``d_layers``: the PatchGAN's width and strided layers (64 and 3: the 70×70
    PatchGAN). ``conditional_d``: the discriminator judges the condition and the image together (pix2pix, the study)
    or the RGB image alone (the reproduction's 3-channel discriminator). ``swap_d_labels``: train D to call fakes 1
    and real images 0, while G still aims D(G(x)) at 1, as the reproduction's ``gan.py`` does. ``augment``: ``flip``
    (horizontal flips with p = 0.5, pix2pix's aligned loader; ``flip: false`` turns it off) or ``dl4h`` (the
    reproduction's: rotation by up to ±5°, a random resized crop to ``data.patch``, horizontal and vertical flips).
    ``dark_channel_before_transforms``: compute the dark channel on the whole frame and transform it with the image
    (the reproduction's ``dcp_alternative``) rather than on the crop the generator sees; it matters only with
    ``augment: dl4h``. ``uqi``: which UQI ``val/uqi`` is, ``box8`` (Wang's 8×8 window with his special cases) or
    ``gaussian11`` (torchmetrics' window as the reproduction patched it, for its 0.6844)."""

    dark_channel: Literal["none", "min", "patch15"] = "min"
    gan_loss: Literal["vanilla", "lsgan", "l1"] = "vanilla"
    lambda_l1: float = 100.0
    ndf: int = 64
    d_layers: int = 3
    conditional_d: bool = True
    swap_d_labels: bool = False
    flip: bool = True
    augment: Literal["flip", "dl4h"] = "flip"
    dark_channel_before_transforms: bool = False
    uqi: Literal["box8", "gaussian11"] = "box8"

    def validate(self) -> None:
        check_range("task.lambda_l1", self.lambda_l1, ge=0, note="(the weight of the L1 term)")
        if self.ndf < 1 or self.d_layers < 1:
            raise ConfigError(f"task.ndf and task.d_layers must be >= 1; got {self.ndf}, {self.d_layers}")


@dataclass(frozen=True)
class DesmokeData:
    """``source: synthetic`` composites fractal smoke (``restore_core.data.smoke``) over ``tile``×``tile`` tiles of
    the embedded ``photos``, ``smoke_per_tile`` smokes per training tile, deterministically from ``seed``: ``n_train``
    training, ``n_val`` validation and ``n_test`` held-out test tiles (the 256-pixel tiles of the six photos are 15).
    ``source: folders`` reads smoky ``root/input/`` and clean ``root/target/`` images paired by name and resizes them
    to ``tile``×``tile`` (the study resizes to 256); the test split is ``root/test/input/`` and ``root/test/target/``
    when given (the study's test videos), else the last ``n_test`` pairs by name; of the rest, the last ``n_val`` by
    name validate (see :func:`~restore_core.data.smoke_pairs.folder_smoke_pairs`). ``patch``: the
    side of the images the networks train on, ``tile`` by default; smaller only with ``task.augment: dl4h``, whose
    random resized crop makes it (the reproduction resized its frames to 512 and cropped 256)."""

    source: Literal["synthetic", "folders"] = "synthetic"
    root: str | None = None
    photos: list[str] = field(default_factory=lambda: list(COLOUR_PHOTOS))
    tile: int = 256
    patch: int | None = None
    n_train: int = 9
    n_val: int = 3
    n_test: int = 3
    smoke_per_tile: int = 4
    seed: int = 0

    def validate(self) -> None:
        if self.tile < 32:
            raise ConfigError(f"data.tile must be >= 32 (the PatchGAN and SSIM need room); got {self.tile}")
        if self.patch is not None and not 32 <= self.patch <= self.tile:
            raise ConfigError(f"data.patch must be between 32 and data.tile ({self.tile}), or null; got {self.patch}")
        if self.n_train < 1 or self.n_val < 2 or self.n_test < 1:
            raise ConfigError(f"data.n_train and data.n_test must be >= 1 and data.n_val >= 2; got {self.n_train}, "
                              f"{self.n_test}, {self.n_val}")
        if self.smoke_per_tile < 1:
            raise ConfigError(f"data.smoke_per_tile must be >= 1; got {self.smoke_per_tile}")
        check_range("data.seed", self.seed, ge=0)
        check_data_root(self.source, self.root, "folders", "the folder that holds input/ and target/")
        if self.source == "synthetic":
            check_photos(self.photos, COLOUR_PHOTOS, "colour")
