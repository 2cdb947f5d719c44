"""The low-light task's data: short-exposure raw samples with their sRGB targets (synthetic degradations of photo
tiles, or SID's Sony pairs), prepared once per data config, and the flips of a training crop."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from restore_core.data.lowlight import normalise_raw, pack_bayer, simulate_short_exposure, unpack_bayer
from restore_core.data.photos import deal_tiles
from restore_core.data.sid_raw import check_disjoint_lists, load_sid_pairs, read_sid_list
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


def prepare_samples(data: LowLightData) -> dict[str, RawSamples]:
    """The ``train``, ``val`` and ``test`` samples of the ``data`` section; deterministic, independent of the training
    seed. Each split is SID's list of its name (the lists share no scene), or its own tiles of the photos (the test
    tiles are dealt after the others, so adding them changed no train or val tile)."""
    if data.source == "sid":
        check_disjoint_lists(data.root)
        out = {}
        for split, (name, scenes, n_scenes, max_pairs) in sid_selection(data).items():
            pairs = load_sid_pairs(data.root, name, max_pairs=max_pairs, scenes=scenes, n_scenes=n_scenes)
            out[split] = _samples_from_pairs(pairs, data, name)
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


def _samples_from_pairs(
    pairs: list[tuple[np.ndarray, float, np.ndarray]], data: LowLightData, list_name: str
) -> RawSamples:
    """Stack real (bayer, ratio, ground truth) pairs cropped to their common size (multiples of 64)."""
    h = min(p[0].shape[0] for p in pairs) // 64 * 64
    w = min(p[0].shape[1] for p in pairs) // 64 * 64
    if min(h, w) < data.patch:
        raise DataError(
            f"the pairs of '{Path(data.root) / f'Sony_{list_name}_list.txt'}' crop to {h}x{w} (multiples of 64), "
            f"smaller than data.patch {data.patch}; lower data.patch"
        )
    bayer = np.stack([p[0][:h, :w] for p in pairs]).astype(np.float32)
    ratio = np.array([p[1] for p in pairs], dtype=np.float32)
    target = np.stack([p[2][:h, :w].transpose(2, 0, 1) for p in pairs]).astype(np.float32)
    return RawSamples(bayer, ratio, target)
