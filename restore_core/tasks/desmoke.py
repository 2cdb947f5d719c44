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

import os

import numpy as np
import torch
import torch.nn.functional as F

from restore_core.data.dark_channel import dark_channel
from restore_core.data.folders import list_paired_folders
from restore_core.data.smoke_pairs import SmokePairs, folder_smoke_pairs, synthetic_smoke_pairs
from restore_core.errors import ConfigError
from restore_core.metrics import fsimc, psnr, ssim, uqi, uqi_gaussian
from restore_core.models import create_model, model_options
from restore_core.sections import Config
from restore_core.tasks.base import Evaluation, Task, check_eval_split
from restore_core.tasks.desmoke_augment import dl4h_transform
from restore_core.tasks.desmoke_config import DesmokeData, DesmokeOptions
from restore_core.tasks.registry import register_task

EVAL_CHUNK = 8  # validation images per generator forward: bounds memory at 256² with ngf 64


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
    evaluated_side_by_side = True  # torch, NumPy and piq only

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
        patch = config.data.patch or config.data.tile
        if patch != config.data.tile and config.task.augment != "dl4h":
            raise ConfigError(f"data.patch ({patch}) differs from data.tile ({config.data.tile}) but only "
                              "task.augment=dl4h crops; leave data.patch out or set task.augment=dl4h")
        sizes = (("data.tile", config.data.tile), ("data.patch", patch), ("train.cost_size", config.train.cost_size))
        for key, size in sizes:
            if size % multiple:
                raise ConfigError(
                    f"{key} ({size}) must be a multiple of {multiple} for model '{name}' "
                    f"(variant {config.model.get('variant', 'full')}: {multiple.bit_length() - 1} down-samplings)"
                )
        if patch < discriminator.min_size:
            raise ConfigError(f"data.patch ({patch}) is below the discriminator's {discriminator.min_size}")

    @classmethod
    def check_data(cls, config: Config) -> None:
        """Folder pairs: both folders there, every name on both sides, and so in ``test/`` when there is one (nothing
        is read)."""
        if config.data.source == "folders":
            list_paired_folders(config.data.root)
            if os.path.lexists(os.path.join(config.data.root, "test")):
                list_paired_folders(os.path.join(config.data.root, "test"))

    @classmethod
    def prepare_data(cls, config: Config) -> dict[str, SmokePairs]:
        data = config.data
        if data.source == "folders":
            return folder_smoke_pairs(data.root, data.tile, data.n_val, data.n_test)
        counts = {"train": data.n_train, "val": data.n_val, "test": data.n_test}
        return synthetic_smoke_pairs(data.photos, data.tile, counts, data.smoke_per_tile, data.seed)

    @classmethod
    def split_items(cls, data: dict[str, SmokePairs]) -> dict[str, list[str]]:
        return {split: list(pairs.names) for split, pairs in data.items()}

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
        self.uqi = uqi_gaussian if config.task.uqi == "gaussian11" else uqi

    def eval_set(self, split: str) -> dict:
        """The network input, smoky and clean images, smoke mask and reference metrics of ``split``, built once."""
        if split not in self.eval_sets:
            pairs = self.data[split]
            smoky, clean = self.to_device(pairs.smoky), self.to_device(pairs.clean)
            self.eval_sets[split] = {
                "input": self.to_device(self.network_input(pairs.smoky)), "smoky": smoky, "clean": clean,
                "alpha": None if pairs.alpha is None else self.to_device(pairs.alpha[:, None]),
                "reference": {f"{split}/ref_{k}": v for k, v in self.quality(smoky, clean).items()},
            }
        return self.eval_sets[split]

    def quality(self, images: torch.Tensor, clean: torch.Tensor) -> dict[str, float]:
        """Mean PSNR, SSIM, UQI (``task.uqi``) and FSIMc of ``(N, 3, H, W)`` images in [0, 1] against ``clean``."""
        return {
            "psnr": psnr(images, clean).mean().item(),
            "ssim": ssim(images, clean).mean().item(),
            "uqi": self.uqi(images, clean).mean().item(),
            "fsimc": fsimc(images, clean).mean().item(),
        }

    def network_input(self, smoky: np.ndarray) -> np.ndarray:
        """``(N, 3, H, W)`` smoky RGB in [0, 1] → ``(N, 3 or 4, H, W)`` in [-1, 1]: RGB, then the dark channel."""
        mode = self.config.task.dark_channel
        channels = [smoky]
        if mode != "none":
            dark = np.stack([dark_channel(image.transpose(1, 2, 0), mode) for image in smoky])  # (N, H, W)
            channels.append(dark[:, None])
        return (np.concatenate(channels, axis=1) * 2 - 1).astype(np.float32)

    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        if self.config.task.augment == "dl4h":
            return self._dl4h_batch(rng)
        index = rng.integers(0, len(self.train_input), self.config.train.batch_size)
        flips = rng.random(len(index)) < 0.5
        inputs, targets = self.train_input[index], self.train_target[index]
        if self.config.task.flip and flips.any():
            inputs[flips], targets[flips] = inputs[flips, :, :, ::-1], targets[flips, :, :, ::-1]
        return self.to_device(inputs), self.to_device(targets)

    def _dl4h_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """The reproduction's transforms on whole training frames; its dark channel from the frame (transformed with
        it) or from the transformed crop, as ``task.dark_channel_before_transforms`` says."""
        task, train, size = self.config.task, self.data["train"], self.config.data.patch or self.config.data.tile
        with_dark = task.dark_channel != "none"
        inputs, targets = [], []
        for i in rng.integers(0, len(train), self.config.train.batch_size):
            planes = [train.smoky[i], train.clean[i]]
            if with_dark and task.dark_channel_before_transforms:
                planes.append((self.train_input[i, 3:4] + 1) / 2)  # the frame's dark channel, in [0, 1]
            out = dl4h_transform(np.concatenate(planes), size, rng)  # (6 or 7, size, size)
            inputs.append(self.network_input(out[None, :3])[0] if not task.dark_channel_before_transforms
                          else np.concatenate([out[:3], out[6:]]) * 2 - 1)
            targets.append(out[3:6] * 2 - 1)
        return self.to_device(np.stack(inputs).astype(np.float32)), self.to_device(np.stack(targets))

    def gan_loss(self, score: torch.Tensor, real: bool) -> torch.Tensor:
        label = torch.ones_like(score) if real else torch.zeros_like(score)
        if self.config.task.gan_loss == "lsgan":
            return F.mse_loss(score, label)
        if self.config.task.gan_loss == "l1":
            return F.l1_loss(score, label)
        return F.binary_cross_entropy_with_logits(score, label)

    def judge(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """D's scores of ``image``, seen with its condition (pix2pix) or alone (``task.conditional_d: false``)."""
        pair = torch.cat([condition, image], dim=1) if self.config.task.conditional_d else image
        return self.modules["discriminator"](pair).float()

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        condition, target = batch
        generator, discriminator = self.modules["generator"], self.modules["discriminator"]
        generator.train()
        discriminator.train()
        # the reproduction's gan.py labels fakes 1 and real images 0 for D (G still aims at 1)
        real_label = not self.config.task.swap_d_labels
        with self.autocast():
            fake = generator(condition)
            # 1) discriminator: real (condition, target) pairs against detached fakes, halved as pix2pix does
            real_score = self.judge(condition, target)
            fake_score = self.judge(condition, fake.detach())
            loss_d = 0.5 * (self.gan_loss(real_score, real_label) + self.gan_loss(fake_score, not real_label))
        self.optimize("discriminator", loss_d)
        # 2) generator: fool the updated discriminator and stay close to the target; D's weights get no gradient
        discriminator.requires_grad_(False)
        with self.autocast():
            loss_gan = self.gan_loss(self.judge(condition, fake), True)
            loss_l1 = F.l1_loss(fake.float(), target)
            loss_g = loss_gan + self.config.task.lambda_l1 * loss_l1
        self.optimize("generator", loss_g)
        discriminator.requires_grad_(True)
        parts = {"loss_g": loss_g, "loss_d": loss_d, "loss_gan": loss_gan, "loss_l1": loss_l1}
        return {"loss": loss_g.detach(), **{k: v.detach() for k, v in parts.items()}}

    @torch.no_grad()
    def evaluate(self, split: str = "val") -> Evaluation:
        check_eval_split(split)
        images_in = self.eval_set(split)
        generator = self.modules["generator"]
        generator.eval()
        with self.autocast():
            output = torch.cat([generator(chunk).float() for chunk in images_in["input"].split(EVAL_CHUNK)])
        output = ((output + 1) / 2).clamp(0, 1)
        metrics = {f"{split}/{k}": v for k, v in self.quality(output, images_in["clean"]).items()}
        metrics.update(images_in["reference"])
        for name in ("psnr", "ssim", "uqi", "fsimc"):
            metrics[f"{split}/delta_{name}"] = metrics[f"{split}/{name}"] - metrics[f"{split}/ref_{name}"]
        k = self.config.train.log_images
        images = {"input": images_in["smoky"][:k]}
        if self.config.task.dark_channel != "none":
            images["dark_channel"] = (images_in["input"][:k, 3:4] + 1) / 2
        images["output"] = output[:k]
        if images_in["alpha"] is not None:
            images["smoke_mask"] = images_in["alpha"][:k]
        images["target"] = images_in["clean"][:k]
        return Evaluation(metrics, outputs=output, targets=images_in["clean"], images=images)

    def cost_input(self, size: int) -> torch.Tensor:
        return torch.rand(1, input_channels(self.config.task.dark_channel), size, size, device=self.device) * 2 - 1


def _build_networks(config: Config) -> tuple[torch.nn.Module, torch.nn.Module]:
    """The generator (``model`` section, input channels set from the dark-channel option) and the PatchGAN, which
    sees the condition and an RGB image concatenated (or the RGB image alone, ``task.conditional_d: false``)."""
    channels = input_channels(config.task.dark_channel)
    generator = create_model(**{**config.model, "in_channels": channels})
    init = config.model.get("init", "normal")
    d_channels = channels + 3 if config.task.conditional_d else 3
    discriminator = create_model(
        "patchgan", in_channels=d_channels, ndf=config.task.ndf, n_layers=config.task.d_layers, init=init
    )
    return generator, discriminator
