"""The unet_perceptual and unet_augment spaces: the study's grid, λ as both loss weights, which weights each
profile uses, the study's numbers, λ = 1 rows that train the same model, and a smoke sweep through Ray Tune."""

import math

import pytest

from analysis import load_run
from restore_core import train
from restore_core.schema import validate_config
from restore_core.tasks.anomaly_tables import threshold_table
from search_spaces import get_space
from search_spaces.unet_perceptual import REPORTED, study_rows
from sweeps.run import main

PERCEPTUAL = get_space("unet_perceptual")
AUGMENT = get_space("unet_augment")


def configs(space, profile: str, tmp_path) -> dict[str, dict]:
    overrides = {"data.root": str(tmp_path)} if profile == "paper" else {}  # paper reads real folders
    base = space.base_config(profile, overrides)
    return {space.label(trial): space.resolve(base, trial) for trial in space.grid_trials(seeds=1)}


def test_perceptual_grid_is_six_lambdas_times_two_backbones(tmp_path):
    resolved = configs(PERCEPTUAL, "quick", tmp_path)
    assert len(resolved) == 12
    for lam in ("0", "0.1", "0.3", "0.6", "0.8", "1"):
        for backbone in ("alexnet", "vgg16"):
            config = resolved[f"λ={lam}, backbone={backbone}"]
            assert config["loss"] == {"mse": float(lam), "perceptual": pytest.approx(1 - float(lam))}
            assert config["task"]["perceptual_backbone"] == backbone
    assert resolved["λ=1, backbone=vgg16"]["loss"]["perceptual"] == 0  # weight 0: the term is not built
    assert PERCEPTUAL.metric == "val/f1" and PERCEPTUAL.mode == "max"  # chosen on validation, reported on test


def test_augment_grid_is_the_three_shares_at_the_studys_best(tmp_path):
    resolved = configs(AUGMENT, "quick", tmp_path)
    assert {k: v["task"]["augment_share"] for k, v in resolved.items()} == {
        "share=0": 0.0, "share=1/3": pytest.approx(1 / 3), "share=1": 1.0}
    for config in resolved.values():
        assert config["loss"] == {"mse": 0.3, "perceptual": 0.7} and config["task"]["perceptual_backbone"] == "vgg16"


@pytest.mark.parametrize("space", [PERCEPTUAL, AUGMENT], ids=lambda s: s.name)
@pytest.mark.parametrize("profile, weights", [("smoke", "random"), ("quick", "random"), ("paper", "imagenet")])
def test_profiles_say_which_weights_they_use(space, profile, weights, tmp_path, monkeypatch):
    for label, config in configs(space, profile, tmp_path).items():
        assert config["task"]["perceptual_weights"] == weights, label
        if weights == "random":
            cfg = validate_config(config)
            assert cfg.data.patch % 2 ** config["model"]["depth"] == 0
    assert space.base_config("quick")["data"]["patch"] == 64  # small crops keep VGG16 affordable on a CPU


def test_quick_augments_a_third_and_paper_follows_the_study(tmp_path):
    quick = PERCEPTUAL.base_config("quick")
    assert quick["task"]["augment_share"] == pytest.approx(1 / 3) and "input_mean" not in quick["task"]
    paper = PERCEPTUAL.base_config("paper", {"data.root": str(tmp_path)})
    assert paper["task"]["augment_share"] == 0 and paper["data"]["source"] == "folders"
    # the study's dataset statistics (its README's MEAN and STD) and scores from the training loss
    assert paper["task"]["input_mean"] == [0.42343804240226746, 0.5342181324958801, 0.4620889723300934]
    assert paper["task"]["input_std"] == [0.04519784078001976, 0.05054565891623497, 0.046623989939689636]
    assert paper["task"]["score"] == "loss"


def test_reported_numbers_are_the_studys():
    assert set(PERCEPTUAL.reported) <= set(configs(PERCEPTUAL, "quick", None))
    # UNET_MSE_FACTOR_10 ran with mse_factor 0.10: its rows are λ = 0.1; pure MSE (λ = 1) has none
    assert "λ=0.1, backbone=alexnet" in PERCEPTUAL.reported and not any(k.startswith("λ=1,") for k in REPORTED)
    assert PERCEPTUAL.reported["λ=0.1, backbone=alexnet"]["test/best_f1/tpr"] == 1.0
    assert sorted(REPORTED) == sorted([f"λ={lam}, backbone=alexnet" for lam in ("0", "0.1", "0.3", "0.6", "0.8")]
                                      + [f"λ={lam}, backbone=vgg16" for lam in ("0", "0.3", "0.6")])
    study = study_rows(REPORTED["λ=0.3, backbone=vgg16"])
    assert (study["test/best_f1/tp"], study["test/best_f1/fp"], study["test/best_f1/tn"],
            study["test/best_f1/fn"]) == (128, 623, 3042, 1)
    vgg = PERCEPTUAL.reported["λ=0.3, backbone=vgg16"]
    assert vgg["test/f1"] == pytest.approx(2 * 128 / (2 * 128 + 623 + 1), abs=1e-4)
    # Only F1 and the rates are compared with a run: counts and thresholds depend on the study's test set and score.
    assert len(vgg) == 1 + 4 * 3 and vgg["test/tnr95/tnr"] == 0.7834 and "test/tnr95/tp" not in vgg
    best = max(PERCEPTUAL.reported, key=lambda label: PERCEPTUAL.reported[label]["test/f1"])
    assert best == "λ=0.3, backbone=vgg16"  # the study's best, where unet_augment fixes λ
    assert AUGMENT.reported["share=1/3"]["test/tnr95/tpr"] == 1.0


def test_lambda_one_rows_train_the_same_model():
    base = PERCEPTUAL.base_config("smoke")
    results = [train(PERCEPTUAL.resolve(base, {"loss": "1", "task.perceptual_backbone": b, "seed": 0}))
               for b in ("alexnet", "vgg16")]
    numbers = [{k: v for k, v in r.metrics.items() if isinstance(v, float) and not k.startswith("time/")
                and "latency" not in k} for r in results]
    assert numbers[0] == numbers[1] and math.isfinite(numbers[0]["val/f1"])
    assert [r.metrics["perceptual_weights"] for r in results] == [
        "alexnet: none (no perceptual term)", "vgg16: none (no perceptual term)"]


def test_augment_sweep_end_to_end(ray_session, tmp_path):
    assert main(["--space", "unet_augment", "--profile", "smoke", "--storage", str(tmp_path), "--name", "grid",
                 "--verbose", "0"]) == 0
    frame = load_run(str(tmp_path / "unet_augment" / "grid"))
    assert len(frame) == 3 and set(frame["label"]) == {"share=0", "share=1/3", "share=1"}
    assert (frame["status"] == "completed").all()
    assert frame["test/f1"].between(0, 1).all() and frame["test/auc"].between(0, 1).all()
    assert (frame["config/task.perceptual_weights"] == "random").all()
    table = threshold_table(frame)
    assert len(table.splitlines()) == 2 + 3 * 4 and table.count("| random |") == 3
