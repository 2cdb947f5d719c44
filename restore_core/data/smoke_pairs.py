"""Smoky/clean image pairs for the desmoking task (seed 000): synthetic smoke over the embedded photos, or users'
paired folders.

The study resizes every frame to 256×256 (``--loadSize 256 --fineSize 256``, so no random crop); here both sources
give square ``tile``×``tile`` images, stored channel-first in [0, 1] as numpy so that Ray's object store shares them
with every trial.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from restore_core.data.folders import load_paired_folders
from restore_core.data.paths import folder_problem
from restore_core.data.photos import deal_tiles
from restore_core.data.smoke import add_smoke
from restore_core.errors import DataError


@dataclass
class SmokePairs:
    """``smoky`` and ``clean`` ``(N, 3, H, W)`` float32 in [0, 1]; ``alpha`` ``(N, H, W)``, the smoke opacity that
    was composited (the "smoke mask" the study logs), or None for real data, whose smoke is unknown; ``names``, where
    each pair comes from (a photo tile, or a file name)."""

    smoky: np.ndarray
    clean: np.ndarray
    alpha: np.ndarray | None = None
    names: list[str] = field(default_factory=list)

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
        counts: tiles per split in order, e.g. ``{"train": 9, "val": 3, "test": 3}``.
        smoke_per_tile: smokes per training tile.
        seed: the data seed (``data.seed``), never the training seed.
    """
    tiles = deal_tiles(photos, tile, counts)
    out = {}
    for split_index, (split, named) in enumerate(tiles.items()):
        repeats = smoke_per_tile if split == "train" else 1
        smoky, clean, alpha, names = [], [], [], []
        for i, (name, image) in enumerate(named):
            if image.ndim != 3:
                raise DataError(f"photo tile {i} of the {split} split is grayscale; the desmoking task needs colour")
            for k in range(repeats):
                hazy, opacity = add_smoke(image, np.random.default_rng([seed, split_index, i, k]))
                smoky.append(hazy.transpose(2, 0, 1))
                clean.append(image.transpose(2, 0, 1))
                alpha.append(opacity)
                names.append(name)
        out[split] = SmokePairs(np.stack(smoky), np.stack(clean).astype(np.float32), np.stack(alpha), names)
    return out


def folder_smoke_pairs(root: str | Path, tile: int, n_val: int, n_test: int) -> dict[str, SmokePairs]:
    """Real pairs from ``root/input/`` (smoky) and ``root/target/`` (clean), resized to ``tile``×``tile``.

    Pairs are sorted by file name. The test split is ``root/test/input/`` with ``root/test/target/`` when the folder
    has a ``test/`` (e.g. the study's test videos); otherwise the last ``n_test`` pairs by name. Of the pairs left,
    the last ``n_val`` go to validation, so that frames named by video and frame number keep whole later videos out
    of training (neighbouring frames would leak otherwise).

    Raises:
        DataError: the folder errors of :func:`load_paired_folders` (also for ``test/``), or too few pairs for
            ``n_val`` and ``n_test``.
    """
    pairs = load_paired_folders(root)
    test_root = Path(root) / "test"
    if folder_problem(test_root) != "does not exist":
        test, held_out = load_paired_folders(test_root), 0
    else:
        test, held_out = pairs[len(pairs) - n_test:], n_test
    if len(pairs) <= n_val + held_out:
        split = f"data.n_val={n_val}" + (f" and data.n_test={n_test} (no test/ folder)" if held_out else "")
        raise DataError(f"data folder '{root}' has {len(pairs)} image pairs; {split} leave none for training")
    rest = pairs[: len(pairs) - held_out]

    def stack(subset) -> SmokePairs:
        smoky = np.stack([_resize(p.input, tile).transpose(2, 0, 1) for p in subset])
        clean = np.stack([_resize(p.target, tile).transpose(2, 0, 1) for p in subset])
        return SmokePairs(smoky, clean, names=[p.name for p in subset])

    return {"train": stack(rest[:-n_val]), "val": stack(rest[-n_val:]), "test": stack(test)}


def _resize(image: np.ndarray, side: int) -> np.ndarray:
    """Resize to ``side``×``side`` (area averaging when shrinking, as anti-aliasing; bilinear when enlarging)."""
    if image.shape[:2] == (side, side):
        return np.ascontiguousarray(image, dtype=np.float32)
    shrinking = min(image.shape[:2]) > side
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return np.clip(cv2.resize(image, (side, side), interpolation=interpolation), 0, 1).astype(np.float32)
