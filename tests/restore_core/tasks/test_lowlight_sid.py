"""The low-light task on real SID-shaped raw data: DNG files written with pidng, read back through rawpy, trained on
with both networks, and every data problem reported as one line naming the file (exit code 2 from the CLI)."""

from pathlib import Path

import numpy as np
import pytest

from restore_core import train
from restore_core.data.sid_raw import read_ground_truth
from restore_core.errors import DataError
from restore_core.schema import validate_config
from restore_core.tasks.lowlight import LowLightTask
from sweeps.run import main
from tests.restore_core.sid_files import BLACK, WHITE, write_dng

HEIGHT, WIDTH = 128, 192  # multiples of 64, as the task crops real frames
# (list, short exposure, long exposure): ratios 100, 250 and 100.
LISTS = {
    "train": [("00001_00_0.1s", "00001_00_10s"), ("00002_00_0.04s", "00002_00_10s")],
    "val": [("20001_00_0.1s", "20001_00_10s"), ("20002_00_0.1s", "20002_00_10s")],
    "test": [("10001_00_0.1s", "10001_00_10s"), ("10002_00_0.1s", "10002_00_10s")],
}


def scene(seed: int) -> np.ndarray:
    """A smooth random scene in [0.05, 0.6] of the sensor range, full-resolution Bayer layout."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((HEIGHT // 16, WIDTH // 16))
    return 0.05 + 0.55 * np.kron(coarse, np.ones((16, 16)))


SCENE_SEEDS = {"train": 0, "val": 10, "test": 20}


def exposure(name: str) -> float:
    return float(name.rsplit("_", 1)[1][:-1])


@pytest.fixture
def sid_root(tmp_path):
    """A SID-shaped folder: Sony/short, Sony/long and the three list files, with real DNG raws."""
    (tmp_path / "Sony" / "short").mkdir(parents=True)
    (tmp_path / "Sony" / "long").mkdir()
    rng = np.random.default_rng(0)
    for split, pairs in LISTS.items():
        lines = []
        for index, (short, long) in enumerate(pairs):
            light = scene(SCENE_SEEDS[split] + index)
            long_counts = BLACK + light * (WHITE - BLACK)
            ratio = exposure(long) / exposure(short)
            short_counts = BLACK + light * (WHITE - BLACK) / ratio + rng.normal(0, 4, light.shape)
            write_dng(tmp_path / "Sony" / "long" / f"{long}.dng", np.clip(long_counts, 0, WHITE))
            write_dng(tmp_path / "Sony" / "short" / f"{short}.dng", np.clip(short_counts, 0, WHITE))
            lines.append(f"./Sony/short/{short}.dng ./Sony/long/{long}.dng ISO200 F8")
        (tmp_path / f"Sony_{split}_list.txt").write_text("\n".join(lines) + "\n")
    return tmp_path


def config(root: Path, model: str, **data) -> dict:
    lamba = model == "lamba_rt"
    return {
        "task": {"name": "lowlight", "input": "bayer" if lamba else "packed"},
        "data": {"source": "sid", "root": str(root), "patch": 64, "tile": 64, **data},
        "model": {"name": "lamba_rt"} if lamba else {"name": "sid_unet", "width": 0.125},
        "loss": {"l1": 1.0},
        "optim": {"lr": 1e-4},
        "train": {"steps": 2, "batch_size": 2, "eval_every": 2, "cost_size": 64, "threads": 1},
    }


@pytest.mark.parametrize("model", ["lamba_rt", "sid_unet"])
def test_both_networks_train_on_real_raw_files(sid_root, model):
    result = train(config(sid_root, model))
    metrics = result.metrics
    assert result.stop_reason == "completed" and metrics["step"] == 2
    for key in ("train/loss", "val/psnr", "val/ssim", "val/ref_psnr", "val/delta_psnr"):
        assert np.isfinite(metrics[key]), key
    assert 0 < metrics["val/psnr"] < 60 and -1 <= metrics["val/ssim"] <= 1


def test_samples_are_the_normalised_raw_and_the_rawpy_ground_truth(sid_root):
    data = LowLightTask.prepare_data(validate_config(config(sid_root, "lamba_rt")))
    train_set, val_set = data["train"], data["val"]
    assert train_set.bayer.shape == (2, HEIGHT, WIDTH) and val_set.target.shape == (2, 3, HEIGHT, WIDTH)
    np.testing.assert_allclose(train_set.ratio, [100.0, 250.0])
    # The ground truth is the long exposure developed by rawpy as SID does, channels first.
    expected = read_ground_truth(sid_root / "Sony" / "long" / "20002_00_10s.dng").transpose(2, 0, 1)
    np.testing.assert_array_equal(val_set.target[1], expected)
    # The amplified short exposure is close to the long one (same scene, noise of a few counts).
    amplified = np.clip(val_set.bayer[0] * val_set.ratio[0], 0, 1)
    assert np.abs(amplified - scene(SCENE_SEEDS["val"])).mean() < 0.05


def test_each_split_reads_its_list_and_max_pairs_cuts_them(sid_root):
    data = LowLightTask.prepare_data(validate_config(config(sid_root, "lamba_rt", max_pairs=1)))
    assert {split: samples.names for split, samples in data.items()} == {  # the test list has its own cap
        "train": ["00001_00_0.1s.dng"], "val": ["20001_00_0.1s.dng"],
        "test": ["10001_00_0.1s.dng", "10002_00_0.1s.dng"]}
    data = LowLightTask.prepare_data(validate_config(config(sid_root, "lamba_rt", max_pairs=1, max_test_pairs=1)))
    assert [data[split].names for split in ("train", "val", "test")] == [
        ["00001_00_0.1s.dng"], ["20001_00_0.1s.dng"], ["10001_00_0.1s.dng"]]
    for split, long_name in (("val", "20001_00_10s"), ("test", "10001_00_10s")):
        expected = read_ground_truth(sid_root / "Sony" / "long" / f"{long_name}.dng").transpose(2, 0, 1)
        np.testing.assert_array_equal(data[split].target[0], expected)


def test_a_scene_in_two_lists_is_a_data_error(sid_root):
    test_list = sid_root / "Sony_test_list.txt"
    test_list.write_text(test_list.read_text() + "./Sony/short/00001_00_0.1s.dng ./Sony/long/00001_00_10s.dng\n")
    message = (f"SID scene 00001 is in both '{sid_root / 'Sony_train_list.txt'}' and '{test_list}'; the train and "
               "test splits must not share a scene (remove it from one list)")
    with pytest.raises(DataError) as error:
        LowLightTask.check_data(validate_config(config(sid_root, "lamba_rt")))
    assert str(error.value) == message


def test_frames_smaller_than_the_patch_are_a_data_error(sid_root):
    with pytest.raises(DataError, match=r"Sony_train_list.txt' crop to 128x192 .*smaller than data.patch 256"):
        LowLightTask.prepare_data(validate_config(config(sid_root, "lamba_rt", patch=256, tile=256)))


def break_folder(root: Path) -> tuple[Path, str]:
    return root / "missing", f"SID data folder '{root / 'missing'}' does not exist"


def break_list(root: Path) -> tuple[Path, str]:
    (root / "Sony_val_list.txt").unlink()
    return root, f"SID list file '{root / 'Sony_val_list.txt'}' is missing"


def break_raw(root: Path) -> tuple[Path, str]:
    path = root / "Sony" / "short" / "00002_00_0.04s.dng"
    path.write_bytes(b"not a raw file")
    return root, f"cannot read raw file '{path}'"


@pytest.mark.parametrize("breaks", [break_folder, break_list, break_raw])
def test_bad_data_is_one_line_naming_the_file(sid_root, breaks):
    root, message = breaks(sid_root)
    with pytest.raises(DataError) as error:
        train(config(root, "lamba_rt"))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


@pytest.mark.parametrize("breaks", [break_folder, break_list, break_raw])
def test_bad_data_stops_the_cli_with_exit_code_2(ray_session, sid_root, tmp_path, capsys, breaks):
    root, message = breaks(sid_root)
    args = ["--space", "lamba_rdb", "--profile", "smoke", "--set", "data.source=sid", "--set", f"data.root={root}",
            "--set", "data.patch=64", "--set", "data.tile=64", "--set", "loss.ms_ssim=0",
            "--storage", str(tmp_path / "runs"), "--verbose", "0"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and len(err.strip().splitlines()) == 1
