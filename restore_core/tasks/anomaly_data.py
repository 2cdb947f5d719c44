"""The anomaly task's data: the labelled splits (synthetic spills on photo tiles, or the user's normal/ and
anomalous/ folders), prepared once per data config, and the artefact augmentation of training batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from restore_core.data.folders import load_class_folders
from restore_core.data.paths import folder_problem
from restore_core.data.photos import SPLIT_ORDER_SEED, deal_tiles
from restore_core.data.spills import add_spills
from restore_core.errors import DataError
from restore_core.tasks.anomaly_config import AnomalyData

AUGMENT_KINDS = ("circle", "blob")  # the study drew white circles; streaks are left to the test anomalies


@dataclass
class AnomalySplits:
    """Images ``(N, C, H, W)`` float32 in [0, 1]; labels 1 = anomalous. Training images are all normal. ``names``:
    where the images of each split come from (a photo tile, or a file), in their order."""

    train: np.ndarray
    val: np.ndarray
    val_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray
    names: dict[str, list[str]] = field(default_factory=dict)


def augment_batch(images: np.ndarray, share: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw white circles and blobs on ``round(share · B)`` images of a ``(B, C, H, W)`` batch chosen by ``rng``.

    Returns the augmented copy and the indices that were changed; the caller keeps ``images`` as the target.
    """
    count = int(round(share * len(images)))
    chosen = np.sort(rng.choice(len(images), count, replace=False))
    out = images.copy()
    for i in chosen:
        spilled, _ = add_spills(images[i].transpose(1, 2, 0), rng, kinds=AUGMENT_KINDS)
        out[i] = spilled.reshape(images.shape[2], images.shape[3], -1).transpose(2, 0, 1)
    return out, chosen


def prepare_splits(data: AnomalyData) -> AnomalySplits:
    """The splits of the ``data`` section; deterministic, and independent of the training seed."""
    if data.source == "folders":
        return _folder_splits(data)
    tiles = deal_tiles(data.photos, data.tile, {
        "train": data.n_train, "val_normal": data.n_val_normal, "val_anomalous": data.n_val_anomalous,
        "test_normal": data.n_test_normal, "test_anomalous": data.n_test_anomalous,
    })
    stacked, names = {}, {}
    for index, (split, named) in enumerate(tiles.items()):
        rng = np.random.default_rng([data.seed, index])
        images = [t.image for t in named]
        if split.endswith("anomalous"):
            images = [add_spills(img, rng, size=tuple(data.spill_size))[0] for img in images]
        stacked[split], names[split] = _chw(images), [t.name for t in named]
    return _labelled(stacked["train"], stacked, names)


def _chw(images: list[np.ndarray]) -> np.ndarray:
    """Stack ``H×W×C`` (or ``H×W``) images into ``(N, C, H, W)`` float32."""
    stacked = np.stack([img if img.ndim == 3 else img[..., None] for img in images]).astype(np.float32)
    return np.ascontiguousarray(stacked.transpose(0, 3, 1, 2))


def _labelled(train: np.ndarray, parts: dict[str, np.ndarray], names: dict[str, list[str]]) -> AnomalySplits:
    out: dict = {"names": {"train": names["train"]}}
    for split in ("val", "test"):
        normal, anomalous = parts[f"{split}_normal"], parts[f"{split}_anomalous"]
        out[split] = np.concatenate([normal, anomalous])
        out[f"{split}_labels"] = np.concatenate([np.zeros(len(normal), np.int64), np.ones(len(anomalous), np.int64)])
        out["names"][split] = names[f"{split}_normal"] + names[f"{split}_anomalous"]
    return AnomalySplits(train=train, **out)


def _folder_splits(data: AnomalyData) -> AnomalySplits:
    """``root/normal`` and ``root/anomalous`` after a fixed shuffle: validation first, then (without a ``root/test/``
    folder of the same two classes) test, the rest of the normal images for training."""
    test_root = Path(data.root) / "test"
    has_test = folder_problem(test_root) != "does not exist"
    loaded = load_class_folders(data.root)
    order = np.random.default_rng(SPLIT_ORDER_SEED)
    normal = [(f"normal/{n}", loaded["normal"][i][1]) for n, i in _shuffled(loaded["normal"], order)]
    anomalous = [(f"anomalous/{n}", loaded["anomalous"][i][1]) for n, i in _shuffled(loaded["anomalous"], order)]
    n_val, n_anom = data.n_val_normal, data.n_val_anomalous
    n_test = 0 if has_test else data.n_test_normal
    if len(normal) <= n_val + n_test:
        split = "data.n_val_normal" + ("" if has_test else " + data.n_test_normal (no test/ folder)")
        raise DataError(f"'{data.root}/normal' has {len(normal)} images; {split} = {n_val + n_test} leaves none to "
                        "train on")
    if not has_test and len(anomalous) <= n_anom:
        raise DataError(f"'{data.root}/anomalous' has {len(anomalous)} images; data.n_val_anomalous = {n_anom} "
                        "leaves none to test on (or give a test/ folder with normal/ and anomalous/)")
    if has_test:
        tested = load_class_folders(test_root)
        test_normal = [(f"test/normal/{n}", image) for n, image in tested["normal"]]
        test_anomalous = [(f"test/anomalous/{n}", image) for n, image in tested["anomalous"]]
    else:
        test_normal, test_anomalous = normal[n_val : n_val + n_test], anomalous[n_anom:]

    def resized(items: list[tuple[str, np.ndarray]]) -> np.ndarray:
        return _chw([cv2.resize(img, (data.tile, data.tile), interpolation=cv2.INTER_AREA) for _, img in items])

    groups = {"train": normal[n_val + n_test :], "val_normal": normal[:n_val], "val_anomalous": anomalous[:n_anom],
              "test_normal": test_normal, "test_anomalous": test_anomalous}
    parts = {split: resized(items) for split, items in groups.items()}
    return _labelled(parts.pop("train"), parts, {split: [n for n, _ in items] for split, items in groups.items()})


def _shuffled(items: list[tuple[str, np.ndarray]], order: np.random.Generator) -> list[tuple[str, int]]:
    return [(items[i][0], i) for i in order.permutation(len(items))]
