"""A data source of your own for an existing task: desmoking pairs stored in one NumPy ``.npz`` file, fed to the
desmoking task's own training (its pix2pix generator, discriminator, losses and metrics) by a subclass that only
changes where the data comes from.

    smoke.npz:  smoky  (N, H, W, 3) and clean (N, H, W, 3), float in [0, 1] or uint8, H = W = data.tile

    python sweeps/run.py --import examples/plugins/npz_smoke.py --space desmoke_dark_channel \
        --set task.name=desmoke_npz --set 'data={}' --set data.path=/data/smoke.npz --set data.tile=256

``data={}`` empties the space's data section (its synthetic-smoke options) before ``data.path`` names the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from restore_core import ConfigError, DataError, register_task
from restore_core.data.smoke_pairs import SmokePairs
from restore_core.tasks.desmoke import DesmokeTask

KEYS = ("smoky", "clean")


@dataclass(frozen=True)
class NpzSmoke:
    """The ``data`` section: the ``.npz`` file, the images' side (``tile``; the task checks its networks fit it),
    how many pairs are held out (the last ``n_test`` for the test split, the ``n_val`` before them for validation),
    and what the desmoking task reads besides: the side it trains on (``patch``; null: ``tile``)."""

    path: str | None = None
    tile: int = 256
    n_val: int = 2
    n_test: int = 1
    patch: int | None = None

    def validate(self) -> None:
        if not self.path:
            raise ConfigError("data.path is required: the .npz file with the arrays smoky and clean")
        if self.n_val < 2:
            raise ConfigError(f"data.n_val must be >= 2 (collapse detection compares outputs); got {self.n_val}")
        if self.n_test < 1:
            raise ConfigError(f"data.n_test must be >= 1; got {self.n_test}")


@register_task("desmoke_npz")
class DesmokeNpz(DesmokeTask):
    """The desmoking task on pairs from a ``.npz`` file."""

    DataOptions = NpzSmoke

    @classmethod
    def check_data(cls, config) -> None:
        """The file and its two arrays' names and shapes (np.load reads an .npz's index, not its arrays)."""
        if not os.path.isfile(config.data.path):
            raise DataError(f"data.path {config.data.path}: no such file; expected an .npz with smoky and clean")
        with np.load(config.data.path) as arrays:
            missing = [key for key in KEYS if key not in arrays.files]
            if missing:
                raise DataError(f"{config.data.path} has no array '{missing[0]}'; it holds {', '.join(arrays.files)}")

    @classmethod
    def prepare_data(cls, config) -> dict[str, SmokePairs]:
        cls.check_data(config)
        with np.load(config.data.path) as arrays:
            smoky, clean = (_images(arrays[key], config.data.path, key) for key in KEYS)
        tile, test = config.data.tile, config.data.n_test
        held_out = config.data.n_val + test
        if smoky.shape != clean.shape or smoky.shape[2:] != (tile, tile) or len(smoky) <= held_out:
            raise DataError(f"{config.data.path}: smoky {smoky.shape} and clean {clean.shape} must both be "
                            f"(N, 3, {tile}, {tile}) (data.tile) with N > data.n_val + data.n_test = {held_out}")
        return {"train": SmokePairs(smoky[:-held_out], clean[:-held_out]),
                "val": SmokePairs(smoky[-held_out:-test], clean[-held_out:-test]),
                "test": SmokePairs(smoky[-test:], clean[-test:])}


def _images(array: np.ndarray, path: str, key: str) -> np.ndarray:
    """(N, H, W, 3) images as the task's (N, 3, H, W) float32 in [0, 1]."""
    if array.ndim != 4 or array.shape[-1] != 3:
        raise DataError(f"{path}: {key} has shape {array.shape}; expected (N, H, W, 3)")
    scale = 255.0 if array.dtype == np.uint8 else 1.0
    return np.ascontiguousarray(array.transpose(0, 3, 1, 2), dtype=np.float32) / scale
