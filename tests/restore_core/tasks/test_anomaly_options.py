"""The anomaly task's study options: scores from the training loss, the study's input normalisation (where the U-Net,
the MSE and the scores work), what the feature network is fed, and the feature layers."""

import numpy as np
import pytest
import torch

from restore_core.errors import ConfigError
from restore_core.models.feature_nets import IMAGENET_MEAN, IMAGENET_STD
from restore_core.schema import validate_config
from restore_core.tasks.anomaly import AnomalyTask
from search_spaces import get_space

SPACE = get_space("unet_perceptual")


def build(lam="0.3", backbone="alexnet", **task):
    config = SPACE.resolve(SPACE.base_config("smoke"), {"loss": lam, "task.perceptual_backbone": backbone, "seed": 0})
    config["task"] = {**config["task"], **task}
    cfg = validate_config(config)
    torch.manual_seed(0)
    return AnomalyTask(cfg, AnomalyTask.prepare_data(cfg), torch.device("cpu"))


def per_image(task, outputs, images, fn):
    return torch.stack([fn(o[None], i[None]) for o, i in zip(outputs, images)])


@pytest.mark.parametrize("lam", ["0", "0.3", "1"])
def test_loss_score_is_the_per_image_training_loss(lam):
    task = build(lam, score="loss")
    outputs, scores = task.reconstruct(task.data.test)
    images = torch.from_numpy(task.data.test)
    mse = (outputs - images).pow(2).mean(dim=(1, 2, 3))
    weight = float(lam)
    expected = weight * mse
    if weight < 1:
        expected = expected + (1 - weight) * per_image(task, outputs, images, task.loss.terms["perceptual"])
    torch.testing.assert_close(scores, expected)
    if lam == "1":  # no perceptual term: the loss score is the MSE score
        torch.testing.assert_close(scores, build(lam, score="mse").reconstruct(task.data.test)[1])


def test_normalised_inputs_move_the_loss_and_the_scores_into_the_studys_space():
    plain = build("1", score="mse")
    scaled = build("1", score="mse", input_mean=[0.5, 0.5, 0.5], input_std=[0.25, 0.25, 0.25])
    images = torch.from_numpy(plain.data.val)
    assert torch.allclose(scaled.to_unit(scaled.normalise(images)), images, atol=1e-6)
    assert torch.allclose(scaled.normalise(images), (images - 0.5) * 4)
    # the same reconstruction scores 16 times higher in a space with std 1/4 (the MSE is computed there)
    for task in (plain, scaled):
        task.modules["model"].load_state_dict(plain.modules["model"].state_dict())
    inputs = images[:2]
    reconstruction = (inputs * 0.9 + 0.05).clamp(0, 1)
    mse_plain = (reconstruction - inputs).pow(2).mean()
    total, parts = scaled.weighted_loss(scaled.normalise(reconstruction), scaled.normalise(inputs))
    assert total.item() == pytest.approx(16 * mse_plain.item(), rel=1e-5) and set(parts) == {"mse"}
    batch = scaled.sample_batch(np.random.default_rng(1))
    assert batch[0].min() >= 0 and batch[0].max() <= 1  # batches stay images; the task normalises them itself
    assert scaled.train_step(batch)["loss"].item() > 0


def test_the_feature_network_sees_images_or_the_normalised_tensors():
    images = build("0.3", input_mean=[0.4, 0.5, 0.45], input_std=[0.05, 0.05, 0.05])
    literal = build("0.3", input_mean=[0.4, 0.5, 0.45], input_std=[0.05, 0.05, 0.05], perceptual_input="normalized")
    x = torch.from_numpy(images.data.val[:2])
    normalised = images.normalise(x)
    assert torch.allclose(images.feature_input(normalised), x, atol=1e-6)
    fed = literal.feature_input(normalised)  # FeatureNet applies (fed − ImageNet mean) / ImageNet std
    seen = (fed - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(seen, normalised, atol=1e-4)
    plain = build("0.3")
    assert plain.feature_input(normalised) is normalised  # no normalisation: images go in as they are


def test_feature_layers_are_selectable_and_checked():
    assert build("0.3").features.net.taps == ["relu1", "relu2", "relu3", "relu4", "relu5"]
    assert build("0.3", "vgg16").features.net.taps == ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    assert build("0.3", perceptual_layers=["relu5"]).features.net.taps == ["relu5"]
    with pytest.raises(ConfigError, match="task.perceptual_layers of alexnet must be among relu1, relu2"):
        build("0.3", perceptual_layers=["relu2_2"])
    with pytest.raises(ConfigError, match="task.input_mean and task.input_std need 3 values"):
        build("0.3", input_mean=[0.5], input_std=[0.2])
    with pytest.raises(ConfigError, match="task.input_std must be a finite number > 0"):
        build("0.3", input_mean=[0.5, 0.5, 0.5], input_std=[0.2, 0.0, 0.2])
