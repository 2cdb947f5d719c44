"""Desmoking with a conditional GAN guided by an embedded dark channel (seed 000).

Salazar-Colores, Moreno Jiménez, Ortiz-Echeverri, Flores, "Desmoking Laparoscopy Surgery Images Using an
Image-to-Image Translation Guided by an Embedded Dark Channel", IEEE Access 8:208898-208909, 2020
(ssalazarcolores/Desmoking-laparoscopy-surgery-images-using-an-image-to-image-translation-guided-by-an-embedded-Dark-,
built on pix2pix: junyanz/pytorch-CycleGAN-and-pix2pix). The pix2pix U-Net sees the smoky RGB image and, as a 4th
channel, its dark channel; a PatchGAN judges (condition, image) pairs. Reproduced by karolprzyb/DL4H-Desmoking-
Laparoscopy-Surgery-Images, which found no gain from the dark channel.

Differences from the official code, on purpose: the generator predicts RGB only (the official one also predicts a 4th
channel that only the discriminator sees, compared with the smoky input's dark channel), so the discriminator sees
the condition (3 or 4 channels) with 3 image channels; the discriminator returns logits and the vanilla loss is
BCE-with-logits (the same loss as sigmoid + BCE, as pix2pix master does it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from restore_core.config import check_range
from restore_core.data.dark_channel import dark_channel
from restore_core.data.folders import list_paired_folders
from restore_core.data.photos import COLOUR_PHOTOS, check_photos
from restore_core.data.smoke_pairs import SmokePairs, folder_smoke_pairs, synthetic_smoke_pairs
from restore_core.errors import ConfigError
from restore_core.metrics import psnr, ssim, uqi
from restore_core.models import create_model, model_options
from restore_core.sections import Config
from restore_core.tasks.base import Evaluation, Task, check_data_root
from restore_core.tasks.registry import register_task

EVAL_CHUNK = 8  # validation images per generator forward: bounds memory at 256² with ngf 64


@dataclass(frozen=True)
class DesmokeOptions:
    """``dark_channel``: the generator's 4th input channel, ``min`` (per-pixel RGB minimum, what the official code
    feeds), ``patch15`` (He et al.'s 15×15 min-filter, as the paper's figure shows) or ``none`` (RGB only).
    ``gan_loss``: ``vanilla`` (BCE on logits; the study) or ``lsgan`` (MSE to 1/0). ``lambda_l1``: weight of the L1
    term in the generator loss (100 in pix2pix and the study). ``ndf``/``d_layers``: the PatchGAN's width and strided
    layers (64 and 3: the 70×70 PatchGAN). ``flip``: horizontal flips with p = 0.5, as pix2pix's aligned loader."""

    dark_channel: Literal["none", "min", "patch15"] = "min"
    gan_loss: Literal["vanilla", "lsgan"] = "vanilla"
    lambda_l1: float = 100.0
    ndf: int = 64
    d_layers: int = 3
    flip: bool = True

    def validate(self) -> None:
        check_range("task.lambda_l1", self.lambda_l1, ge=0, note="(the weight of the L1 term)")
        if self.ndf < 1 or self.d_layers < 1:
            raise ConfigError(f"task.ndf and task.d_layers must be >= 1; got {self.ndf}, {self.d_layers}")


@dataclass(frozen=True)
class DesmokeData:
    """``source: synthetic`` composites fractal smoke (``restore_core.data.smoke``) over ``tile``×``tile`` tiles of
    the embedded ``photos``, ``smoke_per_tile`` smokes per training tile, deterministically from ``seed``.
    ``source: folders`` reads smoky ``root/input/`` and clean ``root/target/`` images paired by name, resizes them to
    ``tile``×``tile`` (the study resizes to 256) and keeps the last ``n_val`` by name for validation."""

    source: Literal["synthetic", "folders"] = "synthetic"
    root: str | None = None
    photos: list[str] = field(default_factory=lambda: list(COLOUR_PHOTOS))
    tile: int = 256
    n_train: int = 10
    n_val: int = 5
    smoke_per_tile: int = 4
    seed: int = 0

    def validate(self) -> None:
        if self.tile < 32:
            raise ConfigError(f"data.tile must be >= 32 (the PatchGAN and SSIM need room); got {self.tile}")
        if self.n_train < 1 or self.n_val < 2:
            raise ConfigError(f"data.n_train must be >= 1 and data.n_val >= 2; got {self.n_train}, {self.n_val}")
        if self.smoke_per_tile < 1:
            raise ConfigError(f"data.smoke_per_tile must be >= 1; got {self.smoke_per_tile}")
        check_range("data.seed", self.seed, ge=0)
        check_data_root(self.source, self.root, "folders", "the folder that holds input/ and target/")
        if self.source == "synthetic":
            check_photos(self.photos, COLOUR_PHOTOS, "colour")


