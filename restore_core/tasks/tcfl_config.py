"""The TCFL task's config sections: ``task`` (:class:`TCFLOptions`) and ``data`` (:class:`TCFLData`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from restore_core.config import check_range
from restore_core.data.photos import GRAY_PHOTOS, check_photos
from restore_core.errors import ConfigError
from restore_core.tasks.base import check_data_root


@dataclass(frozen=True)
class TCFLOptions:
    """The ``task`` section.

    ``gan_mode``: ``lsgan`` (the official MSE criterion), ``wgan`` (critic scores, D's weights clipped to ±``clip``
    after every D step, as in the reproduction) or ``none`` (no discriminator is built or trained: the reproduction's
    generator-only runs of its separation study). ``identity_weight``: λ of the identity (cross-fusion L1) loss, 6
    officially, 25 in the reproduction. ``fake_weight``: weight of each of the six fakes in the LSGAN discriminator
    loss (0.1 officially). ``separation_in_identity``: whether the ``loss.separation`` term sits inside the identity
    loss, scaled by λ like the TV term (the reproduction's trainers.py line 56, where it was added, is the identity
    loss's sum; the default), or is added to the generator loss on its own. ``freeze_bn``: keep the generator's
    BatchNorm in eval mode while training (running statistics used, never updated). ``discriminator``: the
    discriminator's model config (name and options), TCFL's PatchGAN by default; not built with ``gan_mode: none``.
    """

    gan_mode: Literal["lsgan", "wgan", "none"] = "lsgan"
    identity_weight: float = 6.0
    fake_weight: float = 0.1
    separation_in_identity: bool = True
    freeze_bn: bool = False
    clip: float = 1e-3
    discriminator: dict[str, Any] = field(default_factory=lambda: {"name": "patchgan_in"})

    def validate(self) -> None:
        for name in ("identity_weight", "fake_weight"):
            check_range(f"task.{name}", getattr(self, name), ge=0)
        check_range("task.clip", self.clip, gt=0, note="(the WGAN weight clip)")
        if "name" not in self.discriminator:
            raise ConfigError("task.discriminator needs a 'name', e.g. {name: patchgan_in, ndf: 64}")


@dataclass(frozen=True)
class TCFLData:
    """``source: synthetic``: tiles of the grayscale ``photos`` degraded with OCT-like speckle (``speckle``) and
    Gaussian noise (``gaussian``), deterministically from ``seed``: ``n_scenes`` noisy scenes with ``repeats``
    acquisitions each, ``n_clean`` clean tiles, ``n_val`` validation and ``n_test`` test pairs, all from disjoint
    tiles. ``source: folders``: the user's ``root`` with ``noisy/<scene>/``, ``clean/``, ``val/{noisy,clean}/`` and,
    optionally, ``test/{noisy,clean}/`` (without it the last ``n_test`` validation pairs by name are the test split;
    see ``restore_core.data.oct_triplets``). ``patch``: side of the training crops."""

    source: Literal["synthetic", "folders"] = "synthetic"
    root: str | None = None
    photos: list[str] = field(default_factory=lambda: list(GRAY_PHOTOS))
    tile: int = 128
    n_scenes: int = 24
    repeats: int = 2
    n_clean: int = 24
    n_val: int = 8
    n_test: int = 8
    patch: int = 64
    speckle: float = 0.25
    gaussian: float = 0.05
    seed: int = 0

    def validate(self) -> None:
        check_data_root(self.source, self.root, "folders", "the folder with noisy/<scene>/, clean/ and val/")
        check_range("data.tile", self.tile, gt=0)
        check_range("data.patch", self.patch, gt=0)
        if self.source == "synthetic" and self.patch > self.tile:
            raise ConfigError(f"data.patch ({self.patch}) must not exceed data.tile ({self.tile})")
        if self.repeats < 2:
            raise ConfigError(f"data.repeats must be >= 2 (a triplet takes two noisy acquisitions); got {self.repeats}")
        if self.n_scenes < 1 or self.n_clean < 1 or self.n_test < 1 or self.n_val < 2:
            raise ConfigError(f"data.n_scenes, data.n_clean and data.n_test must be >= 1 and data.n_val >= 2; "
                              f"got {self.n_scenes}, {self.n_clean}, {self.n_test}, {self.n_val}")
        check_range("data.speckle", self.speckle, ge=0)
        check_range("data.gaussian", self.gaussian, ge=0)
        check_range("data.seed", self.seed, ge=0)
        if self.source == "synthetic":
            check_photos(self.photos, GRAY_PHOTOS, "grayscale")
