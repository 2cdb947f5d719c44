"""Low-light raw to sRGB (seeds 001 and 002): a short-exposure Bayer frame in, the long-exposure sRGB image out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from restore_core.data.folders import list_paired_folders
from restore_core.data.lowlight import linear_to_srgb, pack_bayer
from restore_core.data.sid_raw import check_disjoint_lists, read_sid_list
from restore_core.data.sid_scenes import select_entries
from restore_core.errors import ConfigError
from restore_core.losses import MS_SSIM_MIN_SIZE, WeightedLoss
from restore_core.metrics.image import psnr, ssim
from restore_core.metrics.skimage_uint8 import psnr_uint8, ssim_uint8
from restore_core.models import create_model
from restore_core.models.checked import checked_once
from restore_core.sections import Config
from restore_core.tasks.base import Evaluation, Task, check_eval_split
from restore_core.tasks.lowlight_config import LowLightData, LowLightOptions
from restore_core.tasks.lowlight_data import RawSamples, check_pair_count, flip_crop, prepare_samples, sid_selection
from restore_core.tasks.lowlight_input import check_model_takes_input
from restore_core.tasks.registry import register_task


@register_task("lowlight")
class LowLightTask(Task):
    """Supervised low-light restoration with a weighted pixel/structural loss and Adam."""

    Options = LowLightOptions
    DataOptions = LowLightData
    loss_terms = ["l1", "mse", "ssim", "ms_ssim"]
    loss_required = True
    evaluated_side_by_side = True  # torch and NumPy only

    @classmethod
    def check_config(cls, config: Config) -> None:
        multiple = checked_once(_size_multiple_taking_input, config.model, config.task.input)
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
        """SID's list files: present, readable, naming files that exist and the selected scenes, no scene in two lists;
        or the user's short/ and long/ folders pairing up, enough of them for the held-out splits (nothing is
        decoded)."""
        if config.data.source == "sid":
            check_disjoint_lists(config.data.root)
            for name, scenes, n_scenes, max_pairs in sid_selection(config.data).values():
                list_file = Path(config.data.root) / f"Sony_{name}_list.txt"
                select_entries(read_sid_list(config.data.root, name), list_file, scenes, n_scenes, max_pairs)
        if config.data.source == "pairs":
            check_pair_count(config.data, len(list_paired_folders(config.data.root, "short", "long")))

    @classmethod
    def prepare_data(cls, config: Config) -> dict[str, RawSamples]:
        return prepare_samples(config.data)

    @classmethod
    def split_items(cls, data: dict[str, RawSamples]) -> dict[str, list[str]]:
        return {split: list(samples.names) for split, samples in data.items()}

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

    def eval_set(self, split: str) -> dict:
        """The model input, target, reference (the naive pipeline's image) and reference metrics of ``split``, built
        once."""
        if split not in self.eval_sets:
            samples = self.data[split]
            bayer, ratio = self.to_device(samples.bayer), self.to_device(samples.ratio)
            target, reference = self.to_device(samples.targets(slice(None))), self.naive_pipeline(bayer, ratio)
            self.eval_sets[split] = {
                "input": self.model_input(bayer, ratio), "target": target, "reference": reference,
                "metrics": {f"{split}/ref_{k}": v for k, v in self.quality(reference, target).items()},
            }
        return self.eval_sets[split]

    def quality(self, images: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
        """Mean PSNR and SSIM of sRGB ``images`` against ``target``, in ``task.metric_convention``."""
        if self.config.task.metric_convention == "skimage_uint8":
            return {"psnr": psnr_uint8(images, target).mean().item(), "ssim": ssim_uint8(images, target).mean().item()}
        return {"psnr": psnr(images, target).mean().item(), "ssim": ssim(images, target).mean().item()}

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
            b, t = train.bayer[i, y : y + p, x : x + p], train.targets(i)[:, y : y + p, x : x + p]
            # As train_Sony.py: flip/transpose the packed planes (the RGGB phase stays) and the sRGB target alike.
            flips = rng.random(3) < 0.5
            b, t = flip_crop(b, t, flips)
            bayer.append(b)
            target.append(t)
        return (
            self.to_device(np.stack(bayer)),
            self.to_device(train.ratio[index]),
            self.to_device(np.stack(target)),
        )

    @torch.no_grad()
    def evaluate(self, split: str = "val") -> Evaluation:
        check_eval_split(split)
        images_in = self.eval_set(split)
        inputs, target = images_in["input"], images_in["target"]
        model = self.modules["model"]
        model.eval()
        # In chunks of the training batch size: real SID frames are 12 MP each and do not fit in one forward.
        chunk = self.config.train.batch_size
        with self.autocast():
            output = torch.cat([model(inputs[i : i + chunk]).float().clamp(0, 1) for i in range(0, len(inputs), chunk)])
        metrics = {f"{split}/{k}": v for k, v in self.quality(output, target).items()}
        metrics.update(images_in["metrics"])
        for name in ("psnr", "ssim"):
            metrics[f"{split}/delta_{name}"] = metrics[f"{split}/{name}"] - metrics[f"{split}/ref_{name}"]
        k = self.config.train.log_images
        images = {"input": images_in["reference"][:k], "output": output[:k], "target": target[:k]}
        return Evaluation(metrics, outputs=output, targets=target, images=images)

    def cost_input(self, size: int) -> torch.Tensor:
        if self.config.task.input == "packed":
            return torch.rand(1, 4, size // 2, size // 2, device=self.device)
        return torch.rand(1, 1, size, size, device=self.device)


def _size_multiple_taking_input(model_config: dict, task_input: str) -> int:
    """The output sizes the model needs a multiple of, once a forward shows it takes ``task_input``."""
    model = create_model(**model_config)
    multiple = 2 * getattr(model, "size_multiple", 32)  # packed multiple -> output pixels
    if task_input == "bayer":
        multiple = getattr(model, "size_multiple", 32)
    check_model_takes_input(model, model_config["name"], task_input, multiple)
    return multiple