def input_channels(dark_mode: str) -> int:
    """Generator input channels for a ``task.dark_channel`` setting: RGB, plus the dark channel unless ``none``."""
    return 3 if dark_mode == "none" else 4


@register_task("desmoke")
class DesmokeTask(Task):
    """pix2pix training (G: GAN + λ·L1, D: halved real/fake GAN loss) on smoky → clean pairs, images in [-1, 1]."""

    Options = DesmokeOptions
    DataOptions = DesmokeData
    loss_terms: list[str] = []  # the GAN and L1 terms are the task's own (task.gan_loss, task.lambda_l1)
    main_model = "generator"

    @classmethod
    def check_config(cls, config: Config) -> None:
        name, channels = config.model["name"], input_channels(config.task.dark_channel)
        options = model_options(name)
        if "in_channels" not in options:
            raise ConfigError(f"model '{name}' has no in_channels option; the desmoking generator needs one")
        given = config.model.get("in_channels", channels)
        if given != channels:
            raise ConfigError(
                f"model.in_channels={given} does not match task.dark_channel={config.task.dark_channel!r}, which "
                f"gives {channels} input channels; leave model.in_channels out and the task sets it"
            )
        if config.model.get("out_channels", 3) != 3:
            raise ConfigError(f"model.out_channels must be 3 (RGB); got {config.model['out_channels']}")
        with torch.device("meta"):  # shapes only: no memory, no init cost for a 54M-parameter generator
            generator, discriminator = _build_networks(config)
        multiple = getattr(generator, "size_multiple", 1)
        for key, size in (("data.tile", config.data.tile), ("train.cost_size", config.train.cost_size)):
            if size % multiple:
                raise ConfigError(
                    f"{key} ({size}) must be a multiple of {multiple} for model '{name}' "
                    f"(variant {config.model.get('variant', 'full')}: {multiple.bit_length() - 1} down-samplings)"
                )
        if config.data.tile < discriminator.min_size:
            raise ConfigError(f"data.tile ({config.data.tile}) is below the discriminator's {discriminator.min_size}")

    @classmethod
    def check_data(cls, config: Config) -> None:
        """Folder pairs: both folders there, every name on both sides (nothing is read)."""
        if config.data.source == "folders":
            list_paired_folders(config.data.root)

    @classmethod
    def prepare_data(cls, config: Config) -> dict[str, SmokePairs]:
        data = config.data
        if data.source == "folders":
            return folder_smoke_pairs(data.root, data.tile, data.n_val)
        counts = {"train": data.n_train, "val": data.n_val}
        return synthetic_smoke_pairs(data.photos, data.tile, counts, data.smoke_per_tile, data.seed)

    def __init__(self, config: Config, data: dict[str, SmokePairs], device: torch.device):
        super().__init__(config, data, device)
        generator, discriminator = _build_networks(config)
        self.modules = {"generator": generator.to(device), "discriminator": discriminator.to(device)}
        optim, betas = config.optim, tuple(config.optim.betas)
        self.optimizers = {
            "generator": torch.optim.Adam(generator.parameters(), lr=optim.lr, betas=betas,
                                          weight_decay=optim.weight_decay),
            "discriminator": torch.optim.Adam(discriminator.parameters(), lr=optim.lr_d or optim.lr, betas=betas,
                                              weight_decay=optim.weight_decay),
        }
        # Network inputs in [-1, 1], built once: the dark channel commutes with the horizontal flip (a per-pixel
        # minimum and a symmetric min-filter), so flipping the stored input equals recomputing it.
        self.train_input = self.network_input(data["train"].smoky)
        self.train_target = data["train"].clean * 2 - 1
        val = data["val"]
        self.val_input = self.to_device(self.network_input(val.smoky))
        self.val_smoky, self.val_clean = self.to_device(val.smoky), self.to_device(val.clean)
        self.val_alpha = None if val.alpha is None else self.to_device(val.alpha[:, None])
        self.reference_metrics = {f"val/ref_{k}": v for k, v in quality_metrics(self.val_smoky, self.val_clean).items()}

    def network_input(self, smoky: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` smoky RGB in [0, 1] → ``(N, 3 or 4, H, W)`` in [-1, 1]: RGB, then the dark channel."""
        mode = self.config.task.dark_channel
        channels = [smoky]
        if mode != "none":
            dark = np.stack([dark_channel(image.transpose(1, 2, 0), mode) for image in smoky])  # (N, H, W)
            channels.append(dark[:, None])
        return (np.concatenate(channels, axis=1) * 2 - 1).astype(np.float32)

    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        index = rng.integers(0, len(self.train_input), self.config.train.batch_size)
        flips = rng.random(len(index)) < 0.5
        inputs, targets = self.train_input[index], self.train_target[index]
        if self.config.task.flip and flips.any():
            inputs[flips], targets[flips] = inputs[flips, :, :, ::-1], targets[flips, :, :, ::-1]
        return self.to_device(inputs), self.to_device(targets)

    def gan_loss(self, score: torch.Tensor, real: bool) -> torch.Tensor:
        label = torch.ones_like(score) if real else torch.zeros_like(score)
        if self.config.task.gan_loss == "lsgan":
            return F.mse_loss(score, label)
        return F.binary_cross_entropy_with_logits(score, label)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        condition, target = batch
        generator, discriminator = self.modules["generator"], self.modules["discriminator"]
        generator.train()
        discriminator.train()
        with self.autocast():
            fake = generator(condition)
            # 1) discriminator: real (condition, target) pairs against detached fakes, halved as pix2pix does
            real_score = discriminator(torch.cat([condition, target], dim=1)).float()
            fake_score = discriminator(torch.cat([condition, fake.detach()], dim=1)).float()
            loss_d = 0.5 * (self.gan_loss(real_score, True) + self.gan_loss(fake_score, False))
        self.optimize("discriminator", loss_d)
        # 2) generator: fool the updated discriminator and stay close to the target; D's weights get no gradient
        discriminator.requires_grad_(False)
        with self.autocast():
            loss_gan = self.gan_loss(discriminator(torch.cat([condition, fake], dim=1)).float(), True)
            loss_l1 = F.l1_loss(fake.float(), target)
            loss_g = loss_gan + self.config.task.lambda_l1 * loss_l1
        self.optimize("generator", loss_g)
        discriminator.requires_grad_(True)
        parts = {"loss_g": loss_g, "loss_d": loss_d, "loss_gan": loss_gan, "loss_l1": loss_l1}
        return {"loss": loss_g.detach(), **{k: v.detach() for k, v in parts.items()}}

    @torch.no_grad()
    def evaluate(self) -> Evaluation:
        generator = self.modules["generator"]
        generator.eval()
        with self.autocast():
            output = torch.cat([generator(chunk).float() for chunk in self.val_input.split(EVAL_CHUNK)])
        output = ((output + 1) / 2).clamp(0, 1)
        metrics = {f"val/{k}": v for k, v in quality_metrics(output, self.val_clean).items()}
        metrics.update(self.reference_metrics)
        for name in ("psnr", "ssim", "uqi"):
            metrics[f"val/delta_{name}"] = metrics[f"val/{name}"] - metrics[f"val/ref_{name}"]
        k = self.config.train.log_images
        images = {"input": self.val_smoky[:k]}
        if self.config.task.dark_channel != "none":
            images["dark_channel"] = (self.val_input[:k, 3:4] + 1) / 2
        images["output"] = output[:k]
        if self.val_alpha is not None:
            images["smoke_mask"] = self.val_alpha[:k]
        images["target"] = self.val_clean[:k]
        return Evaluation(metrics, outputs=output, targets=self.val_clean, images=images)

    def cost_input(self, size: int) -> torch.Tensor:
        return torch.rand(1, input_channels(self.config.task.dark_channel), size, size, device=self.device) * 2 - 1


def _build_networks(config: Config) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The generator (``model`` section, input channels set from the dark-channel option) and the PatchGAN, which
    sees the condition and an RGB image concatenated."""
    channels = input_channels(config.task.dark_channel)
    generator = create_model(**{**config.model, "in_channels": channels})
    init = config.model.get("init", "normal")
    discriminator = create_model(
        "patchgan", in_channels=channels + 3, ndf=config.task.ndf, n_layers=config.task.d_layers, init=init
    )
    return generator, discriminator


def quality_metrics(image: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
    """Mean PSNR, SSIM and UQI of ``(N, 3, H, W)`` images in [0, 1] against the clean ones."""
    return {
        "psnr": psnr(image, clean).mean().item(),
        "ssim": ssim(image, clean).mean().item(),
        "uqi": uqi(image, clean).mean().item(),
    }
