"""The low-light task's data: short-exposure raw samples with their sRGB targets (synthetic degradations of photo
tiles, SID's Sony pairs, or the user's own sRGB pairs), prepared once per data config, and the flips of a training
crop."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from restore_core.data.folders import load_paired_folders
from restore_core.data.lowlight import (
    mosaic_rggb,
    normalise_raw,
    pack_bayer,
    simulate_short_exposure,
    srgb_to_linear,
    unpack_bayer,
)
from restore_core.data.photos import deal_tiles
from restore_core.data.sid_raw import MAX_RATIO, check_disjoint_lists, load_sid_pairs, read_sid_list
from restore_core.data.sid_scenes import scene_ids, select_entries
from restore_core.errors import DataError
from restore_core.tasks.lowlight_config import LowLightData


@dataclass
class RawSamples:
    """Degraded samples, computed once: normalised Bayer ``(N, H, W)``, exposure ratio ``(N,)``, sRGB target
    ``(N, 3, H, W)``, and where each comes from (``names``: a photo tile, or a SID short exposure). Kept as numpy so
    that Ray's object store shares them with every trial without copies."""

    bayer: np.ndarray
    ratio: np.ndarray
    target: np.ndarray
    names: list[str] = field(default_factory=list)

    def targets(self, index: int | slice | np.ndarray) -> np.ndarray:
        """The sRGB target of sample ``index`` (a view), or of the samples ``index`` selects."""
        return self.target[index]


@dataclass
class SharedTargetSamples(RawSamples):
    """Samples of which several share one target: SID's short exposures of one scene share its ground truth, which
    is held once (a 12 MP target is three times the size of its Bayer plane). ``target`` holds the distinct targets
    ``(M, 3, H, W)``; ``target_index`` ``(N,)`` names each sample's."""

    target_index: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def targets(self, index: int | slice | np.ndarray) -> np.ndarray:
        """The sRGB target of sample ``index`` (a view), or of the samples ``index`` selects (a copy)."""
        return self.target[self.target_index[index]]


def prepare_samples(data: LowLightData) -> dict[str, RawSamples]:
    """The ``train``, ``val`` and ``test`` samples of the ``data`` section; deterministic, independent of the training
    seed. Each split is SID's list of its name (the lists share no scene), or its own tiles of the photos (the test
    tiles are dealt after the others, so adding them changed no train or val tile), or the user's sRGB pairs."""
    if data.source == "pairs":
        return srgb_pair_samples(data)
    if data.source == "sid":
        check_disjoint_lists(data.root)
        out = {}
        for split, (name, scenes, n_scenes, max_pairs) in sid_selection(data).items():
            pairs = load_sid_pairs(data.root, name, max_pairs=max_pairs, scenes=scenes, n_scenes=n_scenes)
            out[split] = _samples_from_pairs(pairs, data, f"the pairs of '{Path(data.root) / f'Sony_{name}_list.txt'}'")
            list_file = Path(data.root) / f"Sony_{name}_list.txt"
            entries = select_entries(read_sid_list(data.root, name), list_file, scenes, n_scenes, max_pairs)
            out[split].names = [entry.short_path.name for entry in entries]
        return out
    tiles = deal_tiles(data.photos, data.tile, {"train": data.n_train, "val": data.n_val, "test": data.n_test})
    out = {}
    for split_index, (split, named) in enumerate(tiles.items()):
        images = [t.image for t in named]
        rng = np.random.default_rng([data.seed, split_index])
        ratios = rng.uniform(data.ratio_min, data.ratio_max, len(images))
        bayer = [
            normalise_raw(simulate_short_exposure(img, rng, r, data.gain, data.read_noise))
            for img, r in zip(images, ratios)
        ]
        target = np.stack([img.transpose(2, 0, 1) for img in images])
        out[split] = RawSamples(np.stack(bayer), ratios.astype(np.float32), target.astype(np.float32),
                                [t.name for t in named])
    return out


def sid_selection(data: LowLightData) -> dict[str, tuple]:
    """Per split of the task, the SID list it reads and what of it is kept: ``(list name, scene ids or None, at most
    that many scenes, at most that many pairs)``. Each split reads the list of its name: SID's own code trains on the
    training list, the checkpoint is chosen on the validation list and reported on the test list, whose cap is its
    own (``max_test_pairs``): the published numbers are test-set numbers of a stated size."""
    return {
        "train": ("train", scene_ids(data.scenes_train), data.n_train, data.max_pairs),
        "val": ("val", None, data.n_val, data.max_pairs),
        "test": ("test", scene_ids(data.scenes_test), data.n_test, data.max_test_pairs),
    }


