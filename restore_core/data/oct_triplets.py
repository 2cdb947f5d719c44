"""Unpaired OCT-denoising data for TCFL (seed 003): noisy scenes seen twice or more, clean images of other scenes.

TCFL (Geng et al., IEEE TMI 2022, gengmufeng/TCFL-OCT) trains on triplets: two noisy acquisitions N_A, N_B of the
same scene (repeated B-scans at one position) and a clean image of *another* scene. Nothing pairs a noisy image with
its own clean image during training; only the validation set is paired, for the metrics.

Two sources give the same :class:`TripletData`:

- :func:`synthetic_triplets`: tiles of the embedded grayscale photos (``retina`` among them). The tiles are dealt
  to four disjoint groups (noisy scenes, clean images, validation, test), so no clean training image is a tile that
  also appears noisy, and no evaluated tile was trained on. Each noisy scene gets ``repeats`` independent draws of
  OCT-like noise (:func:`restore_core.data.speckle.add_oct_noise`: multiplicative speckle plus Gaussian noise),
  deterministic from ``seed``.
- :func:`load_triplet_folders`: the user's images, laid out as::

      root/noisy/<scene>/*.png     two or more noisy acquisitions of one scene per sub-folder, all the same size
      root/clean/*.png             clean images (other scenes; not paired with anything)
      root/val/noisy/<name>.png    validation noisy images ...
      root/val/clean/<name>.png    ... and their clean references, paired by file name
      root/test/noisy/<name>.png   test pairs, the same way (optional: without test/, the last n_test
      root/test/clean/<name>.png   validation pairs by name are the test split)

  Any format OpenCV reads (8- or 16-bit); colour files are read as luminance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from restore_core.data.folders import (
    check_min_size,
    list_class_folders,
    list_paired_folders,
    load_class_folders,
    load_paired_folders,
)
from restore_core.data.paths import folder_problem
from restore_core.data.photos import deal_tiles
from restore_core.data.speckle import add_oct_noise
from restore_core.errors import DataError


@dataclass
class TripletData:
    """Everything a TCFL trial reads, as float32 numpy arrays in [0, 1] (shared through Ray's object store).

    Attributes:
        noisy: one array ``(repeats, H, W)`` per scene: the noisy acquisitions of that scene.
        clean: clean images ``(H, W)`` of other scenes.
        val_noisy: validation inputs ``(V, H, W)``, cropped to a common size.
        val_clean: their clean references ``(V, H, W)``.
        test_noisy: test inputs ``(T, H, W)``, cropped to a common size.
        test_clean: their clean references ``(T, H, W)``.
        names: where the items of each group come from (``noisy`` scenes, ``clean``, ``val``, ``test``).
    """

    noisy: list[np.ndarray]
    clean: list[np.ndarray]
    val_noisy: np.ndarray
    val_clean: np.ndarray
    test_noisy: np.ndarray
    test_clean: np.ndarray
    names: dict[str, list[str]] = field(default_factory=dict)

    def describe(self) -> str:
        repeats = sorted({len(scene) for scene in self.noisy})
        return (f"{len(self.noisy)} noisy scenes ({'/'.join(map(str, repeats))} acquisitions each), "
                f"{len(self.clean)} clean images, {len(self.val_noisy)} validation pairs of "
                f"{self.val_noisy.shape[1]}x{self.val_noisy.shape[2]}, {len(self.test_noisy)} test pairs of "
                f"{self.test_noisy.shape[1]}x{self.test_noisy.shape[2]}")


def synthetic_triplets(
    photos: list[str] | tuple[str, ...],
    tile: int,
    n_scenes: int,
    repeats: int,
    n_clean: int,
    n_val: int,
    speckle: float,
    gaussian: float,
    seed: int,
    n_test: int = 8,
) -> TripletData:
    """Noisy scenes, clean images, validation and test pairs from disjoint tiles of the embedded photos.

    Args:
        photos: grayscale photo names (``restore_core.data.photos.GRAY_PHOTOS``).
        tile: side of the square tiles.
        n_scenes: noisy training scenes; each is a tile never used elsewhere.
        repeats: noisy acquisitions per scene (at least 2: a triplet takes two of them).
        n_clean: clean training images, tiles disjoint from the scenes and the validation set.
        n_val: validation pairs (one noisy draw and the clean tile).
        speckle: standard deviation of the unit-mean multiplicative speckle.
        gaussian: standard deviation of the additive Gaussian noise.
        seed: the noise seed; the tiles themselves never depend on it.
        n_test: test pairs, as the validation pairs; dealt last, so that they change no other group's tiles.
    """
    named = deal_tiles(photos, tile, {"val": n_val, "noisy": n_scenes, "clean": n_clean, "test": n_test})
    tiles = {group: [t.image for t in items] for group, items in named.items()}
    noisy = [
        np.stack([add_oct_noise(scene, np.random.default_rng([seed, 0, i, r]), speckle, gaussian)
                  for r in range(repeats)])
        for i, scene in enumerate(tiles["noisy"])
    ]
    evaluated = {}
    for group, stream in (("val", 1), ("test", 2)):
        noisy_images = [add_oct_noise(img, np.random.default_rng([seed, stream, i]), speckle, gaussian)
                        for i, img in enumerate(tiles[group])]
        evaluated[group] = (np.stack(noisy_images).astype(np.float32), np.stack(tiles[group]).astype(np.float32))
    return TripletData(
        noisy=noisy,
        clean=[t.astype(np.float32) for t in tiles["clean"]],
        val_noisy=evaluated["val"][0],
        val_clean=evaluated["val"][1],
        test_noisy=evaluated["test"][0],
        test_clean=evaluated["test"][1],
        names={group: [t.name for t in items] for group, items in named.items()},
    )


def list_triplet_folders(root: str | Path) -> list[str]:
    """Check the folder layout of the module docstring without reading an image; returns the scene names.

    Raises:
        DataError: missing ``noisy/``, ``clean/`` or ``val/`` folders, no scenes, a folder without images, or
            unpaired validation or test names.
    """
    root = Path(root)
    noisy_root = root / "noisy"
    for folder in (root, noisy_root):
        problem = folder_problem(folder)
        if problem:
            raise DataError(f"data folder '{folder}' {problem}; expected noisy/<scene>/, clean/ and val/ in '{root}'")
    scenes = sorted(p.name for p in noisy_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not scenes:
        raise DataError(f"'{noisy_root}' has no scene sub-folders; put the repeated noisy images of each scene "
                        "in noisy/<scene>/")
    list_class_folders(noisy_root, scenes)
    list_class_folders(root, ("clean",))
    list_paired_folders(root / "val", "noisy", "clean")
    if _has_test_folder(root):
        list_paired_folders(root / "test", "noisy", "clean")
    return scenes


def _has_test_folder(root: Path) -> bool:
    return folder_problem(root / "test") != "does not exist"


def load_triplet_folders(root: str | Path, patch: int, n_test: int = 8) -> TripletData:
    """Read the folder layout of the module docstring. Without a ``test/`` folder, the last ``n_test`` validation
    pairs by name are the test split.

    Raises:
        DataError: missing ``noisy/``, ``clean/`` or ``val/`` folders, a scene with fewer than two images or with
            images of different sizes, an image smaller than ``patch``, unpaired validation or test names, too few
            validation pairs, unreadable files.
    """
    root = Path(root)
    noisy_root, scenes = root / "noisy", list_triplet_folders(root)
    noisy = []
    for scene, images in load_class_folders(noisy_root, scenes, gray=True).items():
        if len(images) < 2:
            raise DataError(f"scene folder '{noisy_root / scene}' has {len(images)} image; TCFL needs at least 2 "
                            "noisy acquisitions of each scene")
        shapes = {img.shape for _, img in images}
        if len(shapes) > 1:
            raise DataError(f"images in scene folder '{noisy_root / scene}' differ in size: "
                            f"{', '.join(f'{h}x{w}' for h, w in sorted(shapes))}")
        check_min_size(images, patch, f"'{noisy_root / scene}'")
        noisy.append(np.stack([img for _, img in images]).astype(np.float32))
    clean = load_class_folders(root, ("clean",), gray=True)["clean"]
    check_min_size(clean, patch, f"'{root / 'clean'}'")
    pairs = load_paired_folders(root / "val", "noisy", "clean", gray=True)
    if _has_test_folder(root):
        test = load_paired_folders(root / "test", "noisy", "clean", gray=True)
    else:
        if len(pairs) < n_test + 2:
            raise DataError(f"'{root / 'val'}' has {len(pairs)} validation pairs; without a test/ folder the last "
                            f"data.n_test={n_test} are the test split, and at least 2 must be left to validate")
        pairs, test = pairs[: len(pairs) - n_test], pairs[len(pairs) - n_test:]
    if len(pairs) < 2:
        raise DataError(f"'{root / 'val'}' has {len(pairs)} validation pair; at least 2 are needed")
    val_noisy, val_clean = _stack_pairs(pairs)
    test_noisy, test_clean = _stack_pairs(test)
    return TripletData(
        noisy=noisy,
        clean=[img.astype(np.float32) for _, img in clean],
        val_noisy=val_noisy,
        val_clean=val_clean,
        test_noisy=test_noisy,
        test_clean=test_clean,
        names={"noisy": [f"noisy/{scene}" for scene in scenes], "clean": [f"clean/{name}" for name, _ in clean],
               "val": [f"val/{p.name}" for p in pairs],
               "test": [f"{'test' if _has_test_folder(root) else 'val'}/{p.name}" for p in test]},
    )


def _stack_pairs(pairs) -> tuple[np.ndarray, np.ndarray]:
    """Noisy and clean images of the pairs, cropped to the smallest pair's size, as ``(N, H, W)`` float32."""
    h = min(p.input.shape[0] for p in pairs)
    w = min(p.input.shape[1] for p in pairs)
    return (np.stack([p.input[:h, :w] for p in pairs]).astype(np.float32),
            np.stack([p.target[:h, :w] for p in pairs]).astype(np.float32))
