"""Low-light raw to sRGB (seeds 001 and 002): a short-exposure Bayer frame in, the long-exposure sRGB image out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from restore_core.config import check_range
from restore_core.data.lowlight import linear_to_srgb, normalise_raw, pack_bayer, simulate_short_exposure
from restore_core.data.photos import COLOUR_PHOTOS, check_photos, split_tiles
from restore_core.errors import ConfigError, DataError
from restore_core.losses import MS_SSIM_MIN_SIZE, WeightedLoss
from restore_core.metrics.image import psnr, ssim
from restore_core.models import create_model
from restore_core.schema import Config
from restore_core.tasks.base import Evaluation, Task, check_data_root
from restore_core.tasks.registry import register_task


@dataclass(frozen=True)
class LowLightOptions:
    """``input``: what the model sees. ``packed`` is SID's 4-channel half-resolution raw; ``bayer`` the full-
    resolution 1-channel plane of the real-time network. Both come from the same samples."""

    input: Literal["packed", "bayer"] = "packed"


@dataclass(frozen=True)
class LowLightData:
    """Where the images come from and how they are degraded and cropped.

    ``source: synthetic`` degrades tiles of the embedded photos (``photos``, ``tile`` pixels square) into short-
    exposure raw with a ratio drawn per tile from [``ratio_min``, ``ratio_max``], deterministically from ``seed``.
    ``source: sid`` reads the Sony set of Learning-to-See-in-the-Dark under ``root``: training pairs from
    ``Sony_train_list.txt``, the evaluated pairs from ``Sony_<sid_eval_split>_list.txt`` (``val`` by default, for
    choosing settings; ``test`` for numbers comparable with the published tables, which are test-set numbers), at
    most ``max_pairs`` lines of each list (the whole Sony set needs far more memory than most machines have).
    ``patch`` is the side of the training crop in output (sRGB) pixels.
    """

    source: Literal["synthetic", "sid"] = "synthetic"
    root: str | None = None
    photos: list[str] = field(default_factory=lambda: list(COLOUR_PHOTOS))
    tile: int = 128
    n_train: int = 10
    n_val: int = 10
    patch: int = 64
    ratio_min: float = 100.0
    ratio_max: float = 300.0
    gain: float = 1.0
    read_noise: float = 4.0
    seed: int = 0
    sid_eval_split: Literal["val", "test"] = "val"
    max_pairs: int | None = None

    def validate(self) -> None:
        check_range("data.tile", self.tile, gt=0)
        check_range("data.patch", self.patch, gt=0)
        if self.patch % 2 or self.tile % 2:
            raise ConfigError(f"data.patch and data.tile must be even (Bayer pairs); got {self.patch}, {self.tile}")
        if self.patch > self.tile:
            raise ConfigError(f"data.patch ({self.patch}) must not exceed data.tile ({self.tile})")
        check_range("data.ratio_min", self.ratio_min, ge=1, note="(the exposure ratio)")
        check_range("data.ratio_max", self.ratio_max, ge=self.ratio_min, note="(data.ratio_min)")
        check_range("data.gain", self.gain, gt=0, note="(sensor counts per photo-electron)")
        check_range("data.read_noise", self.read_noise, ge=0, note="(counts)")
        if self.n_train <= 0 or self.n_val <= 1:
            raise ConfigError(f"data.n_train must be > 0 and data.n_val > 1; got {self.n_train}, {self.n_val}")
        check_range("data.seed", self.seed, ge=0)
        check_data_root(self.source, self.root, "sid", "the folder that holds Sony/ and the Sony_*_list.txt files")
        if self.max_pairs is not None and self.max_pairs < 1:
            raise ConfigError(f"data.max_pairs must be >= 1 or null (all pairs); got {self.max_pairs}")
        if self.source == "synthetic":
            check_photos(self.photos, COLOUR_PHOTOS, "colour")


@dataclass
class RawSamples:
    """Degraded samples, computed once: normalised Bayer ``(N, H, W)``, exposure ratio ``(N,)``, sRGB target
    ``(N, 3, H, W)``. Kept as numpy so that Ray's object store shares them with every trial without copies."""

    bayer: np.ndarray
    ratio: np.ndarray
    target: np.ndarray


