"""Every task and data source has a test split disjoint from train and val: by the names of what each split holds
(photo tiles, files, SID scenes) and by the images themselves; and the test evaluation reads the test split only."""

import typing

import cv2
import numpy as np
import pytest
import torch

from restore_core.schema import validate_config
from restore_core.tasks import get_task, list_tasks
from tests.restore_core.sid_files import BLACK, WHITE, write_dng

LOWLIGHT = {
    "task": {"name": "lowlight", "input": "packed"},
    "data": {"tile": 64, "patch": 32, "n_train": 3, "n_val": 2, "n_test": 2},
    "model": {"name": "sid_unet", "width": 0.125},
    "loss": {"l1": 1.0},
    "train": {"batch_size": 2, "cost_size": 64, "log_images": 1},
}
DESMOKE = {
    "task": {"name": "desmoke", "ndf": 4, "d_layers": 2},
    "data": {"tile": 64, "n_train": 3, "n_val": 2, "n_test": 2, "smoke_per_tile": 2},
    "model": {"name": "pix2pix_unet", "variant": "small", "ngf": 4},
    "train": {"cost_size": 64, "log_images": 1},
}
TCFL = {
    "task": {"name": "tcfl", "discriminator": {"name": "patchgan_in", "ndf": 8}},
    "data": {"tile": 32, "patch": 32, "n_scenes": 3, "n_clean": 3, "n_val": 2, "n_test": 2},
    "model": {"name": "dncnn", "depth": 4, "features": 8},
    "train": {"cost_size": 32, "log_images": 1},
}
ANOMALY = {
    "task": {"name": "anomaly", "perceptual_weights": "random"},
    "data": {"tile": 32, "patch": 32, "n_train": 4, "n_val_normal": 3, "n_val_anomalous": 2, "n_test_normal": 3,
             "n_test_anomalous": 2},
    "model": {"name": "unet", "depth": 2, "width": 8},
    "loss": {"mse": 1.0},
    "train": {"cost_size": 32, "log_images": 1},
}


def image(rng: np.random.Generator, size=(40, 48)) -> np.ndarray:
    return rng.integers(0, 256, (*size, 3), dtype=np.uint8)


def write_pairs(root, names, first="input", second="target", size=(64, 64)):
    rng = np.random.default_rng(abs(hash(str(root))) % 2**32)
    for folder in (first, second):
        (root / folder).mkdir(parents=True)
    for name in names:
        clean = image(rng, size)
        cv2.imwrite(str(root / second / f"{name}.png"), clean)
        cv2.imwrite(str(root / first / f"{name}.png"), (clean * 0.5 + 100).astype(np.uint8))


def lowlight_pairs(root) -> dict:
    """The user's sRGB pairs: seven long exposures in ``long/``, each with a darker short one of its name in
    ``short/``; the last two by name test, the two before them validate."""
    rng = np.random.default_rng(7)
    for folder in ("short", "long"):
        (root / folder).mkdir(parents=True)
    for index in range(7):
        long = image(rng, (64, 64))
        cv2.imwrite(str(root / "long" / f"p{index}.png"), long)
        cv2.imwrite(str(root / "short" / f"p{index}.png"), (long * 0.2 + 2).astype(np.uint8))
    return {**LOWLIGHT, "data": {"source": "pairs", "root": str(root), "patch": 32, "n_val": 2, "n_test": 2}}


def desmoke_folders(root, test_folder: bool) -> dict:
    write_pairs(root, [f"v1_{i:03d}" for i in range(6)])
    if test_folder:
        write_pairs(root / "test", ["t1_000", "t1_001"])
    return {**DESMOKE, "data": {**DESMOKE["data"], "source": "folders", "root": str(root)}}


def tcfl_folders(root, test_folder: bool) -> dict:
    rng = np.random.default_rng(1)
    for scene in ("s1", "s2"):
        (root / "noisy" / scene).mkdir(parents=True)
        for k in range(2):
            cv2.imwrite(str(root / "noisy" / scene / f"{k}.png"), image(rng))
    (root / "clean").mkdir()
    for k in range(2):
        cv2.imwrite(str(root / "clean" / f"c{k}.png"), image(rng))
    write_pairs(root / "val", [f"v{k}" for k in range(4)], "noisy", "clean", (40, 48))
    if test_folder:
        write_pairs(root / "test", ["t0", "t1"], "noisy", "clean", (40, 48))
    return {**TCFL, "data": {**TCFL["data"], "source": "folders", "root": str(root)}}


def anomaly_folders(root, test_folder: bool) -> dict:
    rng = np.random.default_rng(2)
    counts = {"normal": 10, "anomalous": 4}
    for label, count in counts.items():
        (root / label).mkdir()
        for k in range(count):
            cv2.imwrite(str(root / label / f"{label[0]}{k}.png"), image(rng))
        if test_folder:
            (root / "test" / label).mkdir(parents=True)
            for k in range(2):
                cv2.imwrite(str(root / "test" / label / f"t{label[0]}{k}.png"), image(rng))
    return {**ANOMALY, "data": {**ANOMALY["data"], "source": "folders", "root": str(root)}}


