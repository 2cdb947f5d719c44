"""TCFL: triplet cross-fusion learning for unpaired OCT denoising (seed 003).

Geng et al., "Triplet Cross-Fusion Learning for Unpaired Image Denoising in Optical Coherence Tomography", IEEE TMI
41(11):3357-3372, 2022 (gengmufeng/TCFL-OCT, ``code/train.py``), with the options of the jkhu29/tcfl reproduction
(WGAN with weight clipping, frozen BatchNorm, a TV term, the N_A/N_B separation term, generator-only training).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from restore_core.data.oct_triplets import (
    TripletData,
    list_triplet_folders,
    load_triplet_folders,
    synthetic_triplets,
)
from restore_core.errors import ConfigError
from restore_core.losses import LOSSES, WeightedLoss
from restore_core.models import ModelOptionError, check_model_kwargs, create_model
from restore_core.models.checked import checked_once
from restore_core.sections import Config
from restore_core.tasks.base import Evaluation, Task, check_eval_split
from restore_core.tasks.registry import register_task
from restore_core.tasks.tcfl_config import TCFLData, TCFLOptions
from restore_core.tasks.tcfl_metrics import QUALITY_METRICS, baseline_metrics, quality_metrics


@register_task("tcfl")
class TCFLTask(Task):
    """Unpaired denoising with a noise-predicting generator G (clean = noisy − G(noisy)) and a PatchGAN D.

    One step on a triplet (N_A, N_B noisy views of one scene, C unpaired clean), as ``code/train.py``:

    1. N2P: n_A = G(N_A), n_B = G(N_B); C_A1 = N_A − n_A, C_B1 = N_B − n_B.
    2. P2P (noise swap): C_A2 = (C_A1 + n_B) − G(C_A1 + n_B), C_B2 = (C_B1 + n_A) − G(C_B1 + n_A).
    3. C2P (noise onto the clean image): C_C1 = (C + n_A) − G(C + n_A), C_C2 = (C + n_B) − G(C + n_B).
    4. G loss = adversarial loss of the six clean estimates + λ·(L1(C_A1, C_A2) + L1(C_B1, C_B2) + L1(C_C1, C)
       + L1(C_C2, C) + σ·Σ TV(six estimates) + σ_sep·(exp(−L1(n_A, n_B)) − 1)). The TV and separation terms sit
       inside the identity loss, as in the reproduction; σ is ``loss.tv``, σ_sep ``loss.separation``
       (``task.separation_in_identity: false`` adds σ_sep's term outside λ instead).
    5. D loss on the detached estimates: LSGAN MSE(D(C), 1) + 0.1·Σ MSE(D(fake), 0); WGAN mean D(fakes) − mean D(C),
       then D's weights are clipped. With ``gan_mode: none`` there is no D and no adversarial term.

    The real image C never enters the generator's adversarial loss (it would reward G for nothing).
    """

    Options = TCFLOptions
    DataOptions = TCFLData
    loss_terms = ["tv", "separation"]
    main_model = "generator"

    @classmethod
    def check_config(cls, config: Config) -> None:
        if config.task.gan_mode != "none":
            cls._check_discriminator(config)
        multiple = checked_once(_generator_size_multiple, config.model)
        for key, size in (("data.patch", config.data.patch), ("train.cost_size", config.train.cost_size)):
            if size % multiple:
                raise ConfigError(f"{key} ({size}) must be a multiple of {multiple} for model '{config.model['name']}'")

    @staticmethod
    def _check_discriminator(config: Config) -> None:
        disc = dict(config.task.discriminator)
        name = disc.pop("name")
        check_model_kwargs(name, disc, section="task.discriminator")
        try:
            min_size = checked_once(_min_size, config.task.discriminator)
        except ModelOptionError as error:
            raise error.under("task.discriminator") from None
        if config.data.patch < min_size:
            raise ConfigError(f"data.patch ({config.data.patch}) is smaller than discriminator '{name}' accepts "
                              f"({min_size})")

    @classmethod
    def check_data(cls, config: Config) -> None:
        """The noisy/<scene>/, clean/ and val/ folders and the validation pairs' names (nothing is read)."""
        if config.data.source == "folders":
            list_triplet_folders(config.data.root)

    @classmethod
    def prepare_data(cls, config: Config) -> TripletData:
        d = config.data
        if d.source == "folders":
            return load_triplet_folders(d.root, d.patch, d.n_test)
        return synthetic_triplets(d.photos, d.tile, d.n_scenes, d.repeats, d.n_clean, d.n_val, d.speckle,
                                  d.gaussian, d.seed, d.n_test)

    @classmethod
    def split_items(cls, data: TripletData) -> dict[str, list[str]]:
        return {"train": data.names["noisy"] + data.names["clean"], "val": list(data.names["val"]),
                "test": list(data.names["test"])}

    def __init__(self, config: Config, data: TripletData, device: torch.device):
        super().__init__(config, data, device)
        options, optim = config.task, config.optim
        generator = create_model(**config.model).to(device)
        self.modules = {"generator": generator}
        betas = tuple(optim.betas)
        self.optimizers = {"generator": torch.optim.Adam(generator.parameters(), lr=optim.lr, betas=betas,
                                                         weight_decay=optim.weight_decay)}
        if options.gan_mode != "none":  # generator-only training builds no discriminator at all
            discriminator = create_model(**options.discriminator).to(device)
            self.modules["discriminator"] = discriminator
            self.optimizers["discriminator"] = torch.optim.Adam(discriminator.parameters(), lr=optim.lr_d or optim.lr,
                                                                betas=betas)
        weights = {name: config.loss.get(name, 0) for name in self.loss_terms}
        self.tv = WeightedLoss({"tv": weights["tv"]}).to(device) if weights["tv"] else None
        self.separation_weight = weights["separation"]
        self.separation = LOSSES.get("separation")()

    def eval_set(self, split: str) -> dict:
        """The noisy and clean images ``(N, 1, H, W)`` of ``split`` with the noisy input's metrics (the reference) and
        BM3D's and NLM's (the classical baselines), built once."""
        if split not in self.eval_sets:
            noisy, clean = getattr(self.data, f"{split}_noisy"), getattr(self.data, f"{split}_clean")
            noisy_t, clean_t = self.to_device(noisy[:, None]), self.to_device(clean[:, None])
            reference = quality_metrics(noisy_t, clean_t)
            self.eval_sets[split] = {
                "noisy": noisy_t, "clean": clean_t,
                "metrics": {**{f"{split}/ref_{k}": v for k, v in reference.items()},
                            **{f"{split}/{k}": v for k, v in baseline_metrics(noisy, clean).items()}},
            }
        return self.eval_sets[split]

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
        generator, discriminator = self.modules["generator"], self.modules.get("discriminator")
        generator.train()
        if options.freeze_bn:
            for module in generator.modules():
                if isinstance(module, nn.modules.batchnorm._BatchNorm):
                    module.eval()

        # 1) generator: the three passes, one G call per image (BatchNorm statistics per call, as the original)
        if discriminator is not None:
            discriminator.train()
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
            fake_scores = discriminator(fakes).float().chunk(6) if discriminator is not None else ()
        identity = (F.l1_loss(c_a1, c_a2) + F.l1_loss(c_b1, c_b2) + F.l1_loss(c_c1, clean) + F.l1_loss(c_c2, clean))
        tv = sum(self.tv(fake, fake)[0] for fake in fakes.chunk(6)) if self.tv is not None else clean.new_zeros(())
        separation = self.separation(noise_a, noise_b)
        weighted_separation = self.separation_weight * separation
        inside = identity + tv + (weighted_separation if options.separation_in_identity else 0)
        outside = 0 if options.separation_in_identity else weighted_separation
        adversarial = sum((self._generator_gan_loss(score) for score in fake_scores), clean.new_zeros(()))
        loss_g = adversarial + options.identity_weight * inside + outside
        self.optimize("generator", loss_g)
        parts = {"loss_g": loss_g, "loss_identity": identity, "loss_tv": tv, "loss_sep": separation}
        if discriminator is None:
            return {"loss": loss_g.detach(), **{k: v.detach() for k, v in parts.items()}}
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

        parts.update(loss_d=loss_d, loss_adv=adversarial)
        return {"loss": (loss_g + loss_d).detach(), **{k: v.detach() for k, v in parts.items()}}

    def _generator_gan_loss(self, score: torch.Tensor) -> torch.Tensor:
        if self.config.task.gan_mode == "lsgan":
            return F.mse_loss(score, torch.ones_like(score))
        return -score.mean()

    # -- evaluation --------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self, split: str = "val") -> Evaluation:
        check_eval_split(split)
        images_in = self.eval_set(split)
        noisy, clean = images_in["noisy"], images_in["clean"]
        generator = self.modules["generator"]
        generator.eval()
        with self.autocast():
            noise = torch.cat([generator(x).float() for x in noisy.split(8)])
        denoised = (noisy - noise).clamp(0, 1)
        metrics = {f"{split}/{k}": v for k, v in quality_metrics(denoised, clean).items()}
        metrics.update(images_in["metrics"])
        for name in QUALITY_METRICS:
            metrics[f"{split}/delta_{name}"] = metrics[f"{split}/{name}"] - metrics[f"{split}/ref_{name}"]
        k = self.config.train.log_images
        images = {"noisy": noisy[:k], "denoised": denoised[:k], "clean": clean[:k],
                  "noise (+0.5)": (noise[:k] + 0.5).clamp(0, 1)}
        # Collapse is about G's own output (the noise map): a constant map means clean = input − constant.
        return Evaluation(metrics, outputs=noise, targets=noisy - clean, images=images)

    def cost_input(self, size: int) -> torch.Tensor:
        return torch.rand(1, 1, size, size, device=self.device)


def _flip(crop: np.ndarray, flips: np.ndarray) -> np.ndarray:
    if flips[0]:
        crop = crop[::-1]
    if flips[1]:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


def _generator_size_multiple(model_config: dict) -> int:
    """The sizes the generator needs a multiple of, once a forward shows it maps a 1-channel image to a 1-channel
    noise map of the same size (TCFL's generator)."""
    generator = create_model(**model_config)
    try:
        with torch.no_grad():
            shape = tuple(generator.eval()(torch.zeros(1, 1, 32, 32)).shape)
    except RuntimeError as error:  # e.g. a 3-channel first conv
        shape = str(error).splitlines()[0]
    if shape != (1, 1, 32, 32):
        raise ConfigError(f"model '{model_config['name']}' must map a 1-channel image to a 1-channel noise map of "
                          f"the same size (TCFL's generator); for a 1x32x32 input: {shape}")
    return getattr(generator, "size_multiple", 1)


def _min_size(model_config: dict) -> int:
    """The smallest input the model takes (its ``min_size``; 1 when it names none)."""
    options = {k: v for k, v in model_config.items() if k != "name"}
    return getattr(create_model(model_config["name"], **options), "min_size", 1)
