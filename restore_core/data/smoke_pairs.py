"""Smoky/clean image pairs for the desmoking task (seed 000): synthetic smoke over the embedded photos, or users'
paired folders.

The study resizes every frame to 256×256 (``--loadSize 256 --fineSize 256``, so no random crop); here both sources
give square ``tile``×``tile`` images, stored channel-first in [0, 1] as numpy so that Ray's object store shares them
with every trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from restore_core.data.folders import load_paired_folders
from restore_core.data.photos import split_tiles
from restore_core.data.smoke import add_smoke
from restore_core.errors import DataError


@dataclass
class SmokePairs:
    """``smoky`` and ``clean`` ``(N, 3, H, W)`` float32 in [0, 1]; ``alpha`` ``(N, H, W)``, the smoke opacity that
    was composited (the "smoke mask" the study logs), or None for real data, whose smoke is unknown."""

    smoky: np.ndarray
    clean: np.ndarray
    alpha: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.smoky)


def synthetic_smoke_pairs(
    photos: list[str] | tuple[str, ...], tile: int, counts: dict[str, int], smoke_per_tile: int, seed: int
) -> dict[str, SmokePairs]:
    """Synthetic smoke over tiles of the embedded photos.

    Every training tile gets ``smoke_per_tile`` different smokes (more pairs from few photos); the other splits get
    one each. The smoke of sample ``k`` of tile ``i`` in split number ``s`` is drawn from ``[seed, s, i, k]``, so it
    does not change when the split sizes do.

    Args:
        photos: names of embedded colour photos (``restore_core.data.photos.COLOUR_PHOTOS``).
        tile: side of the square tiles.
        counts: tiles per split in order, e.g. ``{"train": 10, "val": 5}``.
        smoke_per_tile: smokes per training tile.
        seed: the data seed (``data.seed``), never the training seed.
    """
    tiles = split_tiles(photos, tile, counts)
    out = {}
    for split_index, (split, images) in enumerate(tiles.items()):
        repeats = smoke_per_tile if split == "train" else 1
        smoky, clean, alpha = [], [], []
        for i, image in enumerate(images):
            if image.ndim != 3:
                raise DataError(f"photo tile {i} of the {split} split is grayscale; the desmoking task needs colour")
            for k in range(repeats):
                hazy, opacity = add_smoke(image, np.random.default_rng([seed, split_index, i, k]))
                smoky.append(hazy.transpose(2, 0, 1))
                clean.append(image.transpose(2, 0, 1))
                alpha.append(opacity)
        out[split] = SmokePairs(np.stack(smoky), np.stack(clean).astype(np.float32), np.stack(alpha))
    return out


def folder_smoke_pairs(root: str | Path, tile: int, n_val: int) -> dict[str, SmokePairs]:
    """Real pairs from ``root/input/`` (smoky) and ``root/target/`` (clean), resized to ``tile``×``tile``.

    Pairs are sorted by file name and the last ``n_val`` go to validation, so that frames named by video and frame
    number keep whole later videos out of training (neighbouring frames would leak otherwise).

    Raises:
        DataError: the folder errors of :func:`load_paired_folders`, or too few pairs for ``n_val``.
    """
    pairs = load_paired_folders(root)
    if len(pairs) <= n_val:
        raise DataError(
            f"data folder '{root}' has {len(pairs)} image pairs; data.n_val={n_val} leaves none for training"
        )

    def stack(subset) -> SmokePairs:
        smoky = np.stack([_resize(p.input, tile).transpose(2, 0, 1) for p in subset])
        clean = np.stack([_resize(p.target, tile).transpose(2, 0, 1) for p in subset])
        return SmokePairs(smoky, clean)

    return {"train": stack(pairs[:-n_val]), "val": stack(pairs[-n_val:])}


def _resize(image: np.ndarray, side: int) -> np.ndarray:
    """Resize to ``side``×``side`` (area averaging when shrinking, as anti-aliasing; bilinear when enlarging)."""
    if image.shape[:2] == (side, side):
        return np.ascontiguousarray(image, dtype=np.float32)
    shrinking = min(image.shape[:2]) > side
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return np.clip(cv2.resize(image, (side, side), interpolation=interpolation), 0, 1).astype(np.float32)
