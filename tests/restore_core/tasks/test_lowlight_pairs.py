"""The low-light task on the user's own sRGB pairs (``data.source: pairs``, ``root/short/`` and ``root/long/``): taken
back to linear light and mosaicked as raw, with the ratio estimated from each pair; the last pairs by name held out
for test and validation; the folders checked without reading an image."""

from __future__ import annotations

import math
import shutil

import cv2
import numpy as np
import pytest

from restore_core.data.lowlight import linear_to_srgb, srgb_to_linear
from restore_core.errors import ConfigError, DataError
from restore_core.loop import train
from restore_core.schema import validate_config
from restore_core.tasks.lowlight import LowLightTask
from restore_core.tasks.lowlight_data import prepare_samples
from sweeps.run import main
from tests.conftest import free_port

DARKER = 20.0  # the short exposures hold 1/20 of the long ones' light


def write_pairs(root, count: int = 6, size: tuple[int, int] = (72, 80)) -> list[np.ndarray]:
    """``count`` long exposures (smooth random colour images) and their short exposures, 1/DARKER of the light,
    as 8-bit PNGs named p0..; returns the long exposures as written (sRGB in [0, 1])."""
    rng = np.random.default_rng(0)
    (root / "short").mkdir(parents=True)
    (root / "long").mkdir()
    longs = []
    for i in range(count):
        small = rng.uniform(0.2, 0.9, (size[0] // 8, size[1] // 8, 3)).astype(np.float32)
        long = cv2.resize(small, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
        short = linear_to_srgb(srgb_to_linear(long) / DARKER)
        for folder, image in (("long", long), ("short", short)):
            pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
            cv2.imwrite(str(root / folder / f"p{i}.png"), cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
        longs.append(np.round(np.clip(long, 0, 1) * 255) / 255)
    return longs


def config(root, **data) -> dict:
    return {"task": {"name": "lowlight"}, "data": {"source": "pairs", "root": str(root), "n_val": 2, "n_test": 2,
                                                   "patch": 32, **data},
            "model": {"name": "sid_unet", "width": 0.125}, "loss": {"l1": 1.0},
            "train": {"steps": 2, "batch_size": 1, "eval_every": 2, "cost_size": 64, "threads": 1}}


def test_pairs_become_raw_samples_with_their_ratio(tmp_path):
    longs = write_pairs(tmp_path)
    samples = prepare_samples(validate_config(config(tmp_path)).data)
    train_split, val, test = samples["train"], samples["val"], samples["test"]
    assert {split: samples[split].bayer.shape for split in samples} == {split: (2, 64, 64) for split in
                                                                       ("train", "val", "test")}  # multiples of 64
    assert train_split.target.shape == (2, 3, 64, 64)
    # by name: the last two pairs are the test split, the two before them validate, the rest train
    assert (train_split.names, val.names, test.names) == (["p0", "p1"], ["p2", "p3"], ["p4", "p5"])
    np.testing.assert_allclose(val.target[1], longs[3][:64, :64].transpose(2, 0, 1), atol=1e-6)
    np.testing.assert_allclose(test.target[1], longs[5][:64, :64].transpose(2, 0, 1), atol=1e-6)
    # the ratio of the light in the pair, estimated from its mean linear brightness (8-bit rounding aside)
    assert np.allclose(np.concatenate([train_split.ratio, val.ratio, test.ratio]), DARKER, rtol=0.1)
    # the short exposure as raw: its linear light, mosaicked (the red plane is red's linear light, undarkened)
    bayer = val.bayer[1]  # (H, W), RGGB
    assert math.isclose(float(bayer[0::2, 0::2].mean() * val.ratio[1]),
                        float(srgb_to_linear(longs[3][:64, :64, 0])[0::2, 0::2].mean()), rel_tol=0.1)


def test_a_sweep_config_trains_on_the_pairs(tmp_path):
    write_pairs(tmp_path)
    result = train(config(tmp_path))
    assert result.stop_reason == "completed" and math.isfinite(result.metrics["val/psnr"])
    assert 10 < result.metrics["val/ref_psnr"] < 40  # the amplified short exposure against the long one


@pytest.mark.parametrize("make, message", [
    (lambda root: (write_pairs(root), shutil.rmtree(root / "long")), "target folder '{root}/long'"),
    (lambda root: (write_pairs(root), (root / "long" / "p2.png").unlink()),
     "1 input image(s) in '{root}' have no namesake in 'long/': p2"),
    (lambda root: write_pairs(root, count=4),
     "has 4 short/long pairs; data.n_val=2 and data.n_test=2 leave none for training"),
])
def test_a_layout_that_does_not_fit_is_named_before_any_image_is_read(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(DataError) as error:
        LowLightTask.check_data(validate_config(config(tmp_path)))
    assert message.format(root=tmp_path) in str(error.value)


def test_pairs_of_two_sizes_are_refused_naming_the_pair(tmp_path):
    write_pairs(tmp_path)
    cv2.imwrite(str(tmp_path / "long" / "p1.png"), np.zeros((70, 80, 3), np.uint8))
    with pytest.raises(DataError, match=r"^'.*/short/p1.png' is 72x80 but its target '.*/long/p1.png' is 70x80"):
        prepare_samples(validate_config(config(tmp_path)).data)


def test_data_root_goes_with_a_source_that_reads_it():
    with pytest.raises(ConfigError, match="data.source=pairs needs data.root, the folder that holds short/ and long/"):
        validate_config({**config("x"), "data": {"source": "pairs"}})
    with pytest.raises(ConfigError, match="data.root is read only with data.source=sid or pairs"):
        validate_config({**config("x"), "data": {"source": "synthetic", "root": "/data"}})


def test_the_dry_run_checks_the_layout_without_reading_images(tmp_path, capsys):
    write_pairs(tmp_path / "pairs")
    (tmp_path / "pairs" / "short" / "p0.png").write_bytes(b"not an image")  # read only when the sweep loads the data
    argv = ["--space", "lsid_lr", "--profile", "smoke", "--set", "data.source=pairs", "--set",
            f"data.root={tmp_path / 'pairs'}", "--set", "data.n_val=2", "--set", "data.n_test=2",
            "--storage", str(tmp_path / "runs"),
            "--dashboard-port", str(free_port()), "--dry-run"]
    assert main(argv) == 0
    assert "10 trials:" in capsys.readouterr().out
    (tmp_path / "pairs" / "long" / "p0.png").unlink()
    assert main(argv) == 2
    assert "have no namesake in 'long/': p0" in capsys.readouterr().err
