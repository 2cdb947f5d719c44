"""The embedded default data: real photographs that scikit-image ships inside its wheel, cut into disjoint tiles.

Tiles are assigned to train/val/test by a fixed permutation that never depends on any seed, so every trial of
every sweep sees the same images; only the synthetic degradation of each tile depends on ``data.seed``.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import skimage.data

from restore_core.errors import ConfigError, unknown_name

# Colour photographs in the scikit-image wheel (no download needed). Natural scenes first.
COLOUR_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "motorcycle", "immunohistochemistry")
GRAY_PHOTOS = ("camera", "retina", "moon", "coins", "brick", "grass")
SPLIT_ORDER_SEED = 20180507  # fixed forever: changing it changes every split


def check_photos(photos: Sequence[str], accepted: Sequence[str] = COLOUR_PHOTOS + GRAY_PHOTOS, kind: str = "") -> None:
    """Refuse a ``data.photos`` list that tiles cannot be cut from, naming the photos accepted; nothing is loaded.

    Args:
        photos: ``data.photos``.
        accepted: the photos the task can use.
        kind: what ``accepted`` holds (``colour``, ``grayscale``), for the message; empty when it is every photo.

    Raises:
        ConfigError: an empty list, a photo named twice (its tiles would be dealt twice, into two splits), or a photo
            of the other kind.
        UnknownNameError: a name that is no photo.
    """
    known = f"known{f' {kind}' if kind else ''} photos: {', '.join(accepted)}"
    if not photos:
        raise ConfigError(f"data.photos is empty; {known}")
    for index, name in enumerate(photos):
        if name in photos[:index]:
            raise ConfigError(
                f"data.photos names '{name}' twice; name each photo once (twice would put its tiles in two splits)"
            )
        if name in COLOUR_PHOTOS + GRAY_PHOTOS and name not in accepted:
            other = "grayscale" if name in GRAY_PHOTOS else "colour"
            raise ConfigError(f"data.photos: '{name}' is a {other} photo and this task needs {kind} ones; {known}")
        if name not in accepted:
            raise unknown_name(f"{kind} photo" if kind else "photo", name, accepted, where="in data.photos")


@functools.lru_cache(maxsize=32)
def load_photo(name: str) -> np.ndarray:
    """A photo as float32 in [0, 1], ``(H, W, 3)`` (colour photos) or ``(H, W)`` (grayscale ones, and ``retina``
    as its green channel, which is where its vessel contrast is)."""
    if name == "motorcycle":
        image = skimage.data.stereo_motorcycle()[0]
    elif name in COLOUR_PHOTOS:
        image = getattr(skimage.data, name)()
    elif name == "retina":
        image = skimage.data.retina()[..., 1]
    elif name in GRAY_PHOTOS:
        image = getattr(skimage.data, name)()
    else:
        known = ", ".join(COLOUR_PHOTOS + GRAY_PHOTOS)
        raise ConfigError(f"unknown photo '{name}' in data.photos; known: {known}")
    out = np.asarray(image, dtype=np.float32) / 255.0
    out.setflags(write=False)
    return out


class Tile(NamedTuple):
    """A tile and where it comes from: ``astronaut@256,128`` is the tile of ``astronaut`` whose top-left pixel is at
    row 256, column 128 (tiles of one photo and size never overlap, so two tiles of different names share no pixel)."""

    name: str
    image: np.ndarray


def cut_tiles(image: np.ndarray, tile: int) -> list[np.ndarray]:
    """Non-overlapping ``tile``×``tile`` tiles, row by row; the ragged border is dropped."""
    return [t.image for t in _named_tiles("", image, tile)]


def _named_tiles(photo: str, image: np.ndarray, tile: int) -> list[Tile]:
    rows, cols = image.shape[0] // tile, image.shape[1] // tile
    return [Tile(f"{photo}@{r * tile},{c * tile}", image[r * tile : (r + 1) * tile, c * tile : (c + 1) * tile])
            for r in range(rows) for c in range(cols)]


def split_tiles(photos: list[str] | tuple[str, ...], tile: int, counts: dict[str, int]) -> dict[str, list[np.ndarray]]:
    """The images of :func:`deal_tiles`."""
    return {split: [t.image for t in tiles] for split, tiles in deal_tiles(photos, tile, counts).items()}


def deal_tiles(photos: list[str] | tuple[str, ...], tile: int, counts: dict[str, int]) -> dict[str, list[Tile]]:
    """Pool the tiles of ``photos`` and deal them to the splits in ``counts`` (``{"train": 10, "val": 10, "test":
    10}``), in that order.

    The tiles are dealt round-robin over the photos (in a fixed shuffled order within each photo), so every split
    gets a mix of photos and no tile is in two splits. A split named last takes the tiles after the others': adding
    the test split after train and val leaves their tiles as they were.
    """
    order = np.random.default_rng(SPLIT_ORDER_SEED)
    per_photo = []
    for name in photos:
        tiles = _named_tiles(name, load_photo(name), tile)
        per_photo.append([tiles[i] for i in order.permutation(len(tiles))])
    pooled = [t for group in _round_robin(per_photo) for t in group]
    needed = sum(counts.values())
    if needed > len(pooled):
        raise ConfigError(
            f"data asks for {needed} tiles of {tile}×{tile} but the photos {', '.join(photos)} give only "
            f"{len(pooled)}; lower the split sizes or data.tile, or add photos"
        )
    out, start = {}, 0
    for split, n in counts.items():
        out[split] = [Tile(t.name, np.ascontiguousarray(t.image)) for t in pooled[start : start + n]]
        start += n
    return out


def _round_robin(groups: list[list[Tile]]):
    for i in range(max(map(len, groups), default=0)):
        yield [g[i] for g in groups if i < len(g)]
