"""TCFL: triplet cross-fusion learning for unpaired OCT denoising (seed 003).

Geng et al., "Triplet Cross-Fusion Learning for Unpaired Image Denoising in Optical Coherence Tomography", IEEE TMI
41(11):3357-3372, 2022 (gengmufeng/TCFL-OCT, ``code/train.py``), with the options of the jkhu29/tcfl reproduction
(WGAN with weight clipping, frozen BatchNorm, a TV term, the N_A/N_B separation term).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from restore_core.config import check_range
from restore_core.data.oct_triplets import TripletData, load_triplet_folders, synthetic_triplets
from restore_core.data.photos import GRAY_PHOTOS, check_photos
from restore_core.errors import ConfigError
from restore_core.losses import WeightedLoss
from restore_core.metrics import bm3d_denoise, epi, estimate_sigma, gcmse, nlm_denoise, psnr, ssim
from restore_core.models import ModelOptionError, check_model_kwargs, create_model
from restore_core.schema import Config
from restore_core.tasks.base import Evaluation, Task, check_data_root
from restore_core.tasks.registry import register_task

QUALITY_METRICS = ("psnr", "ssim", "epi", "gcmse")
_BASELINE_CACHE: dict[str, dict[str, float]] = {}  # validation-set hash -> baseline metrics (BM3D costs ~1 s/image)


@dataclass(frozen=True)
class TCFLOptions:
    """The ``task`` section.

    ``gan_mode``: ``lsgan`` (the official MSE criterion) or ``wgan`` (critic scores, D's weights clipped to
    ±``clip`` after every D step, as in the reproduction). ``identity_weight``: λ of the identity (cross-fusion L1)
    loss, 6 officially, 25 in the reproduction. ``fake_weight``: weight of each of the six fakes in the LSGAN
    discriminator loss (0.1 officially). ``sep_weight``: σ_sep of σ_sep·(exp(−L1(N_A, N_B)) − 1), which pushes the
    two noise estimates apart (the reproduction's single-generator experiment; 0 is off). ``freeze_bn``: keep the
    generator's BatchNorm in eval mode while training (running statistics used, never updated).
    ``discriminator``: the discriminator's model config (name and options), TCFL's PatchGAN by default.
    """

    gan_mode: Literal["lsgan", "wgan"] = "lsgan"
    identity_weight: float = 6.0
    fake_weight: float = 0.1
    sep_weight: float = 0.0
    freeze_bn: bool = False
    clip: float = 1e-3
    discriminator: dict[str, Any] = field(default_factory=lambda: {"name": "patchgan_in"})

    def validate(self) -> None:
        for name in ("identity_weight", "fake_weight", "sep_weight"):
            check_range(f"task.{name}", getattr(self, name), ge=0)
        check_range("task.clip", self.clip, gt=0, note="(the WGAN weight clip)")
        if "name" not in self.discriminator:
            raise ConfigError("task.discriminator needs a 'name', e.g. {name: patchgan_in, ndf: 64}")


@dataclass(frozen=True)
class TCFLData:
    """``source: synthetic``: tiles of the grayscale ``photos`` degraded with OCT-like speckle (``speckle``) and
    Gaussian noise (``gaussian``), deterministically from ``seed``: ``n_scenes`` noisy scenes with ``repeats``
    acquisitions each, ``n_clean`` clean tiles and ``n_val`` validation pairs, all from disjoint tiles.
    ``source: folders``: the user's ``root`` with ``noisy/<scene>/``, ``clean/`` and ``val/{noisy,clean}/``
    (see ``restore_core.data.oct_triplets``). ``patch``: side of the training crops."""

    source: Literal["synthetic", "folders"] = "synthetic"
    root: str | None = None
    photos: list[str] = field(default_factory=lambda: list(GRAY_PHOTOS))
    tile: int = 128
    n_scenes: int = 24
    repeats: int = 2
    n_clean: int = 24
    n_val: int = 8
    patch: int = 64
    speckle: float = 0.25
    gaussian: float = 0.05
    seed: int = 0

    def validate(self) -> None:
        check_data_root(self.source, self.root, "folders", "the folder with noisy/<scene>/, clean/ and val/")
        check_range("data.tile", self.tile, gt=0)
        check_range("data.patch", self.patch, gt=0)
        if self.source == "synthetic" and self.patch > self.tile:
            raise ConfigError(f"data.patch ({self.patch}) must not exceed data.tile ({self.tile})")
        if self.repeats < 2:
            raise ConfigError(f"data.repeats must be >= 2 (a triplet takes two noisy acquisitions); got {self.repeats}")
        if self.n_scenes < 1 or self.n_clean < 1 or self.n_val < 2:
            raise ConfigError(f"data.n_scenes and data.n_clean must be >= 1 and data.n_val >= 2; "
                              f"got {self.n_scenes}, {self.n_clean}, {self.n_val}")
        check_range("data.speckle", self.speckle, ge=0)
        check_range("data.gaussian", self.gaussian, ge=0)
        check_range("data.seed", self.seed, ge=0)
        if self.source == "synthetic":
            check_photos(self.photos, GRAY_PHOTOS, "grayscale")


@register_task("tcfl")
class TCFLTask(Task):
    """Unpaired denoising with a noise-predicting generator G (clean = noisy − G(noisy)) and a PatchGAN D.

    One step on a triplet (N_A, N_B noisy views of one scene, C unpaired clean), as ``code/train.py``:

    1. N2P: n_A = G(N_A), n_B = G(N_B); C_A1 = N_A − n_A, C_B1 = N_B − n_B.
    2. P2P (noise swap): C_A2 = (C_A1 + n_B) − G(C_A1 + n_B), C_B2 = (C_B1 + n_A) − G(C_B1 + n_A).
    3. C2P (noise onto the clean image): C_C1 = (C + n_A) − G(C + n_A), C_C2 = (C + n_B) − G(C + n_B).
    4. G loss = adversarial loss of the six clean estimates + λ·(L1(C_A1, C_A2) + L1(C_B1, C_B2) + L1(C_C1, C)
       + L1(C_C2, C) + σ·Σ TV(six estimates)) + σ_sep·(exp(−L1(n_A, n_B)) − 1). The TV term sits inside the
       identity loss, as in the reproduction; σ is ``loss.tv``.
    5. D loss on the detached estimates: LSGAN MSE(D(C), 1) + 0.1·Σ MSE(D(fake), 0); WGAN mean D(fakes) − mean D(C),
       then D's weights are clipped.

    The real image C never enters the generator's adversarial loss (it would reward G for nothing).
    """

    Options = TCFLOptions
    DataOptions = TCFLData
    loss_terms = ["tv"]
    main_model = "generator"

    @classmethod
    def check_config(cls, config: Config) -> None:
        disc = dict(config.task.discriminator)
        name = disc.pop("name")
        check_model_kwargs(name, disc, section="task.discriminator")
        try:
            min_size = getattr(create_model(name, **disc), "min_size", 1)
        except ModelOptionError as error:
            raise error.under("task.discriminator") from None
        if config.data.patch < min_size:
            raise ConfigError(f"data.patch ({config.data.patch}) is smaller than discriminator '{name}' accepts "
                              f"({min_size})")
        generator = create_model(**config.model)
        try:
            with torch.no_grad():
                shape = tuple(generator.eval()(torch.zeros(1, 1, 32, 32)).shape)
        except RuntimeError as error:  # e.g. a 3-channel first conv
            shape = str(error).splitlines()[0]
        if shape != (1, 1, 32, 32):
            raise ConfigError(f"model '{config.model['name']}' must map a 1-channel image to a 1-channel noise map of "
                              f"the same size (TCFL's generator); for a 1x32x32 input: {shape}")
        multiple = getattr(generator, "size_multiple", 1)
        for key, size in (("data.patch", config.data.patch), ("train.cost_size", config.train.cost_size)):
            if size % multiple:
                raise ConfigError(f"{key} ({size}) must be a multiple of {multiple} for model '{config.model['name']}'")

    @classmethod
    def check_data(cls, config: Config) -> None:
        """The noisy/<scene>/, clean/ and val/ folders and the validation pairs' names (nothing is read)."""
        if config.data.source == "folders":
            from restore_core.data.oct_triplets import list_triplet_folders

            list_triplet_folders(config.data.root)

    @classmethod
    def prepare_data(cls, config: Config) -> TripletData:
        d = config.data
        if d.source == "folders":
            return load_triplet_folders(d.root, d.patch)
        return synthetic_triplets(d.photos, d.tile, d.n_scenes, d.repeats, d.n_clean, d.n_val, d.speckle,
                                  d.gaussian, d.seed)

    def __init__(self, config: Config, data: TripletData, device: torch.device):
        super().__init__(config, data, device)
        options, optim = config.task, config.optim
        generator = create_model(**config.model).to(device)
        discriminator = create_model(**options.discriminator).to(device)
        self.modules = {"generator": generator, "discriminator": discriminator}
        betas = tuple(optim.betas)
        self.optimizers = {
            "generator": torch.optim.Adam(generator.parameters(), lr=optim.lr, betas=betas,
                                          weight_decay=optim.weight_decay),
            "discriminator": torch.optim.Adam(discriminator.parameters(), lr=optim.lr_d or optim.lr, betas=betas),
        }
        self.tv = WeightedLoss(config.loss).to(device) if any(config.loss.values()) else None
        self.val_noisy = self.to_device(data.val_noisy[:, None])  # (V, 1, H, W)
        self.val_clean = self.to_device(data.val_clean[:, None])
        reference = quality_metrics(self.val_noisy, self.val_clean)
        self.reference_metrics = {f"val/ref_{k}": v for k, v in reference.items()}
        self.baseline_metrics = baseline_metrics(data.val_noisy, data.val_clean)

    # -- training ----------------------------------------------------------------------------------------
    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Triplets: two acquisitions of one scene cropped at the same place, and a crop of an unpaired clean image;
        the two noisy crops share their flips, the clean crop gets its own."""
        p, noisy_a, noisy_b, clean = self.config.data.patch, [], [], []
        for _ in range(self.config.train.batch_size):
            scene = self.data.noisy[rng.integers(len(self.data.noisy))]
            first, second = rng.choice(len(scene), 2, replace=False)
            y, x = rng.integers(0, scene.shape[1] - p + 1), rng.integers(0, scene.shape[2] - p + 1)
            flips = rng.random(2) < 0.5
            noisy_a.append(_flip(scene[first, y : y + p, x : x + p], flips))
            noisy_b.append(_flip(scene[second, y : y + p, x : x + p], flips))
            image = self.data.clean[rng.integers(len(self.data.clean))]
            y, x = rng.integers(0, image.shape[0] - p + 1), rng.integers(0, image.shape[1] - p + 1)
            clean.append(_flip(image[y : y + p, x : x + p], rng.random(2) < 0.5))
        return tuple(self.to_device(np.stack(batch)[:, None]) for batch in (noisy_a, noisy_b, clean))

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        noisy_a, noisy_b, clean = batch
        options = self.config.task
        generator, discriminator = self.modules["generator"], self.modules["discriminator"]
        generator.train()
        if options.freeze_bn:
            for module in generator.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()
        discriminator.train()

        # 1) generator: the three passes, one G call per image (BatchNorm statistics per call, as the original)
        discriminator.requires_grad_(False)
        with self.autocast():
            noise_a, noise_b = generator(noisy_a).float(), generator(noisy_b).float()
            c_a1, c_b1 = noisy_a - noise_a, noisy_b - noise_b  # N2P
            swap_a, swap_b = c_a1 + noise_b, c_b1 + noise_a  # P2P
            c_a2, c_b2 = swap_a - generator(swap_a).float(), swap_b - generator(swap_b).float()
            onto_a, onto_b = clean + noise_a, clean + noise_b  # C2P
            c_c1, c_c2 = onto_a - generator(onto_a).float(), onto_b - generator(onto_b).float()
            fakes = torch.cat([c_a1, c_b1, c_a2, c_b2, c_c1, c_c2])  # (6B, 1, p, p)
            # D normalises each image on its own (InstanceNorm), so one batched call equals six separate ones.
            fake_scores = discriminator(fakes).float().chunk(6)
        identity = (F.l1_loss(c_a1, c_a2) + F.l1_loss(c_b1, c_b2) + F.l1_loss(c_c1, clean) + F.l1_loss(c_c2, clean))
        tv = sum(self.tv(fake, fake)[0] for fake in fakes.chunk(6)) if self.tv is not None else clean.new_zeros(())
        separation = torch.exp(-F.l1_loss(noise_a, noise_b)) - 1
        adversarial = sum(self._generator_gan_loss(score) for score in fake_scores)
        loss_g = adversarial + options.identity_weight * (identity + tv) + options.sep_weight * separation
        self.optimize("generator", loss_g)
        discriminator.requires_grad_(True)

        # 2) discriminator: the real clean image against the six detached estimates, in one call
        with self.autocast():
            scores = discriminator(torch.cat([clean, fakes.detach()])).float()
        real_score, fake_scores = scores[: len(clean)], scores[len(clean) :].chunk(6)
        if options.gan_mode == "lsgan":
            loss_d = F.mse_loss(real_score, torch.ones_like(real_score)) + options.fake_weight * sum(
                F.mse_loss(s, torch.zeros_like(s)) for s in fake_scores
            )
        else:  # a Wasserstein estimate: the six fakes together against the real image
            loss_d = torch.stack([s.mean() for s in fake_scores]).mean() - real_score.mean()
        self.optimize("discriminator", loss_d)
        if options.gan_mode == "wgan":
            with torch.no_grad():
                for parameter in discriminator.parameters():
                    parameter.clamp_(-options.clip, options.clip)

        parts = {"loss_g": loss_g, "loss_d": loss_d, "loss_adv": adversarial, "loss_identity": identity,
                 "loss_tv": tv, "loss_sep": separation}
        return {"loss": (loss_g + loss_d).detach(), **{k: v.detach() for k, v in parts.items()}}

    def _generator_gan_loss(self, score: torch.Tensor) -> torch.Tensor:
        if self.config.task.gan_mode == "lsgan":
            return F.mse_loss(score, torch.ones_like(score))
        return -score.mean()

    # -- evaluation --------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> Evaluation:
        generator = self.modules["generator"]
        generator.eval()
        with self.autocast():
            noise = torch.cat([generator(x).float() for x in self.val_noisy.split(8)])
        denoised = (self.val_noisy - noise).clamp(0, 1)
        metrics = {f"val/{k}": v for k, v in quality_metrics(denoised, self.val_clean).items()}
        metrics.update(self.reference_metrics)
        for name in QUALITY_METRICS:
            metrics[f"val/delta_{name}"] = metrics[f"val/{name}"] - metrics[f"val/ref_{name}"]
        metrics.update(self.baseline_metrics)
        k = self.config.train.log_images
        images = {"noisy": self.val_noisy[:k], "denoised": denoised[:k], "clean": self.val_clean[:k],
                  "noise (+0.5)": (noise[:k] + 0.5).clamp(0, 1)}
        # Collapse is about G's own output (the noise map): a constant map means clean = input − constant.
        return Evaluation(metrics, outputs=noise, targets=self.val_noisy - self.val_clean, images=images)

    def cost_input(self, size: int) -> torch.Tensor:
        return torch.rand(1, 1, size, size, device=self.device)


def quality_metrics(denoised: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    """Mean PSNR, SSIM, EPI (vertical, denoised over clean) and GCMSE (edges from the clean image) of (N, 1, H, W)."""
    return {
        "psnr": psnr(denoised, clean).mean().item(),
        "ssim": ssim(denoised, clean).mean().item(),
        "epi": epi(denoised, clean).mean().item(),
        "gcmse": gcmse(clean, denoised).mean().item(),
    }


def baseline_metrics(noisy: np.ndarray, clean: np.ndarray) -> dict[str, float]:
    """BM3D and non-local means on the validation images ``(V, H, W)``, blind (noise level from
    ``estimate_sigma`` of each image), as ``baseline/<method>/<metric>``. Computed once per validation set and
    process: every evaluation reports the same numbers."""
    key = hashlib.sha1(np.ascontiguousarray(noisy).tobytes() + np.ascontiguousarray(clean).tobytes()).hexdigest()
    if key not in _BASELINE_CACHE:
        sigmas = [estimate_sigma(image) for image in noisy]
        target = torch.from_numpy(np.ascontiguousarray(clean[:, None], dtype=np.float32))
        out = {}
        for method, denoise in (("bm3d", bm3d_denoise), ("nlm", nlm_denoise)):
            restored = np.stack([denoise(image, sigma) for image, sigma in zip(noisy, sigmas)])
            result = quality_metrics(torch.from_numpy(restored[:, None].astype(np.float32)), target)
            out.update({f"baseline/{method}/{k}": v for k, v in result.items()})
        _BASELINE_CACHE[key] = out
    return dict(_BASELINE_CACHE[key])


def _flip(crop: np.ndarray, flips: np.ndarray) -> np.ndarray:
    if flips[0]:
        crop = crop[::-1]
    if flips[1]:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)