def sid(root) -> dict:
    (root / "Sony" / "short").mkdir(parents=True)
    (root / "Sony" / "long").mkdir()
    rng = np.random.default_rng(3)
    for split, first in (("train", 1), ("val", 20001), ("test", 10001)):
        lines = []
        for scene in range(first, first + 2):
            light = 0.05 + 0.5 * np.kron(rng.random((4, 4)), np.ones((16, 16)))
            write_dng(root / "Sony" / "long" / f"{scene:05d}_00_10s.dng", BLACK + light * (WHITE - BLACK))
            write_dng(root / "Sony" / "short" / f"{scene:05d}_00_0.1s.dng", BLACK + light * (WHITE - BLACK) / 100)
            lines.append(f"./Sony/short/{scene:05d}_00_0.1s.dng ./Sony/long/{scene:05d}_00_10s.dng ISO200 F8")
        (root / f"Sony_{split}_list.txt").write_text("\n".join(lines) + "\n")
    return {**LOWLIGHT, "data": {"source": "sid", "root": str(root), "patch": 32, "tile": 64}}


# (task, data source, how its folder is laid out): every source of every task
CASES = {
    ("lowlight", "synthetic", ""): lambda root: LOWLIGHT,
    ("lowlight", "sid", "the three SID lists"): sid,
    ("lowlight", "pairs", "test held out by name"): lowlight_pairs,
    ("desmoke", "synthetic", ""): lambda root: DESMOKE,
    ("desmoke", "folders", "test held out by name"): lambda root: desmoke_folders(root, False),
    ("desmoke", "folders", "test/ folder"): lambda root: desmoke_folders(root, True),
    ("tcfl", "synthetic", ""): lambda root: TCFL,
    ("tcfl", "folders", "test held out of val/ by name"): lambda root: tcfl_folders(root, False),
    ("tcfl", "folders", "test/ folder"): lambda root: tcfl_folders(root, True),
    ("anomaly", "synthetic", ""): lambda root: ANOMALY,
    ("anomaly", "folders", "test held out by a fixed shuffle"): lambda root: anomaly_folders(root, False),
    ("anomaly", "folders", "test/ folder"): lambda root: anomaly_folders(root, True),
}


def clean_images(task: str, data) -> dict[str, list[bytes]]:
    """The clean images of each split, as bytes (the degraded ones differ by their noise even for one tile)."""
    if task == "lowlight":
        return {split: [t.tobytes() for t in samples.target] for split, samples in data.items()}
    if task == "desmoke":  # a training tile appears once per smoke drawn over it
        return {split: list(dict.fromkeys(c.tobytes() for c in pairs.clean)) for split, pairs in data.items()}
    if task == "tcfl":
        return {"train": [c.tobytes() for c in data.clean], "val": [c.tobytes() for c in data.val_clean],
                "test": [c.tobytes() for c in data.test_clean]}
    normal = {"train": data.train, "val": data.val[data.val_labels == 0], "test": data.test[data.test_labels == 0]}
    return {split: [x.tobytes() for x in images] for split, images in normal.items()}


def test_every_task_and_data_source_has_a_case():
    sources = {(task, source) for task, source, _ in CASES}
    for task in list_tasks():
        literal = typing.get_type_hints(get_task(task).DataOptions)["source"]
        assert {(task, source) for source in typing.get_args(literal)} <= sources, task


@pytest.mark.parametrize("case", list(CASES), ids=lambda case: "-".join(filter(None, case)).replace(" ", "_"))
def test_the_test_split_is_disjoint_from_train_and_val(case, tmp_path):
    task_name = case[0]
    config = validate_config(CASES[case](tmp_path))
    task_cls = get_task(task_name)
    data = task_cls.prepare_data(config)
    items = task_cls.split_items(data)
    assert set(items) == {"train", "val", "test"} and all(items.values())
    for split, names in items.items():
        others = {name for other, more in items.items() if other != split for name in more}
        assert not set(names) & others, (split, sorted(set(names) & others))
    images = clean_images(task_name, data)
    assert all(images[split] for split in ("train", "val", "test"))
    for split in ("val", "test"):
        assert len(set(images[split])) == len(images[split])
    seen = {"train": set(images["train"]), "val": set(images["val"])}
    assert not set(images["test"]) & (seen["train"] | seen["val"])
    assert not seen["val"] & seen["train"]
    # the test evaluation reads the test split and says so in every metric's name
    torch.manual_seed(0)
    task = task_cls(config, data, torch.device("cpu"))
    test_metrics = task.evaluate("test").metrics
    val_metrics = task.evaluate("val").metrics
    numbers = {k for k, v in test_metrics.items() if isinstance(v, float)}
    assert numbers and all(k.startswith("test/") for k in numbers)
    # each test metric is the validation metric of the same name (the anomaly task's per-rule counts are test-only)
    assert {k.replace("test/", "val/", 1) for k in numbers if k.count("/") == 1} <= set(val_metrics)
    with pytest.raises(ValueError, match="unknown evaluation split 'train'"):
        task.evaluate("train")
