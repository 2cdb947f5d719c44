"""A task of your own with data of your own: denoising grayscale images stored as NumPy arrays.

    data.root/
        noisy/<name>.npy    (H, W) float arrays in [0, 1]
        clean/<name>.npy    the same names, the same shapes

    python sweeps/run.py --import examples/plugins/tiny_net.py \
        --space examples/plugins/npy_denoise.py:DENOISE --set data.root=/data/my_pairs

The task owns its data, models, losses and optimizers and one training step; the platform's loop does the rest
(evaluation every ``train.eval_every`` steps, reporting, checkpoints, NaN and collapse stopping, TensorBoard).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from restore_core import ConfigError, DataError, Evaluation, Task, create_model, register_task
from restore_core.losses import WeightedLoss
from restore_core.metrics import psnr
from search_spaces import Param, SearchSpace


@dataclass(frozen=True)
class NpyPairs:
    """The ``data`` section: where the pairs are, the training crop, and how many pairs are held out: by name, the
    first ``n_val`` validate (they choose the checkpoint), the next ``n_test`` are the test split (evaluated once, on
    the chosen checkpoint, after the sweep); the rest train."""

    root: str | None = None
    patch: int = 32
    n_val: int = 2
    n_test: int = 2

    def validate(self) -> None:  # called when a config is validated: fail before anything runs
        if not self.root:
            raise ConfigError("data.root is required: the folder that holds noisy/ and clean/")
        if self.patch < 8 or self.n_val < 1 or self.n_test < 1:
            raise ConfigError(f"data.patch must be >= 8 and data.n_val and data.n_test >= 1; got {self.patch}, "
                              f"{self.n_val}, {self.n_test}")


def pair_names(root: str) -> list[str]:
    """The names found in both noisy/ and clean/ (nothing is read). A name missing on one side is an error."""
    folders = [os.path.join(root, side) for side in ("noisy", "clean")]
    for folder in folders:
        if not os.path.isdir(folder):
            raise DataError(f"{folder} is not a folder; data.root must hold noisy/ and clean/ with .npy arrays")
    noisy, clean = ({f for f in os.listdir(folder) if f.endswith(".npy")} for folder in folders)
    if noisy != clean or not noisy:
        odd = sorted(noisy ^ clean)[:3] or ["(no .npy files)"]
        raise DataError(f"{root}: noisy/ and clean/ must hold the same .npy names; unpaired: {', '.join(odd)}")
    return sorted(noisy)


@register_task("npy_denoise")
class NpyDenoise(Task):
    """Supervised denoising of (1, H, W) images: the model maps noisy to clean; PSNR and the reference (the noisy
    input's PSNR) on the held-out pairs."""

    DataOptions = NpyPairs
    loss_terms = ["l1", "mse"]  # and any loss term a user registers
    loss_required = True

    @classmethod
    def check_data(cls, config) -> None:
        names = pair_names(config.data.root)
        held_out = config.data.n_val + config.data.n_test
        if len(names) <= held_out:
            raise DataError(f"{config.data.root}: {len(names)} pairs, but data.n_val and data.n_test hold out "
                            f"{held_out}, which leaves none to train on")

    @classmethod
    def prepare_data(cls, config) -> dict[str, np.ndarray]:
        root, names = config.data.root, pair_names(config.data.root)
        noisy = np.stack([np.load(os.path.join(root, "noisy", n)) for n in names]).astype(np.float32)
        clean = np.stack([np.load(os.path.join(root, "clean", n)) for n in names]).astype(np.float32)
        val, test = config.data.n_val, config.data.n_val + config.data.n_test
        return {"train_noisy": noisy[test:], "train_clean": clean[test:], "val_noisy": noisy[:val],
                "val_clean": clean[:val], "test_noisy": noisy[val:test], "test_clean": clean[val:test]}

    def __init__(self, config, data, device):
        super().__init__(config, data, device)
        model = create_model(**config.model).to(device)
        self.modules = {"model": model}
        self.optimizers = {"model": torch.optim.Adam(model.parameters(), lr=config.optim.lr)}
        self.loss = WeightedLoss(config.loss).to(device)
        # the held-out pairs by split, as (N, 1, H, W) tensors on the device
        self.held_out = {split: (self.to_device(data[f"{split}_noisy"][:, None]),
                                 self.to_device(data[f"{split}_clean"][:, None])) for split in ("val", "test")}

    def sample_batch(self, rng: np.random.Generator):
        noisy, clean, p = self.data["train_noisy"], self.data["train_clean"], self.config.data.patch
        index = rng.integers(0, len(noisy), self.config.train.batch_size)
        ys = rng.integers(0, noisy.shape[1] - p + 1, len(index))
        xs = rng.integers(0, noisy.shape[2] - p + 1, len(index))

        def crop(images: np.ndarray) -> np.ndarray:  # (B, 1, p, p)
            return np.stack([images[i, y:y + p, x:x + p] for i, y, x in zip(index, ys, xs)])[:, None]

        return self.to_device(crop(noisy)), self.to_device(crop(clean))

    def train_step(self, batch):
        noisy, clean = batch
        model = self.modules["model"]
        model.train()
        loss, parts = self.loss(model(noisy), clean)
        self.optimize("model", loss)
        return {"loss": loss.detach(), **{f"loss_{k}": v.detach() for k, v in parts.items()}}

    @torch.no_grad()
    def evaluate(self, split: str = "val") -> Evaluation:
        """``val`` while training (it chooses the checkpoint), ``test`` once after the sweep; metric names start with
        the split."""
        noisy, clean = self.held_out[split]
        model = self.modules["model"]
        model.eval()
        output = model(noisy).clamp(0, 1)
        metrics = {f"{split}/psnr": psnr(output, clean).mean().item(),
                   f"{split}/ref_psnr": psnr(noisy, clean).mean().item()}
        metrics[f"{split}/delta_psnr"] = metrics[f"{split}/psnr"] - metrics[f"{split}/ref_psnr"]
        images = {"input": noisy, "output": output, "target": clean}
        return Evaluation(metrics, outputs=output, targets=clean, images=images)

    def cost_input(self, size: int) -> torch.Tensor:
        return torch.rand(1, 1, size, size, device=self.device)


DENOISE = SearchSpace(
    name="npy_denoise_lr",
    description="learning rate of tiny_net denoising your own .npy pairs (an example of a task of your own)",
    reproduces="nothing: an example",
    base={"task": {"name": "npy_denoise"}, "data": {"root": None, "patch": 16, "n_val": 2, "n_test": 2},
          "model": {"name": "tiny_net", "in_channels": 1, "out_channels": 1, "scale": 1, "residual": True,
                    "width": 8},
          "loss": {"l1": 1.0},
          "train": {"steps": 40, "batch_size": 2, "eval_every": 20, "cost_size": 32, "extra_metrics": ["mae"]}},
    params=(Param("optim.lr", kind="loguniform", grid=(1e-3, 1e-2), low=1e-4, high=1e-1, short="lr"),),
    scientific=("optim.lr",),
    nuisance=("train.seed",),
    metric="val/psnr",
    profiles={"smoke": {"train": {"steps": 4, "eval_every": 2, "batch_size": 1}}},
)
