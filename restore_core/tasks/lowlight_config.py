"""The low-light task's config sections: ``task`` (:class:`LowLightOptions`) and ``data`` (:class:`LowLightData`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from restore_core.config import check_range
from restore_core.data.photos import COLOUR_PHOTOS, check_photos
from restore_core.errors import ConfigError
from restore_core.tasks.base import check_data_root

# What data.root holds for each source that reads files
LAYOUTS = {"sid": "the folder that holds Sony/ and the Sony_*_list.txt files",
           "pairs": "the folder that holds short/ and long/ (sRGB images paired by name)"}


@dataclass(frozen=True)
class LowLightOptions:
    """``input``: what the model sees. ``packed`` is SID's 4-channel half-resolution raw; ``bayer`` the full-
    resolution 1-channel plane of the real-time network. Both come from the same samples. ``metric_convention``: how
    ``val/psnr`` and ``val/ssim`` (and their references) are computed: ``float`` (images in [0, 1], data range 1,
    torchmetrics' 11×11 Gaussian SSIM) or ``skimage_uint8`` (Lamba & Mitra's ``run_test``: uint8 images, scikit-image's
    PSNR and 7×7 uniform-window SSIM), see ``restore_core.metrics.conventions``."""

    input: Literal["packed", "bayer"] = "packed"
    metric_convention: Literal["float", "skimage_uint8"] = "float"


@dataclass(frozen=True)
class LowLightData:
    """Where the images come from and how they are degraded and cropped.

    ``source: synthetic`` degrades tiles of the embedded photos (``photos``, ``tile`` pixels square) into short-
    exposure raw with a ratio drawn per tile from [``ratio_min``, ``ratio_max``], deterministically from ``seed``:
    ``n_train`` training, ``n_val`` validation and ``n_test`` held-out test tiles, no tile in two splits.
    ``source: sid`` reads the Sony set of Learning-to-See-in-the-Dark under ``root``: training pairs from
    ``Sony_train_list.txt``, validation pairs (evaluated while training, to choose the checkpoint) from
    ``Sony_val_list.txt`` and test pairs (evaluated once, on the chosen checkpoint: the numbers comparable with the
    published tables, which are test-set numbers) from ``Sony_test_list.txt``; the three lists must not share a scene.
    Only the selected pairs are loaded (``restore_core.data.sid_scenes``): the scenes ``scenes_train`` (of the
    training list) and ``scenes_test`` (of the test list; a list of ids or a text file of ids; null: every scene),
    the first ``n_train`` training, ``n_val`` validation and ``n_test`` test scenes (null: all), and at most
    ``max_pairs`` lines of the training and validation lists and ``max_test_pairs`` of the test list (the
    reproduction of Lamba & Mitra kept 557 training and 294 test files) after the scene selection. A Sony pair
    takes 48.5 MB and each scene's ground truth 145.5 MB in memory (float32, full frame; held once for the scene's
    exposures): the whole training list needs tens of GB.
    ``source: pairs`` reads the user's own sRGB pairs under ``root``: short exposures in ``short/`` and long exposures
    (the targets) in ``long/``, paired by file stem; the last ``n_test`` by name are the test split, the ``n_val``
    before them validate, the rest train. A short exposure is taken back to linear light and mosaicked to RGGB Bayer,
    as the synthetic degradation does, with its exposure ratio estimated from the pair (the long exposure's mean
    linear brightness over the short one's, capped at 300 as SID's); every model of the task then takes it as raw.
    ``patch`` is the side of the training crop in output (sRGB) pixels.
    """

    source: Literal["synthetic", "sid", "pairs"] = "synthetic"
    root: str | None = None
    photos: list[str] = field(default_factory=lambda: list(COLOUR_PHOTOS))
    tile: int = 128
    n_train: int | None = 10
    n_val: int | None = 10
    n_test: int | None = 10
    patch: int = 64
    ratio_min: float = 100.0
    ratio_max: float = 300.0
    gain: float = 1.0
    read_noise: float = 4.0
    seed: int = 0
    max_pairs: int | None = None
    max_test_pairs: int | None = None
    scenes_train: list[int | str] | str | None = None
    scenes_test: list[int | str] | str | None = None

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
        if self.source == "synthetic" and None in (self.n_train, self.n_val, self.n_test):
            raise ConfigError("data.n_train, data.n_val and data.n_test must be numbers with data.source=synthetic "
                              "(null, every scene, is for data.source=sid)")
        if self.source == "pairs" and None in (self.n_val, self.n_test):
            raise ConfigError("data.n_val and data.n_test must be numbers with data.source=pairs (the last pairs by "
                              "name held out)")
        if any(n is not None and n <= low for n, low in ((self.n_train, 0), (self.n_val, 1), (self.n_test, 0))):
            raise ConfigError(f"data.n_train and data.n_test must be > 0 and data.n_val > 1; got {self.n_train}, "
                              f"{self.n_test}, {self.n_val}")
        check_range("data.seed", self.seed, ge=0)
        check_data_root(self.source, self.root, self.source if self.source in LAYOUTS else "sid or pairs",
                        LAYOUTS.get(self.source, ""))
        for key in ("max_pairs", "max_test_pairs"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise ConfigError(f"data.{key} must be >= 1 or null (all pairs); got {getattr(self, key)}")
        if self.source != "sid" and (self.scenes_train is not None or self.scenes_test is not None):
            raise ConfigError("data.scenes_train and data.scenes_test choose SID scenes; they need data.source=sid")
        if self.source == "synthetic":
            check_photos(self.photos, COLOUR_PHOTOS, "colour")
