"""The low-light task's config sections: ``task`` (:class:`LowLightOptions`) and ``data`` (:class:`LowLightData`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from restore_core.config import check_range
from restore_core.data.photos import COLOUR_PHOTOS, check_photos
from restore_core.errors import ConfigError
from restore_core.tasks.base import check_data_root


@dataclass(frozen=True)
class LowLightOptions:
    """``input``: what the model sees. ``packed`` is SID's 4-channel half-resolution raw; ``bayer`` the full-
    resolution 1-channel plane of the real-time network. Both come from the same samples."""

    input: Literal["packed", "bayer"] = "packed"


@dataclass(frozen=True)
class LowLightData:
    """Where the images come from and how they are degraded and cropped.

    ``source: synthetic`` degrades tiles of the embedded photos (``photos``, ``tile`` pixels square) into short-
    exposure raw with a ratio drawn per tile from [``ratio_min``, ``ratio_max``], deterministically from ``seed``.
    ``source: sid`` reads the Sony set of Learning-to-See-in-the-Dark under ``root``: training pairs from
    ``Sony_train_list.txt``, the evaluated pairs from ``Sony_<sid_eval_split>_list.txt`` (``val`` by default, for
    choosing settings; ``test`` for numbers comparable with the published tables, which are test-set numbers), at
    most ``max_pairs`` lines of each list (the whole Sony set needs far more memory than most machines have).
    ``patch`` is the side of the training crop in output (sRGB) pixels.
    """

    source: Literal["synthetic", "sid"] = "synthetic"
    root: str | None = None
    photos: list[str] = field(default_factory=lambda: list(COLOUR_PHOTOS))
    tile: int = 128
    n_train: int = 10
    n_val: int = 10
    patch: int = 64
    ratio_min: float = 100.0
    ratio_max: float = 300.0
    gain: float = 1.0
    read_noise: float = 4.0
    seed: int = 0
    sid_eval_split: Literal["val", "test"] = "val"
    max_pairs: int | None = None

    def validate(self) -> None:
        check_range("data.tile", self.tile, gt=0)
        check_range("data.patch", self.patch, gt=0)
        if self.patch % 2 or self.tile % 2:
            raise ConfigError(f"data.patch and data.tile must be even (Bayer pairs); got {self.patch}, {self.tile}")
        if self.patch > self.tile:
            raise ConfigError(f"data.patch ({self.patch}) must not exceed data.tile ({self.tile})")
        check_range("data.ratio_min", self.ratio_min, ge=1, note="(the exposure ratio)")
        check_range("data.ratio_max", self.ratio_max, ge=self.ratio_min, note="(data.ratio_min)")
        check_range("data.gain", self.gain, gt=0, note="(sensor counts per photo-electron)")
        check_range("data.read_noise", self.read_noise, ge=0, note="(counts)")
        if self.n_train <= 0 or self.n_val <= 1:
            raise ConfigError(f"data.n_train must be > 0 and data.n_val > 1; got {self.n_train}, {self.n_val}")
        check_range("data.seed", self.seed, ge=0)
        check_data_root(self.source, self.root, "sid", "the folder that holds Sony/ and the Sony_*_list.txt files")
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ConfigError(f"data.max_pairs must be >= 1 or null (all pairs); got {self.max_pairs}")
        if self.source == "synthetic":
            check_photos(self.photos, COLOUR_PHOTOS, "colour")