def flip_crop(bayer: np.ndarray, target: np.ndarray, flips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flip vertically, flip horizontally and transpose (where ``flips`` is true, in that order) a Bayer crop
    ``(h, w)`` and its sRGB target ``(3, h, w)`` alike; the Bayer crop is flipped as packed planes, so that its
    RGGB phase stays."""
    packed = pack_bayer(bayer)  # (4, h/2, w/2)
    if flips[0]:
        packed, target = packed[:, ::-1], target[:, ::-1]
    if flips[1]:
        packed, target = packed[:, :, ::-1], target[:, :, ::-1]
    if flips[2]:
        packed, target = packed.transpose(0, 2, 1), target.transpose(0, 2, 1)
    return np.ascontiguousarray(unpack_bayer(packed)), np.ascontiguousarray(target)


def srgb_pair_samples(data: LowLightData) -> dict[str, RawSamples]:
    """The user's sRGB pairs (``root/short/``, ``root/long/``) as raw samples: each short exposure taken back to linear
    light and mosaicked to RGGB, its ratio the long exposure's mean linear brightness over its own (1 to 300); by
    name, the last ``n_test`` pairs for test, the ``n_val`` before them for validation, the rest for training.

    Raises:
        DataError: the folder errors of :func:`~restore_core.data.folders.load_paired_folders` (two images of a
            pair of different sizes among them), or too few pairs for the held-out splits.
    """
    pairs = load_paired_folders(data.root, "short", "long")
    check_pair_count(data, len(pairs))
    samples = []
    for pair in pairs:  # each of one size (load_paired_folders checks)
        h, w = pair.input.shape[0] // 2 * 2, pair.input.shape[1] // 2 * 2  # whole Bayer quads
        short, long = srgb_to_linear(pair.input[:h, :w]), pair.target[:h, :w]
        ratio = float(np.clip(srgb_to_linear(long).mean() / max(float(short.mean()), 1e-6), 1.0, MAX_RATIO))
        samples.append((mosaic_rggb(short), ratio, long))
    where = f"the short/long pairs of '{data.root}'"
    n_train = len(pairs) - data.n_val - data.n_test
    out = {}
    for split, start, end in (("train", 0, n_train), ("val", n_train, n_train + data.n_val),
                              ("test", n_train + data.n_val, len(pairs))):
        out[split] = _samples_from_pairs(samples[start:end], data, where)
        out[split].names = [pair.name for pair in pairs[start:end]]
    return out


def check_pair_count(data: LowLightData, count: int) -> None:
    """Refuse a folder of ``count`` short/long pairs that leaves no training pair after the held-out splits."""
    if count <= data.n_val + data.n_test:
        raise DataError(f"data folder '{data.root}' has {count} short/long pairs; data.n_val={data.n_val} and "
                        f"data.n_test={data.n_test} leave none for training")


def _samples_from_pairs(
    pairs: list[tuple[np.ndarray, float, np.ndarray]], data: LowLightData, where: str
) -> RawSamples:
    """Stack real (bayer, ratio, ground truth) pairs cropped to their common size (multiples of 64); pairs that share
    one ground-truth array (a SID scene's short exposures) share one stacked target."""
    h = min(p[0].shape[0] for p in pairs) // 64 * 64
    w = min(p[0].shape[1] for p in pairs) // 64 * 64
    if min(h, w) < data.patch:
        raise DataError(f"{where} crop to {h}x{w} (multiples of 64), smaller than data.patch {data.patch}; lower "
                        "data.patch")
    # copy=False: the stacks are float32 already, and a second copy of a split's frames would double its peak
    bayer = np.stack([p[0][:h, :w] for p in pairs]).astype(np.float32, copy=False)
    ratio = np.array([p[1] for p in pairs], dtype=np.float32)
    truths = {id(p[2]): p[2] for p in pairs}  # in order of first use; the pairs keep every array alive
    slot = {key: number for number, key in enumerate(truths)}
    target = np.stack([gt[:h, :w].transpose(2, 0, 1) for gt in truths.values()]).astype(np.float32, copy=False)
    if len(truths) == len(pairs):
        return RawSamples(bayer, ratio, target)
    return SharedTargetSamples(bayer, ratio, target, target_index=np.array([slot[id(p[2])] for p in pairs]))
