"""The anomaly task's data: the labelled splits (synthetic spills on photo tiles, or the user's normal/ and
anomalous/ folders), prepared once per data config, and the artefact augmentation of training batches."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from restore_core.data.folders import load_class_folders
from restore_core.data.photos import SPLIT_ORDER_SEED, split_tiles
from restore_core.data.spills import add_spills
from restore_core.errors import DataError
from restore_core.tasks.anomaly_config import AnomalyData

AUGMENT_KINDS = ("circle", "blob")  # the study drew white circles; streaks are left to the test anomalies


@dataclass
class AnomalySplits:
    """Images ``(N, C, H, W)`` float32 in [0, 1]; labels 1 = anomalous. Training images are all normal."""

    train: np.ndarray
    val: np.ndarray
    val_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray


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
    tiles = split_tiles(data.photos, data.tile, {
        "train": data.n_train, "val_normal": data.n_val_normal, "val_anomalous": data.n_val_anomalous,
        "test_normal": data.n_test_normal, "test_anomalous": data.n_test_anomalous,
    })
    stacked = {}
    for index, (split, images) in enumerate(tiles.items()):
        rng = np.random.default_rng([data.seed, index])
        if split.endswith("anomalous"):
            images = [add_spills(img, rng, size=tuple(data.spill_size))[0] for img in images]
        stacked[split] = _chw(images)
    return _labelled(stacked["train"], stacked)


def _chw(images: list[np.ndarray]) -> np.ndarray:
    """Stack ``H×W×C`` (or ``H×W``) images into ``(N, C, H, W)`` float32."""
    stacked = np.stack([img if img.ndim == 3 else img[..., None] for img in images]).astype(np.float32)
    return np.ascontiguousarray(stacked.transpose(0, 3, 1, 2))


def _labelled(train: np.ndarray, parts: dict[str, np.ndarray]) -> AnomalySplits:
    out = {}
    for split in ("val", "test"):
        normal, anomalous = parts[f"{split}_normal"], parts[f"{split}_anomalous"]
        out[split] = np.concatenate([normal, anomalous])
        out[f"{split}_labels"] = np.concatenate([np.zeros(len(normal), np.int64), np.ones(len(anomalous), np.int64)])
    return AnomalySplits(train=train, **out)


def _folder_splits(data: AnomalyData) -> AnomalySplits:
    loaded = load_class_folders(data.root)
    order = np.random.default_rng(SPLIT_ORDER_SEED)
    normal = [loaded["normal"][i][1] for i in order.permutation(len(loaded["normal"]))]
    anomalous = [loaded["anomalous"][i][1] for i in order.permutation(len(loaded["anomalous"]))]
    n_val, n_test, n_anom = data.n_val_normal, data.n_test_normal, data.n_val_anomalous
    if len(normal) <= n_val + n_test:
        raise DataError(f"'{data.root}/normal' has {len(normal)} images; data.n_val_normal + data.n_test_normal = "
                        f"{n_val + n_test} leaves none to train on")
    if len(anomalous) <= n_anom:
        raise DataError(f"'{data.root}/anomalous' has {len(anomalous)} images; data.n_val_anomalous = {n_anom} "
                        "leaves none to test on")

    def resized(images: list[np.ndarray]) -> np.ndarray:
        return _chw([cv2.resize(img, (data.tile, data.tile), interpolation=cv2.INTER_AREA) for img in images])

    parts = {"val_normal": resized(normal[:n_val]), "test_normal": resized(normal[n_val : n_val + n_test]),
             "val_anomalous": resized(anomalous[:n_anom]), "test_anomalous": resized(anomalous[n_anom:])}
    return _labelled(resized(normal[n_val + n_test :]), parts)