@register_task("lowlight")
class LowLightTask(Task):
    """Supervised low-light restoration with a weighted pixel/structural loss and Adam."""

    Options = LowLightOptions
    DataOptions = LowLightData
    loss_terms = ["l1", "mse", "ssim", "ms_ssim"]
    loss_required = True

    @classmethod
    def check_config(cls, config: Config) -> None:
        model = create_model(**config.model)
        multiple = 2 * getattr(model, "size_multiple", 32)  # packed multiple -> output pixels
        if config.task.input == "bayer":
            multiple = getattr(model, "size_multiple", 32)
        _check_model_takes_input(model, config.model["name"], config.task.input, multiple)
        sizes = (("data.patch", config.data.patch), ("data.tile", config.data.tile),
                 ("train.cost_size", config.train.cost_size))
        for name, size in sizes:
            if size % multiple:
                raise ConfigError(
                    f"{name} ({size}) must be a multiple of {multiple} for model '{config.model['name']}'"
                )
        if any(w for n, w in config.loss.items() if n == "ms_ssim") and config.data.patch < MS_SSIM_MIN_SIZE:
            raise ConfigError(
                f"loss.ms_ssim needs data.patch >= {MS_SSIM_MIN_SIZE} (5 scales of an 11-pixel window); "
                f"got {config.data.patch}"
            )

    @classmethod
    def check_data(cls, config: Config) -> None:
        """SID's list files: present, readable, and naming files that exist (nothing is decoded)."""
        if config.data.source == "sid":
            from restore_core.data.sid_raw import read_sid_list

            for split in dict.fromkeys(("train", config.data.sid_eval_split)):
                read_sid_list(config.data.root, split)

    @classmethod
    def prepare_data(cls, config: Config) -> dict[str, RawSamples]:
        data = config.data
        if data.source == "sid":
            from restore_core.data.sid_raw import load_sid_pairs

            # The task's "val" split is the list named by sid_eval_split; SID's own code trains on the train list.
            lists = {"train": "train", "val": data.sid_eval_split}
            return {
                split: _samples_from_pairs(load_sid_pairs(data.root, name, max_pairs=data.max_pairs), data, name)
                for split, name in lists.items()
            }
        tiles = split_tiles(data.photos, data.tile, {"train": data.n_train, "val": data.n_val})
        out = {}
        for split_index, (split, images) in enumerate(tiles.items()):
            rng = np.random.default_rng([data.seed, split_index])
            ratios = rng.uniform(data.ratio_min, data.ratio_max, len(images))
            bayer = [
                normalise_raw(simulate_short_exposure(img, rng, r, data.gain, data.read_noise))
                for img, r in zip(images, ratios)
            ]
            target = np.stack([img.transpose(2, 0, 1) for img in images])
            out[split] = RawSamples(np.stack(bayer), ratios.astype(np.float32), target.astype(np.float32))
        return out

    def __init__(self, config: Config, data: dict[str, RawSamples], device: torch.device):
        super().__init__(config, data, device)
        model = create_model(**config.model).to(device)
        self.modules = {"model": model}
        self.optimizers = {
            "model": torch.optim.Adam(
                model.parameters(), lr=config.optim.lr, betas=tuple(config.optim.betas),
                weight_decay=config.optim.weight_decay,
            )
        }
        self.loss = WeightedLoss(config.loss).to(device)
        val = data["val"]
        self.val_input = self.model_input(self.to_device(val.bayer), self.to_device(val.ratio))
        self.val_target = self.to_device(val.target)
        self.val_reference = self.naive_pipeline(self.to_device(val.bayer), self.to_device(val.ratio))
        self.reference_metrics = {
            "val/ref_psnr": psnr(self.val_reference, self.val_target).mean().item(),
            "val/ref_ssim": ssim(self.val_reference, self.val_target).mean().item(),
        }

    def model_input(self, bayer: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """Amplify by the exposure ratio and clip at 1, as SID does; pack to 4 channels or keep the plane."""
        amplified = (bayer * ratio.view(-1, 1, 1)).clamp(max=1.0)  # (B, H, W)
        return pack_bayer(amplified) if self.config.task.input == "packed" else amplified.unsqueeze(1)

    @staticmethod
    def naive_pipeline(bayer: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """The reference: amplify, demosaic bilinearly (R, mean of the two G, B at half size, upsampled), and apply
        the sRGB transfer and tone curve. What a camera pipeline would make of the short exposure."""
        packed = pack_bayer((bayer * ratio.view(-1, 1, 1)).clamp(max=1.0))  # (B, 4, H/2, W/2): R, G, B, G
        half = torch.stack([packed[:, 0], (packed[:, 1] + packed[:, 3]) / 2, packed[:, 2]], dim=1)
        rgb = F.interpolate(half, scale_factor=2, mode="bilinear", align_corners=False)
        return linear_to_srgb(rgb)

    def train_step(self, batch: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        bayer, ratio, target = batch
        model = self.modules["model"]
        model.train()
        with self.autocast():
            output = model(self.model_input(bayer, ratio))
            loss, parts = self.loss(output.float(), target)
        self.optimize("model", loss)
        return {"loss": loss.detach(), **{f"loss_{k}": v.detach() for k, v in parts.items()}}

    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """Random crops at even offsets (Bayer phase kept) with SID's flips and transpose."""
        train, p = self.data["train"], self.config.data.patch
        n, h, w = train.bayer.shape
        index = rng.integers(0, n, self.config.train.batch_size)
        bayer, target = [], []
        for i in index:
            y, x = 2 * rng.integers(0, (h - p) // 2 + 1), 2 * rng.integers(0, (w - p) // 2 + 1)
            b, t = train.bayer[i, y : y + p, x : x + p], train.target[i, :, y : y + p, x : x + p]
            # As train_Sony.py: flip/transpose the packed planes (the RGGB phase stays) and the sRGB target alike.
            flips = rng.random(3) < 0.5
            b, t = _augment(b, t, flips)
            bayer.append(b)
            target.append(t)
        return (
            self.to_device(np.stack(bayer)),
            self.to_device(train.ratio[index]),
            self.to_device(np.stack(target)),
        )

    @torch.no_grad()
    def evaluate(self) -> Evaluation:
        model = self.modules["model"]
        model.eval()
        # In chunks of the training batch size: real SID frames are 12 MP each and do not fit in one forward.
        chunk = self.config.train.batch_size
        with self.autocast():
            output = torch.cat([
                model(self.val_input[i : i + chunk]).float().clamp(0, 1) for i in range(0, len(self.val_input), chunk)
            ])
        metrics = {"val/psnr": psnr(output, self.val_target).mean().item(),
                   "val/ssim": ssim(output, self.val_target).mean().item()}
        metrics.update(self.reference_metrics)
        metrics["val/delta_psnr"] = metrics["val/psnr"] - metrics["val/ref_psnr"]
        metrics["val/delta_ssim"] = metrics["val/ssim"] - metrics["val/ref_ssim"]
        k = self.config.train.log_images
        images = {"input": self.val_reference[:k], "output": output[:k], "target": self.val_target[:k]}
        return Evaluation(metrics, outputs=output, targets=self.val_target, images=images)

    def cost_input(self, size: int) -> torch.Tensor:
        if self.config.task.input == "packed":
            return torch.rand(1, 4, size // 2, size // 2, device=self.device)
        return torch.rand(1, 1, size, size, device=self.device)


def _augment(bayer: np.ndarray, target: np.ndarray, flips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from restore_core.data.lowlight import unpack_bayer

    packed = pack_bayer(bayer)  # (4, h, w)
    if flips[0]:
        packed, target = packed[:, ::-1], target[:, ::-1]
    if flips[1]:
        packed, target = packed[:, :, ::-1], target[:, :, ::-1]
    if flips[2]:
        packed, target = packed.transpose(0, 2, 1), target.transpose(0, 2, 1)
    return np.ascontiguousarray(unpack_bayer(packed)), np.ascontiguousarray(target)


# The input layouts of ``task.input``: (channels, shape, what it is).
INPUT_LAYOUTS = {"packed": (4, "(B, 4, H/2, W/2) packed raw"), "bayer": (1, "(B, 1, H, W) Bayer plane")}
# torch's message when a conv layer gets another number of channels than it was built for
_CONV_CHANNELS = re.compile(r"expected input\[([\d, ]+)\] to have (\d+) channels, but got \d+ channels instead")


def _example_input(task_input: str, size: int) -> torch.Tensor:
    if task_input == "packed":
        return torch.zeros(1, 4, size // 2, size // 2)
    return torch.zeros(1, 1, size, size)


def _forward_shape(model: torch.nn.Module, example: torch.Tensor) -> tuple[int, ...]:
    with torch.no_grad():
        return tuple(model.eval()(example).shape)


def _check_model_takes_input(model: torch.nn.Module, name: str, task_input: str, multiple: int) -> None:
    """One forward on the smallest valid input, so that a model/input mismatch fails before a sweep starts.

    ``packed`` feeds ``(B, 4, H/2, W/2)`` and ``bayer`` ``(B, 1, H, W)``; either way the model must return the
    ``(B, 3, H, W)`` sRGB image. A forward that fails is a config error only when the input layout is what the model
    refuses: the other layout runs, or the model's first layer wants another number of channels than either layout
    has. Any other failure is a fault of the model and keeps its traceback.
    """
    size = multiple
    example = _example_input(task_input, size)
    channels, shape = INPUT_LAYOUTS[task_input]
    other = "bayer" if task_input == "packed" else "packed"
    try:
        out_shape = _forward_shape(model, example)
    except (RuntimeError, ValueError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        refused = f"model '{name}' does not take task.input={task_input} ({shape})"
        wanted = _CONV_CHANNELS.search(str(error))
        if wanted and wanted.group(1) == ", ".join(map(str, example.shape)):  # the first layer refused the input
            wanted_channels = int(wanted.group(2))
            if wanted_channels == INPUT_LAYOUTS[other][0]:
                raise ConfigError(f"{refused}; try task.input={other} ({reason})") from None
            raise ConfigError(
                f"{refused}: its first layer takes {wanted_channels} channels, not {INPUT_LAYOUTS['packed'][0]} "
                f"(packed) or {INPUT_LAYOUTS['bayer'][0]} (bayer); set the model's input channels or choose another"
                f" model"
            ) from None
        try:
            _forward_shape(model, _example_input(other, size))
        except (RuntimeError, ValueError):
            raise error from None  # neither layout runs: a fault of the model, not of the config
        raise ConfigError(f"{refused}; try task.input={other} ({reason})") from None
    if out_shape != (1, 3, size, size):
        raise ConfigError(
            f"model '{name}' with task.input={task_input} returns shape {out_shape} for a {size}×{size} image; "
            f"the task needs (B, 3, {size}, {size}) sRGB"
        )


def _samples_from_pairs(
    pairs: list[tuple[np.ndarray, float, np.ndarray]], data: LowLightData, list_name: str
) -> RawSamples:
    """Stack real (bayer, ratio, ground truth) pairs cropped to their common size (multiples of 64)."""
    h = min(p[0].shape[0] for p in pairs) // 64 * 64
    w = min(p[0].shape[1] for p in pairs) // 64 * 64
    if min(h, w) < data.patch:
        raise DataError(
            f"the pairs of '{Path(data.root) / f'Sony_{list_name}_list.txt'}' crop to {h}x{w} (multiples of 64), "
            f"smaller than data.patch {data.patch}; lower data.patch"
        )
    bayer = np.stack([p[0][:h, :w] for p in pairs]).astype(np.float32)
    ratio = np.array([p[1] for p in pairs], dtype=np.float32)
    target = np.stack([p[2][:h, :w].transpose(2, 0, 1) for p in pairs]).astype(np.float32)
    return RawSamples(bayer, ratio, target)
