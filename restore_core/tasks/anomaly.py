"""Anomaly ("spill") detection by reconstruction error (seed 004): a U-Net learns to reconstruct normal images with
λ·MSE + (1 − λ)·perceptual loss; an image whose reconstruction error is high is flagged as anomalous."""

from __future__ import annotations

import os

import numpy as np
import torch

from restore_core.data.folders import list_class_folders
from restore_core.data.photos import COLOUR_PHOTOS
from restore_core.errors import ConfigError
from restore_core.losses import WeightedLoss
from restore_core.metrics.image import psnr
from restore_core.metrics.thresholds import confusion_at, roc_auc, select_thresholds
from restore_core.models import create_model
from restore_core.models.checked import checked_once
from restore_core.models.feature_nets import (
    BACKBONES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    load_imagenet_weights,
    weights_cache_dir,
    weights_file,
)
from restore_core.sections import Config
from restore_core.tasks.anomaly_config import AnomalyData, AnomalyOptions
from restore_core.tasks.anomaly_data import AnomalySplits, augment_batch, prepare_splits
from restore_core.tasks.base import Evaluation, Task, check_eval_split
from restore_core.tasks.registry import register_task

# Threshold rules (names in the metrics) -> keys of select_thresholds.
RULES = {"best_f1": "best_f1", "tpr95": "tpr95", "tnr95": "tnr95", "mean": "mean_tpr_tnr"}
EVAL_CHUNK = 32  # images per forward pass at evaluation (bounds memory on large real test sets)


