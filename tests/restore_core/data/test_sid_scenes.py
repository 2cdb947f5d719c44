"""Choosing SID scenes (the reproduction's 10 + 10 scenes by id): only the listed pairs are loaded, from a list or a
file of ids, the first n scenes, at most max pairs, the memory bound, and one-line errors for unknown ids."""

import numpy as np
import pytest
import torch

from restore_core.data.sid_raw import load_sid_pairs, read_ground_truth, read_sid_list
from restore_core.data.sid_scenes import memory_bytes, scene_id, scene_ids
from restore_core.errors import ConfigError, DataError
from restore_core.schema import validate_config
from restore_core.tasks.lowlight import LowLightTask
from tests.restore_core.sid_files import BLACK, WHITE, write_dng

SIDE = 64
# four training scenes (scene 2 with two short exposures), two validation and three test scenes
LISTS = {
    "train": ["00001_00_0.1s", "00002_00_0.1s", "00002_01_0.04s", "00003_00_0.1s", "00004_00_0.1s"],
    "val": ["20001_00_0.1s", "20002_00_0.1s"],
    "test": ["10003_00_0.1s", "10007_00_0.1s", "10012_00_0.1s"],
}


@pytest.fixture
def sid_root(tmp_path):
    (tmp_path / "Sony" / "short").mkdir(parents=True)
    (tmp_path / "Sony" / "long").mkdir()
    for split, shorts in LISTS.items():
        lines = []
        for short in shorts:
            level = int(short[:5]) % 97 / 100 + 0.05  # every scene its own brightness
            long = f"{short[:5]}_00_10s"
            long_counts = np.full((SIDE, SIDE), BLACK + level * (WHITE - BLACK))
            write_dng(tmp_path / "Sony" / "long" / f"{long}.dng", long_counts)
            write_dng(tmp_path / "Sony" / "short" / f"{short}.dng", np.full((SIDE, SIDE), BLACK + level * 50))
            lines.append(f"./Sony/short/{short}.dng ./Sony/long/{long}.dng ISO200 F8")
        (tmp_path / f"Sony_{split}_list.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def loaded_scenes(pairs, root, split):
    """Which scenes ``pairs`` are, told apart by their ground truths."""
    truths = {scene_id(e.short_path): read_ground_truth(e.long_path) for e in read_sid_list(root, split)}
    return [next(s for s, t in truths.items() if np.array_equal(t, gt)) for _, _, gt in pairs]


def test_only_the_listed_scenes_are_loaded(sid_root):
    pairs = load_sid_pairs(sid_root, "train", scenes=scene_ids([2, "00004"]))
    assert loaded_scenes(pairs, sid_root, "train") == ["00002", "00002", "00004"]  # both exposures of scene 2
    assert pairs[0][2] is pairs[1][2]  # one ground truth per scene in memory
    assert [ratio for _, ratio, _ in pairs] == [100.0, 250.0, 100.0]
    first = load_sid_pairs(sid_root, "train", n_scenes=2)
    assert loaded_scenes(first, sid_root, "train") == ["00001", "00002", "00002"]
    assert len(load_sid_pairs(sid_root, "train", scenes=scene_ids([2, 3]), max_pairs=2)) == 2


def test_scene_ids_from_a_file_and_bad_ids(sid_root, tmp_path):
    ids = tmp_path / "test_scenes.txt"
    ids.write_text("# the reproduction's test scenes\n10012\n\n10003  # outdoor\n")
    assert scene_ids(str(ids)) == ["10012", "10003"]
    pairs = load_sid_pairs(sid_root, "test", scenes=scene_ids(str(ids)))
    assert sorted(loaded_scenes(pairs, sid_root, "test")) == ["10003", "10012"]
    with pytest.raises(DataError, match=r"scene\(s\) 10004 not in '.*Sony_test_list.txt' \(it lists 3 scenes"):
        load_sid_pairs(sid_root, "test", scenes=scene_ids([10004, 10003]))
    with pytest.raises(DataError, match="SID scene id 'indoor' is not a number"):
        scene_ids(["indoor"])
    with pytest.raises(DataError, match="scene list '.*missing.txt' does not exist"):
        scene_ids(str(tmp_path / "missing.txt"))


def test_the_task_loads_the_selection_and_states_its_memory(sid_root):
    config = {
        "task": {"name": "lowlight", "input": "packed"},
        "data": {"source": "sid", "root": str(sid_root), "patch": 64, "tile": 64, "n_train": None, "n_val": None,
                 "n_test": None, "scenes_train": [1, 4], "scenes_test": [10007, 10012]},
        "model": {"name": "sid_unet", "width": 0.125},
        "loss": {"l1": 1.0},
        "train": {"steps": 1, "batch_size": 1, "eval_every": 1, "cost_size": 64, "threads": 1},
    }
    cfg = validate_config(config)
    LowLightTask.check_data(cfg)
    data = LowLightTask.prepare_data(cfg)
    assert len(data["train"].bayer) == 2 and len(data["val"].bayer) == 2 and len(data["test"].bayer) == 2
    assert data["test"].names == ["10007_00_0.1s.dng", "10012_00_0.1s.dng"]  # the selected scenes of the test list
    entries = read_sid_list(sid_root, "train")
    assert memory_bytes(entries) == 4 * 2848 * 4256 * (5 + 3 * 4)  # five Bayer planes, four ground truths
    assert memory_bytes(entries[:1]) / 1e6 == pytest.approx(48.5 + 145.5, abs=0.1)
    config["data"]["scenes_test"] = [10001]
    with pytest.raises(DataError, match="scene\\(s\\) 10001 not in"):
        LowLightTask.check_data(validate_config(config))  # --dry-run finds it before anything is decoded
    config["data"].update(source="synthetic", root=None, n_train=2, n_val=2, n_test=2)
    with pytest.raises(ConfigError, match="data.scenes_train and data.scenes_test choose SID scenes"):
        validate_config(config)


def test_max_test_pairs_caps_the_test_list_alone(sid_root):
    config = {
        "task": {"name": "lowlight", "input": "packed"},
        "data": {"source": "sid", "root": str(sid_root), "patch": 64, "tile": 64, "n_train": None, "n_val": None,
                 "n_test": None, "max_pairs": 4, "max_test_pairs": 1},
        "model": {"name": "sid_unet", "width": 0.125},
        "loss": {"l1": 1.0},
        "train": {"steps": 1, "batch_size": 1, "eval_every": 1, "cost_size": 64, "threads": 1},
    }
    data = LowLightTask.prepare_data(validate_config(config))
    assert [len(data[split].bayer) for split in ("train", "val", "test")] == [4, 2, 1]  # 557 / all / 294 in small
    assert data["test"].names == ["10003_00_0.1s.dng"]  # the first line of the test list
    config["data"]["max_eval_pairs"] = 1  # the name of an earlier release: refused, naming the key
    with pytest.raises(ConfigError, match="max_eval_pairs"):
        validate_config(config)
    del config["data"]["max_eval_pairs"]
    config["data"]["n_train"] = 2  # the first two scenes: three pairs (scene 2 has two exposures)
    assert len(LowLightTask.prepare_data(validate_config(config))["train"].bayer) == 3


def test_the_exposures_of_a_scene_share_its_ground_truth_once_stacked(sid_root):
    config = {
        "task": {"name": "lowlight", "input": "packed"},
        "data": {"source": "sid", "root": str(sid_root), "patch": 64, "tile": 64, "n_train": None, "n_val": None,
                 "n_test": None, "scenes_train": [2, 4]},
        "model": {"name": "sid_unet", "width": 0.125},
        "loss": {"l1": 1.0},
        "train": {"steps": 1, "batch_size": 8, "eval_every": 1, "cost_size": 64, "threads": 1},
    }
    cfg = validate_config(config)
    data = LowLightTask.prepare_data(cfg)
    train = data["train"]
    assert len(train.bayer) == 3 and len(train.target) == 2 and train.target_index.tolist() == [0, 0, 1]
    assert np.shares_memory(train.targets(0), train.targets(1)) and not np.shares_memory(train.targets(1),
                                                                                          train.targets(2))
    assert not hasattr(data["val"], "target_index") and len(data["val"].target) == 2  # one exposure per scene
    entries = [e for e in read_sid_list(sid_root, "train") if scene_id(e.short_path) in ("00002", "00004")]
    assert train.bayer.nbytes + train.target.nbytes == memory_bytes(entries, SIDE, SIDE)  # 3 planes, 2 truths
    # every drawn crop comes with its own scene's ground truth (the scenes differ in brightness; a crop is the frame)
    task = LowLightTask(cfg, data, torch.device("cpu"))
    bayer, ratio, target = task.sample_batch(np.random.default_rng(0))
    scene_of = {round(float(train.bayer[i].mean()), 6): i for i in (0, 2)}  # exposures 0 and 1 are one scene
    drawn = [scene_of[round(float(b.mean()), 6)] for b in bayer]
    assert set(drawn) == {0, 2}
    for item, sample in enumerate(drawn):
        assert target[item].mean().item() == pytest.approx(float(train.targets(sample).mean()), rel=1e-6)
    assert sorted(set(ratio.tolist())) == [100.0, 250.0]
