"""The TCFL task: triplet batches, one full step of both networks (LSGAN and WGAN), the options, metrics with
reference and delta, the BM3D/NLM baselines, and the loop's NaN stop on a real divergence."""

import math

import numpy as np
import pytest
import torch

from restore_core import train
from restore_core.errors import ConfigError
from restore_core.schema import validate_config
from restore_core.tasks import get_task
from restore_core.tasks.tcfl_metrics import QUALITY_METRICS

CPU = torch.device("cpu")


def tiny(task=None, loss=None, **sections):
    """A TCFL config small enough for a test: DnCNN-4 with 8 features, PatchGAN with ndf 8, 32×32 crops."""
    config = {
        "task": {"name": "tcfl", "discriminator": {"name": "patchgan_in", "ndf": 8}, **(task or {})},
        "data": {"tile": 32, "patch": 32, "n_scenes": 3, "n_clean": 3, "n_val": 3},
        "model": {"name": "dncnn", "depth": 4, "features": 8},
        "loss": loss or {},
        "optim": {"lr": 1e-3, "betas": [0.5, 0.999]},
        "train": {"steps": 4, "batch_size": 2, "eval_every": 2, "cost_size": 32, "log_images": 2},
    }
    for name, values in sections.items():
        config[name] = {**config[name], **values}
    return config


def build(config):
    cfg = validate_config(config)
    cls = get_task("tcfl")
    torch.manual_seed(0)
    return cls(cfg, cls.prepare_data(cfg), CPU)


def snapshot(module):
    return [p.detach().clone() for p in module.parameters()]


def changed(module, before):
    return sum(not torch.equal(p, b) for p, b in zip(module.parameters(), before))


def locate(crop, images):
    """(image index, y, x, flips) of every place where ``crop`` (possibly flipped) lies in one of ``images``."""
    p = crop.shape[0]
    found = []
    for index, image in enumerate(images):
        for y in range(image.shape[0] - p + 1):
            for x in range(image.shape[1] - p + 1):
                window = image[y : y + p, x : x + p]
                for flips, view in (((0, 0), window), ((1, 0), window[::-1]), ((0, 1), window[:, ::-1]),
                                    ((1, 1), window[::-1, ::-1])):
                    if np.array_equal(view, crop):
                        found.append((index, y, x, flips))
    return found


def test_batch_is_two_views_of_one_scene_and_an_unpaired_clean_crop():
    task = build(tiny(data={"tile": 40}))
    noisy_a, noisy_b, clean = task.sample_batch(np.random.default_rng(0))
    assert noisy_a.shape == noisy_b.shape == clean.shape == (2, 1, 32, 32)
    views = [view for scene in task.data.noisy for view in scene]  # scene s, acquisition r -> index 2 s + r
    for i in range(2):
        (a,) = locate(noisy_a[i, 0].numpy(), views)
        (b,) = locate(noisy_b[i, 0].numpy(), views)
        assert a[0] // 2 == b[0] // 2 and a[0] != b[0]  # the same scene, two different acquisitions
        assert a[1:] == b[1:]  # cropped at the same place with the same flips
        assert len(locate(clean[i, 0].numpy(), task.data.clean)) == 1
        assert not locate(clean[i, 0].numpy(), views)
    again = task.sample_batch(np.random.default_rng(0))
    assert all(torch.equal(x, y) for x, y in zip((noisy_a, noisy_b, clean), again))


@pytest.mark.parametrize("gan_mode", ["lsgan", "wgan"])
def test_one_step_updates_generator_and_discriminator_with_finite_losses(gan_mode):
    task = build(tiny({"gan_mode": gan_mode}, loss={"tv": 0.5}, optim={"lr": 1e-3}))
    generator, discriminator = task.modules["generator"], task.modules["discriminator"]
    g_before, d_before = snapshot(generator), snapshot(discriminator)
    assert max(p.abs().max().item() for p in d_before) > 1e-2  # N(0, 0.02) init: far beyond the clip
    losses = task.train_step(task.sample_batch(np.random.default_rng(1)))
    assert {"loss", "loss_g", "loss_d", "loss_adv", "loss_identity", "loss_tv", "loss_sep"} <= set(losses)
    assert all(torch.isfinite(v) and v.ndim == 0 and not v.requires_grad for v in losses.values())
    assert changed(generator, g_before) == len(g_before)
    assert changed(discriminator, d_before) == len(d_before)
    assert losses["loss"].item() == pytest.approx(losses["loss_g"].item() + losses["loss_d"].item(), rel=1e-6)
    assert losses["loss_identity"] > 0 and losses["loss_tv"] > 0
    d_max = max(p.abs().max().item() for p in discriminator.parameters())
    if gan_mode == "wgan":
        assert d_max == pytest.approx(1e-3)  # every weight clipped to ±1e-3 (and some sit on the bound)
    else:
        assert d_max > 1e-2 and losses["loss_d"] > 0  # LSGAN: no clipping, squared errors


def test_lsgan_losses_follow_the_official_weights():
    """With a discriminator that scores everything 0, LSGAN gives G: 6 fakes × MSE(0, 1) = 6, D: MSE(0, 1) = 1."""
    task = build(tiny(loss={"tv": 0.0}))
    for parameter in task.modules["discriminator"].parameters():
        torch.nn.init.zeros_(parameter)
    losses = task.train_step(task.sample_batch(np.random.default_rng(2)))
    assert losses["loss_adv"].item() == pytest.approx(6.0)
    assert losses["loss_d"].item() == pytest.approx(1.0)
    expected = 6.0 + 6.0 * losses["loss_identity"].item()
    assert losses["loss_g"].item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("inside", [True, False])
