"""The anomaly task: deterministic data with disjoint splits, augmentation of the stated share, a smoke trial with
finite threshold metrics, the threshold table, real folders, and the ImageNet weight check (CLI exit 2, tmp file)."""

import math

import cv2
import numpy as np
import pandas as pd
import pytest
import torch

from restore_core import train
from restore_core.errors import DataError, UserError
from restore_core.models.feature_nets import FeatureNet
from restore_core.schema import validate_config
from restore_core.tasks.anomaly import RULES, AnomalyTask
from restore_core.tasks.anomaly_data import augment_batch
from restore_core.tasks.anomaly_tables import threshold_table
from search_spaces import get_space
from sweeps.run import main

SPACE = get_space("unet_perceptual")
NAMES = ("threshold", "tp", "fp", "tn", "fn", "tpr", "tnr", "f1")


def smoke_config(lam: str = "0.3", backbone: str = "alexnet", **task) -> dict:
    config = SPACE.resolve(SPACE.base_config("smoke"), {"loss": lam, "task.perceptual_backbone": backbone, "seed": 0})
    config["task"] = {**config["task"], **task}
    return config


def test_synthetic_data_is_deterministic_with_disjoint_splits():
    cfg = validate_config(smoke_config())
    a, b = AnomalyTask.prepare_data(cfg), AnomalyTask.prepare_data(cfg)
    for name in ("train", "val", "val_labels", "test", "test_labels"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.train.shape == (4, 3, 32, 32) and a.val.shape == a.test.shape == (6, 3, 32, 32)
    assert a.val_labels.tolist() == a.test_labels.tolist() == [0, 0, 0, 1, 1, 1]
    # No tile is in two splits: compare every image's bytes (spills only brighten parts of an anomalous tile).
    normal = [img.tobytes() for img in np.concatenate([a.train, a.val[:3], a.test[:3]])]
    assert len(set(normal)) == len(normal)
    other = validate_config({**smoke_config(), "data": {**smoke_config()["data"], "seed": 1}})
    c = AnomalyTask.prepare_data(other)
    np.testing.assert_array_equal(a.val[:3], c.val[:3])  # normal images do not depend on the seed
    assert not np.array_equal(a.val[3:], c.val[3:])  # the spills do
    assert (a.test[3:].max(axis=(1, 2, 3)) > 0.85).all()  # every anomalous tile has a bright artefact


@pytest.mark.parametrize("share, changed", [(0.0, 0), (1 / 3, 2), (0.5, 3), (1.0, 6)])
def test_augmentation_applies_to_the_stated_share_and_is_deterministic(share, changed):
    images = np.random.default_rng(0).uniform(0.0, 0.6, (6, 3, 32, 32)).astype(np.float32)
    out, chosen = augment_batch(images, share, np.random.default_rng(7))
    again, chosen_again = augment_batch(images, share, np.random.default_rng(7))
    np.testing.assert_array_equal(out, again)
    np.testing.assert_array_equal(chosen, chosen_again)
    differs = [not np.array_equal(o, i) for o, i in zip(out, images)]
    assert sum(differs) == changed and np.flatnonzero(differs).tolist() == chosen.tolist()
    assert all(out[i].max() > 0.85 for i in chosen)  # white artefacts on dark noise
    assert images.max() <= 0.6  # the input batch (the target) is left clean


def test_batches_keep_the_clean_target():
    cfg = validate_config(smoke_config(augment_share=0.5))
    task = AnomalyTask(cfg, AnomalyTask.prepare_data(cfg), torch.device("cpu"))
    inputs, target = task.sample_batch(np.random.default_rng([0, 1]))
    again, _ = task.sample_batch(np.random.default_rng([0, 1]))
    torch.testing.assert_close(inputs, again)
    differs = [(i != t).any().item() for i, t in zip(inputs, target)]
    assert sum(differs) == 1  # round(0.5 · batch 2)
    crops = {c.numpy().tobytes() for c in target}
    flips = [img[:, ::fy, ::fx] for img in task.data.train for fy in (1, -1) for fx in (1, -1)]
    assert crops <= {np.ascontiguousarray(f).tobytes() for f in flips}  # targets are (flipped) training tiles


def test_smoke_trial_reports_finite_threshold_metrics():
    result = train(smoke_config())
    assert result.stop_reason == "completed" and result.metrics["step"] == 4
    assert not any(key.startswith("test/") for row in result.history for key in row)  # training never sees test
    cfg = validate_config(smoke_config())
    task = AnomalyTask(cfg, AnomalyTask.prepare_data(cfg), torch.device("cpu"))
    metrics = task.evaluate("test").metrics
    assert 0 <= metrics["test/f1"] <= 1 and 0 <= metrics["test/auc"] <= 1 and 0 <= result.metrics["val/auc"] <= 1
    assert metrics["test/f1"] == metrics["test/best_f1/f1"]
    for rule in RULES:
        values = [metrics[f"test/{rule}/{name}"] for name in NAMES]
        assert all(math.isfinite(v) for v in values), rule
        tp, fp, tn, fn = values[1:5]
        assert tp + fn == 3 and fp + tn == 3  # three anomalous and three normal test tiles
    assert math.isfinite(result.metrics["train/loss_perceptual"]) and math.isfinite(result.metrics["val/psnr"])
    assert metrics["perceptual_weights"] == "alexnet: random init (no pretrained weights)"


def test_evaluation_table_and_perceptual_score():
    cfg = validate_config(smoke_config(score="mse+perceptual"))
    torch.manual_seed(0)
    task = AnomalyTask(cfg, AnomalyTask.prepare_data(cfg), torch.device("cpu"))
    evaluation = task.evaluate("test")
    rows = evaluation.tables["thresholds"]
    assert [r["rule"] for r in rows] == list(RULES)
    assert rows[0]["TP"] == evaluation.metrics["test/best_f1/tp"] and rows[0]["F1"] == evaluation.metrics["test/f1"]
    outputs, scores = task.reconstruct(task.data.test)
    inputs = torch.from_numpy(task.data.test)
    mse = (outputs - inputs).pow(2).mean(dim=(1, 2, 3))
    with torch.no_grad():
        perceptual = torch.stack([task.features(o[None], i[None]) for o, i in zip(outputs, inputs)]).reshape(-1)
    assert (perceptual > 0).all()
    torch.testing.assert_close(scores, mse + perceptual)  # the score: pixel MSE plus the perceptual distance


def test_lambda_one_builds_no_feature_network():
    cfg = validate_config(smoke_config(lam="1", backbone="vgg16"))
    task = AnomalyTask(cfg, AnomalyTask.prepare_data(cfg), torch.device("cpu"))
    assert set(task.loss.terms) == {"mse"} and task.features is None
    assert task.weights_used == "vgg16: none (no perceptual term)"


def test_threshold_table_from_a_run_frame():
    rows = []
    for label, seed, tp, fp in (("λ=0.3, backbone=vgg16", 0, 28, 5), ("λ=1, backbone=alexnet", 0, 20, 1)):
        row = {"label": label, "seed": seed, "status": "completed", "config/task.perceptual_weights": "random",
               "test/auc": 0.875}
        for i, rule in enumerate(RULES):
            tn, fn = 60 - fp - i, 30 - tp
            row.update({f"test/{rule}/threshold": 0.01 * (i + 1), f"test/{rule}/tp": tp,
                        f"test/{rule}/fp": fp + i, f"test/{rule}/tn": tn, f"test/{rule}/fn": fn,
                        f"test/{rule}/tpr": tp / 30, f"test/{rule}/tnr": tn / 60,
                        f"test/{rule}/f1": 2 * tp / (2 * tp + fp + i + fn)})
        rows.append(row)
    rows.append({"label": "λ=0, backbone=vgg16", "seed": 0, "status": "error"})
    lines = threshold_table(pd.DataFrame(rows)).splitlines()
    assert lines[0].split(" | ")[4:9] == ["rule", "threshold", "TP", "FP", "TN"]
    body = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert len(body) == 9  # two blocks of four rules, one row for the failed trial
    assert body[0][0] == "λ=0, backbone=vgg16" and "not evaluated on test (error)" in body[0]
    first = body[1]
    assert first[:4] == ["λ=0.3, backbone=vgg16", "0", "random", "0.875"]
    assert first[4:] == ["best F1", "0.01", "28", "5", "55", "2", "0.9333", "0.9167", "0.8889"]
    assert body[2][:4] == ["", "", "", ""] and body[2][4] == "TPR ≥ 95 %" and body[2][7] == "6"
    assert body[4][4] == "mean of the two" and body[4][8] == "52"
    assert body[5][:2] == ["λ=1, backbone=alexnet", "0"] and body[5][6:10] == ["20", "1", "59", "10"]


def test_folders_source(tmp_path):
    rng = np.random.default_rng(0)
    for label, count in (("normal", 7), ("anomalous", 3)):
        (tmp_path / label).mkdir()
        for i in range(count):
            cv2.imwrite(str(tmp_path / label / f"{i}.png"), rng.integers(0, 256, (40, 50, 3), dtype=np.uint8))
    config = smoke_config()
    config["data"] = {**config["data"], "source": "folders", "root": str(tmp_path), "n_val_normal": 2,
                      "n_test_normal": 2, "n_val_anomalous": 1}
    data = AnomalyTask.prepare_data(validate_config(config))
    assert data.train.shape == (3, 3, 32, 32) and data.val_labels.tolist() == [0, 0, 1]
    assert data.test_labels.tolist() == [0, 0, 1, 1]
    config["data"]["n_val_anomalous"] = 3
    with pytest.raises(DataError, match="anomalous' has 3 images; data.n_val_anomalous = 3 leaves none"):
        AnomalyTask.prepare_data(validate_config(config))
    (tmp_path / "anomalous" / "0.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="0.png' is corrupt"):
        AnomalyTask.prepare_data(validate_config(config))


def test_imagenet_without_the_file_fails_in_the_cli_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code = main(["--space", "unet_perceptual", "--profile", "smoke", "--set", "task.perceptual_weights=imagenet",
                 "--storage", str(tmp_path / "runs"), "--name", "x", "--verbose", "0"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert "alexnet-owt-7be5be79.pth" in err and str(tmp_path / "torch" / "hub" / "checkpoints") in err
    assert not (tmp_path / "runs" / "unet_perceptual" / "x").exists()  # stopped before the sweep


def test_imagenet_file_in_the_hub_cache_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    torch.manual_seed(123)
    saved = FeatureNet("alexnet").state_dict()
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save(saved, tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth")
    # The file is not torchvision's, so its sha256 cannot match the name: the default check refuses it ...
    cfg = validate_config(smoke_config(perceptual_weights="imagenet"))
    with pytest.raises(UserError, match="sha256"):
        AnomalyTask(cfg, AnomalyTask.prepare_data(cfg), torch.device("cpu"))
    # ... and without the check the trial loads it.
    config = smoke_config(perceptual_weights="imagenet", perceptual_check_hash=False)
    cfg = validate_config(config)
    task = AnomalyTask(cfg, AnomalyTask.prepare_data(cfg), torch.device("cpu"))
    for key, value in saved.items():
        torch.testing.assert_close(task.features.net.state_dict()[key], value)
    assert task.features is task.loss.terms["perceptual"]
    result = train(config)
    assert result.metrics["perceptual_weights"] == "alexnet: imagenet (alexnet-owt-7be5be79.pth)"