@register_task("anomaly")
class AnomalyTask(Task):
    """Reconstruct normal images; score every val/test image by its reconstruction error; pick thresholds on
    validation (best F1, TPR ≥ 95 %, TNR ≥ 95 %, their mean) and report their confusion counts on test (in the test
    evaluation of the chosen checkpoint, which scores the validation images again to pick the thresholds)."""

    Options = AnomalyOptions
    DataOptions = AnomalyData
    loss_terms = ["mse", "l1", "perceptual"]
    loss_required = True
    evaluated_side_by_side = True  # torch and NumPy only

    @classmethod
    def check_config(cls, config: Config) -> None:
        multiple, model_name = checked_once(_size_multiple, config.model), config.model["name"]
        sizes = (("data.patch", config.data.patch), ("data.tile", config.data.tile),
                 ("train.cost_size", config.train.cost_size))
        for name, size in sizes:
            if size % multiple:
                raise ConfigError(f"{name} ({size}) must be a multiple of {multiple} for model '{model_name}'")
        data = config.data
        if data.source == "synthetic":
            kinds = {name in COLOUR_PHOTOS for name in data.photos}
            if len(kinds) > 1:
                raise ConfigError(f"data.photos mixes colour and grayscale photos: {', '.join(data.photos)}")
            channels = 3 if kinds == {True} else 1
            for key in ("in_channels", "out_channels"):
                if config.model.get(key, 3) != channels:
                    raise ConfigError(f"model.{key} must be {channels} for the photos {', '.join(data.photos)}")
        task = config.task
        channels = config.model.get("in_channels", 3)
        if task.input_mean and len(task.input_mean) != channels:
            raise ConfigError(f"task.input_mean and task.input_std need {channels} values (one per input channel); "
                              f"got {len(task.input_mean)}")
        taps = BACKBONES[task.perceptual_backbone].taps
        if task.perceptual_layers is not None and (not task.perceptual_layers
                                                   or not set(task.perceptual_layers) <= set(taps)):
            raise ConfigError(f"task.perceptual_layers of {task.perceptual_backbone} must be among "
                              f"{', '.join(taps)}; got {task.perceptual_layers}")
        if task.perceptual_weights == "imagenet" and _uses_features(config):
            file_name, folder = weights_file(task.perceptual_backbone), weights_cache_dir()
            if not os.path.isfile(os.path.join(folder, file_name)):
                raise ConfigError(
                    f"task.perceptual_weights=imagenet needs torchvision's {file_name} in {folder} ($TORCH_HOME/hub/"
                    "checkpoints; nothing is downloaded); put it there or set task.perceptual_weights=random"
                )

    @classmethod
    def check_data(cls, config: Config) -> None:
        """The normal/ and anomalous/ folders, each with images, and so in test/ when there is one (nothing is
        read)."""
        if config.data.source == "folders":
            list_class_folders(config.data.root, ("normal", "anomalous"))
            if os.path.lexists(os.path.join(config.data.root, "test")):
                list_class_folders(os.path.join(config.data.root, "test"), ("normal", "anomalous"))

    @classmethod
    def prepare_data(cls, config: Config) -> AnomalySplits:
        return prepare_splits(config.data)

    @classmethod
    def split_items(cls, data: AnomalySplits) -> dict[str, list[str]]:
        return {split: list(names) for split, names in data.names.items()}

    def __init__(self, config: Config, data: AnomalySplits, device: torch.device):
        super().__init__(config, data, device)
        model = create_model(**config.model).to(device)
        self.modules = {"model": model}
        optim = config.optim
        self.optimizers = {"model": torch.optim.Adam(
            model.parameters(), lr=optim.lr, betas=tuple(optim.betas), weight_decay=optim.weight_decay
        )}
        task = config.task
        options = {"backbone": task.perceptual_backbone, "weights": task.perceptual_weights,
                   "feature_norm": task.perceptual_norm, "layers": task.perceptual_layers}
        if not task.perceptual_check_hash:
            options["weights"] = "random"  # filled below without the hash check
        # Random features are one fixed draw (seed 0): the loss is the same function in every trial and seed.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            self.loss = WeightedLoss(config.loss, perceptual=options)
            self.features = self.loss.terms["perceptual"] if "perceptual" in self.loss.terms else None
            if self.features is None and task.score == "mse+perceptual":
                self.features = WeightedLoss({"perceptual": 1.0}, perceptual=options).terms["perceptual"]
        if self.features is not None and task.perceptual_weights == "imagenet" and not task.perceptual_check_hash:
            self.features.weights_used = load_imagenet_weights(self.features.net, task.perceptual_backbone, False)
        self.loss.to(device)
        if self.features is not None:
            self.features.to(device)
        described = self.features.weights_used if self.features is not None else "none (no perceptual term)"
        self.weights_used = f"{task.perceptual_backbone}: {described}"
        self.mean = self.std = None
        if task.input_mean:  # (1, C, 1, 1): the study's transforms.Normalize(MEAN, STD)
            self.mean = torch.tensor(task.input_mean, device=device).view(1, -1, 1, 1)
            self.std = torch.tensor(task.input_std, device=device).view(1, -1, 1, 1)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """Images in [0, 1] -> the space the U-Net and the loss work in (itself without ``task.input_mean``)."""
        return images if self.mean is None else (images - self.mean) / self.std

    def to_unit(self, normalised: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`normalise`: back to the [0, 1] image scale."""
        return normalised if self.mean is None else normalised * self.std + self.mean

    def feature_input(self, normalised: torch.Tensor) -> torch.Tensor:
        """What the perceptual network gets for a tensor of the loss space (``task.perceptual_input``).

        ``images``: the image in [0, 1], which the network normalises with ImageNet's statistics. ``normalized``: a
        tensor that its normalisation turns back into ``normalised`` itself, so that the network sees the study's
        tensors as they are."""
        if self.mean is None:
            return normalised
        if self.config.task.perceptual_input == "images":
            return self.to_unit(normalised)
        imagenet_mean = normalised.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        imagenet_std = normalised.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        return normalised * imagenet_std + imagenet_mean

    def weighted_loss(self, output: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The weighted training loss of loss-space tensors and its terms; the perceptual term sees
        :meth:`feature_input` of them, the pixel terms the tensors themselves."""
        parts = {}
        for name, term in self.loss.terms.items():
            if name == "perceptual":
                parts[name] = term(self.feature_input(output), self.feature_input(target))
            else:
                parts[name] = term(output, target)
        return sum(self.loss.weights[name] * value for name, value in parts.items()), parts

    def sample_batch(self, rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Random ``patch`` crops of training images with the study's random flips; a share gets artefacts."""
        train, p = self.data.train, self.config.data.patch
        n, _, h, w = train.shape
        crops = []
        for i in rng.integers(0, n, self.config.train.batch_size):
            y, x = rng.integers(0, h - p + 1), rng.integers(0, w - p + 1)
            crop = train[i, :, y : y + p, x : x + p]
            flips = rng.random(2) < 0.5
            crop = crop[:, ::-1] if flips[0] else crop
            crop = crop[:, :, ::-1] if flips[1] else crop
            crops.append(crop)
        target = np.ascontiguousarray(np.stack(crops))
        inputs, _ = augment_batch(target, self.config.task.augment_share, rng)
        return self.to_device(inputs), self.to_device(target)

    def train_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        inputs, target = (self.normalise(x) for x in batch)
        model = self.modules["model"]
        model.train()
        with self.autocast():
            output = model(inputs)
            loss, parts = self.weighted_loss(output.float(), target)
        self.optimize("model", loss)
        return {"loss": loss.detach(), **{f"loss_{k}": v.detach() for k, v in parts.items()}}

    @torch.no_grad()
    def reconstruct(self, images: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Reconstructions of ``images`` (in [0, 1]) and their anomaly scores ``(N,)`` (higher = more anomalous),
        computed in the loss space from the reconstructions clamped to the image range."""
        model = self.modules["model"]
        model.eval()
        inputs = self.to_device(images)
        with self.autocast():
            outputs = torch.cat([
                self.to_unit(model(self.normalise(chunk)).float()) for chunk in inputs.split(EVAL_CHUNK)
            ]).clamp(0, 1)
        out_n, in_n = self.normalise(outputs), self.normalise(inputs)
        score = self.config.task.score
        if score == "loss":
            return outputs, torch.stack([self.weighted_loss(o[None], i[None])[0] for o, i in zip(out_n, in_n)])
        scores = (out_n - in_n).pow(2).mean(dim=(1, 2, 3))
        if score == "mse+perceptual":
            scores = scores + torch.stack([
                self.features(self.feature_input(o[None]), self.feature_input(i[None])) for o, i in zip(out_n, in_n)
            ])
        return outputs, scores

    @torch.no_grad()
    def evaluate(self, split: str = "val") -> Evaluation:
        """``val``: the reconstruction PSNR of the normal images, the AUC and the F1 at the best-F1 threshold.
        ``test``: the same on test, and the confusion counts of every threshold rule, each threshold chosen on
        validation."""
        check_eval_split(split)
        data = self.data
        images, labels = getattr(data, split), getattr(data, f"{split}_labels")
        outputs, scores = self.reconstruct(images)
        scores = scores.cpu().double().numpy()
        val_scores = scores if split == "val" else self.reconstruct(data.val)[1].cpu().double().numpy()
        normal = labels == 0
        inputs = self.to_device(images)
        metrics: dict[str, float | str] = {
            f"{split}/psnr": psnr(outputs[normal], inputs[normal]).mean().item(),
            f"{split}/auc": roc_auc(scores, labels),
            "perceptual_weights": self.weights_used,  # a string: which weights this trial's features hold
        }
        rows = []
        if not (np.isfinite(scores).all() and np.isfinite(val_scores).all()):
            metrics[f"{split}/f1"] = float("nan")
        else:
            thresholds = select_thresholds(val_scores, data.val_labels)
            for rule, key in RULES.items():
                counts = confusion_at(scores, labels, thresholds[key])
                rows.append({"rule": rule, **counts})
                if split == "test":
                    metrics.update({f"test/{rule}/{name.lower()}": value for name, value in counts.items()})
            metrics[f"{split}/f1"] = rows[0]["F1"]  # the best-F1 rule
        k = self.config.train.log_images
        shown = np.concatenate([np.flatnonzero(~normal)[:k], np.flatnonzero(normal)[:k]])
        shown_images = {"input": inputs[shown], "output": outputs[shown],
                        "error": (outputs[shown] - inputs[shown]).abs().mean(1, keepdim=True).mul(4).clamp(0, 1)}
        tables = {"thresholds": rows} if split == "test" and rows else {}
        return Evaluation(metrics, outputs=outputs if split == "val" else None,
                          targets=inputs if split == "val" else None, images=shown_images, tables=tables)

    def cost_input(self, size: int) -> torch.Tensor:
        return torch.rand(1, self.data.train.shape[1], size, size, device=self.device)


def _uses_features(config: Config) -> bool:
    return config.loss.get("perceptual", 0) > 0 or config.task.score == "mse+perceptual"


def _size_multiple(model_config: dict) -> int:
    """The sizes the model needs a multiple of (its ``size_multiple``; 1 when it names none)."""
    return getattr(create_model(**model_config), "size_multiple", 1)