def test_separation_term_and_identity_weight_enter_the_generator_loss(inside):
    base = build(tiny({"identity_weight": 6.0}))
    other = build(tiny({"identity_weight": 25.0, "separation_in_identity": inside}, loss={"separation": 2.0}))
    batch = base.sample_batch(np.random.default_rng(3))
    a, b = base.train_step(batch), other.train_step(batch)
    assert torch.equal(a["loss_identity"], b["loss_identity"]) and torch.equal(a["loss_sep"], b["loss_sep"])
    assert -1 < a["loss_sep"].item() < 0  # exp(−L1(n_A, n_B)) − 1
    delta = b["loss_g"] - a["loss_g"]
    scale = 25.0 if inside else 1.0  # inside the identity loss (the reproduction's line 56) σ is scaled by λ
    expected = 19.0 * a["loss_identity"].item() + scale * 2.0 * a["loss_sep"].item()
    assert delta.item() == pytest.approx(expected, rel=1e-4)


def test_gan_mode_none_builds_and_trains_no_discriminator():
    task = build(tiny({"gan_mode": "none"}, loss={"separation": 1.0}))
    assert set(task.modules) == set(task.optimizers) == {"generator"}
    generator = task.modules["generator"]
    before = snapshot(generator)
    losses = task.train_step(task.sample_batch(np.random.default_rng(4)))
    assert changed(generator, before) == len(before)
    assert "loss_d" not in losses and "loss_adv" not in losses
    expected = 6.0 * (losses["loss_identity"].item() + losses["loss_sep"].item())
    assert losses["loss"].item() == losses["loss_g"].item() == pytest.approx(expected, rel=1e-5)
    # no discriminator is checked either: a patch below patchgan_in's minimum is fine without one
    validate_config(tiny({"gan_mode": "none", "discriminator": {"name": "patchgan_in", "ndf": 8}},
                         data={"tile": 16, "patch": 16}))


def test_freeze_bn_keeps_the_generators_running_statistics():
    for freeze in (False, True):
        task = build(tiny({"freeze_bn": freeze}))
        bn = next(m for m in task.modules["generator"].modules() if isinstance(m, torch.nn.BatchNorm2d))
        mean_before = bn.running_mean.clone()
        task.train_step(task.sample_batch(np.random.default_rng(4)))
        assert torch.equal(bn.running_mean, mean_before) == freeze
        assert task.modules["generator"].training  # the module is training; only its BatchNorm layers are not


def test_evaluation_reports_metrics_reference_delta_and_constant_baselines():
    task = build(tiny(data={"n_val": 2, "tile": 48, "patch": 32}))
    first = task.evaluate()
    for name in QUALITY_METRICS:
        value, ref, delta = (first.metrics[f"val/{p}{name}"] for p in ("", "ref_", "delta_"))
        assert math.isfinite(value) and math.isfinite(ref) and delta == pytest.approx(value - ref)
    assert first.outputs.shape == first.targets.shape == (2, 1, 48, 48)
    val = task.eval_set("val")
    assert torch.allclose(first.targets, val["noisy"] - val["clean"])  # collapse is measured on the noise maps
    assert set(first.images) == {"noisy", "denoised", "clean", "noise (+0.5)"}
    task.train_step(task.sample_batch(np.random.default_rng(5)))
    second = task.evaluate()
    baselines = {k: v for k, v in first.metrics.items() if k.startswith("val/baseline/")}
    assert sorted(baselines) == sorted(f"val/baseline/{m}/{q}" for m in ("bm3d", "nlm") for q in QUALITY_METRICS)
    assert all(second.metrics[k] == v for k, v in baselines.items())  # computed once, reported every time


@pytest.mark.parametrize("split", ["val", "test"])
def test_baselines_denoise_the_evaluated_images(split):
    task = build(tiny(data={"n_val": 3, "n_test": 2, "tile": 64, "patch": 32}))
    metrics = task.evaluate(split).metrics
    for method in ("bm3d", "nlm"):
        assert metrics[f"{split}/baseline/{method}/psnr"] > metrics[f"{split}/ref_psnr"] + 3
        assert metrics[f"{split}/baseline/{method}/ssim"] > metrics[f"{split}/ref_ssim"]
        assert metrics[f"{split}/baseline/{method}/epi"] < metrics[f"{split}/ref_epi"]  # the noise's variation is gone
    assert not any(key.startswith("val/" if split == "test" else "test/") for key in metrics)


def test_config_checks():
    with pytest.raises(ConfigError, match="data.patch \\(16\\) is smaller than discriminator 'patchgan_in'"):
        validate_config(tiny(data={"patch": 16, "tile": 32}))
    with pytest.raises(ConfigError, match="must map a 1-channel image"):
        validate_config(tiny(model={"channels": 3}))
    with pytest.raises(ConfigError, match="one of lsgan, wgan"):
        validate_config(tiny({"gan_mode": "hinge"}))
    with pytest.raises(ConfigError, match="unknown loss term 'loss.l1'; known: separation, tv"):
        validate_config(tiny(loss={"l1": 1.0}))
    with pytest.raises(ConfigError, match="data.repeats must be >= 2"):
        validate_config(tiny(data={"repeats": 1}))
    with pytest.raises(ConfigError, match="data.source=folders needs data.root"):
        validate_config(tiny(data={"source": "folders"}))


def test_a_real_divergence_stops_the_trial_as_nan():
    result = train(tiny(optim={"lr": 1e30}, train={"steps": 6, "eval_every": 3}))
    assert result.stop_reason == "nan" and result.metrics["step"] == 3
    assert math.isnan(result.metrics["val/psnr"]) and math.isfinite(result.metrics["val/ref_psnr"])
