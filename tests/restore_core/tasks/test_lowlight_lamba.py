"""The low-light task with Lamba & Mitra's network: the loss terms of the loss study on known inputs, one set of
samples served to both networks, the config checks, and gradients reaching every layer."""

import subprocess

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchmetrics.functional.image import multiscale_structural_similarity_index_measure

from restore_core.data.lowlight import pack_bayer
from restore_core.errors import ConfigError
from restore_core.losses import WeightedLoss
from restore_core.schema import validate_config
from restore_core.tasks.lowlight import LowLightTask
from tests.conftest import ROOT
from tests.worker_forks import python_command

SIZE = 192  # the smallest multiple of 32 that MS-SSIM's five scales accept
C1 = 0.01**2  # SSIM's luminance constant for data range 1
LAST_SCALE_WEIGHT = 0.1333  # MS-SSIM's weight of the coarsest scale (Wang et al.)


def images(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 3, SIZE, SIZE, generator=generator)
    pred = (target + 0.1 * torch.randn(2, 3, SIZE, SIZE, generator=generator)).clamp(0, 1)
    return pred, target


@pytest.mark.parametrize("weights", [{"l1": 1}, {"ssim": 1}, {"ms_ssim": 1}, {"l1": 1, "ms_ssim": 0.2},
                                     {"l1": 0.8, "ms_ssim": 0.2}])
def test_every_loss_of_the_study_is_zero_for_identical_images(weights):
    _, target = images()
    total, parts = WeightedLoss(weights)(target, target.clone())
    assert total.item() == pytest.approx(0.0, abs=1e-5)
    assert set(parts) == set(weights)


def test_l1_of_a_known_offset():
    target = torch.full((1, 3, 32, 32), 0.25)
    total, _ = WeightedLoss({"l1": 1})(target + 0.1, target)
    assert total.item() == pytest.approx(0.1, abs=1e-6)


def test_ssim_and_ms_ssim_of_two_flat_images_match_the_formula():
    # Flat images have no variance, so SSIM is its luminance term (2ab + C1) / (a² + b² + C1) and MS-SSIM that term
    # to the power of the coarsest scale's weight (the contrast-structure terms are 1).
    a, b = torch.full((1, 3, SIZE, SIZE), 0.5), torch.full((1, 3, SIZE, SIZE), 0.25)
    luminance = (2 * 0.5 * 0.25 + C1) / (0.5**2 + 0.25**2 + C1)
    _, parts = WeightedLoss({"ssim": 1, "ms_ssim": 1})(a, b)
    assert parts["ssim"].item() == pytest.approx(1 - luminance, abs=1e-6)
    assert parts["ms_ssim"].item() == pytest.approx(1 - luminance**LAST_SCALE_WEIGHT, abs=1e-6)


@pytest.mark.parametrize("l1_weight", [1.0, 0.8])
def test_combined_loss_equals_its_terms_computed_separately(l1_weight):
    pred, target = images(1)
    total, parts = WeightedLoss({"l1": l1_weight, "ms_ssim": 0.2})(pred, target)
    l1 = F.l1_loss(pred, target)
    ms_ssim = multiscale_structural_similarity_index_measure(pred, target, data_range=1.0, kernel_size=11, sigma=1.5)
    assert parts["l1"].item() == pytest.approx(l1.item(), rel=1e-6)
    assert total.item() == pytest.approx(l1_weight * l1.item() + 0.2 * (1 - ms_ssim.item()), rel=1e-5)
    assert 0.05 < l1.item() < 0.1 and 0.5 < ms_ssim.item() < 1  # a real difference, not a degenerate case


def config(task_input: str = "bayer", model: dict | None = None, **data) -> dict:
    return {
        "task": {"name": "lowlight", "input": task_input},
        "data": {"tile": 64, "patch": 64, "n_train": 2, "n_val": 2, **data},
        "model": model or {"name": "lamba_rt"},
        "loss": {"l1": 1.0},
        "optim": {"lr": 1e-3},
        "train": {"steps": 2, "batch_size": 2},
    }


@pytest.fixture(scope="module")
def samples():
    return LowLightTask.prepare_data(validate_config(config()))


def test_both_networks_are_served_from_the_same_samples(samples):
    lamba = LowLightTask(validate_config(config()), samples, torch.device("cpu"))
    sid = LowLightTask(validate_config(config("packed", {"name": "sid_unet", "width": 0.125})), samples,
                       torch.device("cpu"))
    bayer, ratio, target = lamba.sample_batch(np.random.default_rng(7))
    bayer_sid, ratio_sid, target_sid = sid.sample_batch(np.random.default_rng(7))
    assert torch.equal(bayer, bayer_sid) and torch.equal(ratio, ratio_sid) and torch.equal(target, target_sid)
    plane, packed = lamba.model_input(bayer, ratio), sid.model_input(bayer, ratio)
    assert plane.shape == (2, 1, 64, 64) and packed.shape == (2, 4, 32, 32)
    torch.testing.assert_close(packed, pack_bayer(plane[:, 0]))
    # amplified by the exposure ratio and clipped at 1, as SID does
    torch.testing.assert_close(plane[:, 0], (bayer * ratio.view(-1, 1, 1)).clamp(max=1))
    assert lamba.modules["model"](plane).shape == sid.modules["model"](packed).shape == target.shape


def test_gradients_reach_every_layer_of_lamba_rt(samples):
    torch.manual_seed(0)
    task = LowLightTask(validate_config(config()), samples, torch.device("cpu"))
    model = task.modules["model"]
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    losses = task.train_step(task.sample_batch(np.random.default_rng(0)))
    assert torch.isfinite(losses["loss"]) and losses["loss"].item() > 0
    without_gradient = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert without_gradient == []
    unchanged = [n for n, p in model.named_parameters() if torch.equal(p.detach(), before[n])]
    assert unchanged == []
    metrics = task.evaluate().metrics
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics["val/delta_psnr"] == pytest.approx(metrics["val/psnr"] - metrics["val/ref_psnr"])


def test_evaluation_in_chunks_matches_one_forward(samples):
    cfg = config(n_val=3)
    data = LowLightTask.prepare_data(validate_config(cfg))
    task = LowLightTask(validate_config(cfg), data, torch.device("cpu"))  # batch 2: chunks of 2 and 1
    evaluation = task.evaluate()
    with torch.no_grad():
        whole = task.modules["model"].eval()(task.eval_set("val")["input"]).clamp(0, 1)
    torch.testing.assert_close(evaluation.outputs, whole)
    assert len(evaluation.outputs) == 3


@pytest.mark.parametrize(
    "cfg, message",
    [
        (config("packed"), "model 'lamba_rt' does not take task.input=packed ((B, 4, H/2, W/2) packed raw); "
                           "try task.input=bayer"),
        (config("bayer", {"name": "sid_unet", "width": 0.125}),
         "model 'sid_unet' does not take task.input=bayer ((B, 1, H, W) Bayer plane); try task.input=packed"),
        (config(patch=48), "data.patch (48) must be a multiple of 32 for model 'lamba_rt'"),
        (config(tile=80, patch=64), "data.tile (80) must be a multiple of 32 for model 'lamba_rt'"),
    ],
)
def test_configs_the_networks_cannot_take_fail_before_training(cfg, message):
    with pytest.raises(ConfigError) as error:
        validate_config(cfg)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_ms_ssim_with_a_small_patch_stops_the_cli_with_one_line(forked_workers):
    args = ["--space", "lamba_loss", "--profile", "smoke", "--set", "data.patch=128", "--set", "data.tile=128",
            "--dry-run"]
    proc = subprocess.run([*python_command(), "sweeps/run.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2
    assert proc.stderr == "error: loss.ms_ssim needs data.patch >= 161 (5 scales of an 11-pixel window); got 128\n"
