"""The contract between a task and the one training loop (``restore_core.loop``).

A task owns its data, models, losses and optimizers, and knows how to take one training step and how to
evaluate. The loop owns everything else: seeding, schedules, evaluation cadence, reporting, checkpointing,
NaN and collapse stopping, cost measurement and TensorBoard logging.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from restore_core.errors import ConfigError
from restore_core.sections import Config


def check_data_root(source: str, root: str | None, reading: str, layout: str) -> None:
    """``data.root`` must be given with the ``data.source`` that reads files (``reading``) and only with it, so that a
    root given with a source that generates its data is refused rather than ignored.

    Args:
        source: ``data.source``.
        root: ``data.root``.
        reading: the one source that reads ``data.root``.
        layout: what the folder holds, for the message (``the folder that holds input/ and target/``).
    """
    if source == reading and not root:
        raise ConfigError(f"data.source={reading} needs data.root, {layout}")
    if source != reading and root is not None:
        raise ConfigError(
            f"data.root is read only with data.source={reading}; data.source={source} reads no files "
            f"(set data.source={reading}, or leave data.root out)"
        )


SPLITS = ("train", "val", "test")
# Evaluated splits: val at every evaluation while training (it chooses the checkpoint), test once, on the chosen
# checkpoint (restore_core.evaluate); nothing trains on either.
EVAL_SPLITS = ("val", "test")


def check_eval_split(split: str) -> None:
    if split not in EVAL_SPLITS:
        raise ValueError(f"unknown evaluation split '{split}'; known: {', '.join(EVAL_SPLITS)}")


@dataclass(frozen=True)
class NoOptions:
    """A task section with nothing but ``name``."""


@dataclass
class Evaluation:
    """What ``Task.evaluate`` returns.

    Attributes:
        metrics: flat ``{"val/psnr": 27.1, "val/ref_psnr": 12.0, "val/delta_psnr": 15.1, ...}``.
        outputs: the model outputs on the evaluation inputs, ``(N, C, H, W)``, used for collapse detection.
        targets: the matching targets (or inputs, for unpaired tasks), same layout, for the collapse scale.
        images: named image batches ``(N, C, H, W)`` in [0, 1] for TensorBoard (input, prediction, target, ...).
        tables: optional extra per-trial tables (name -> list of row dicts), e.g. threshold tables.
    """

    metrics: dict[str, float]
    outputs: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    images: dict[str, torch.Tensor] = field(default_factory=dict)
    tables: dict[str, list[dict]] = field(default_factory=dict)


class Task:
    """Base class of tasks. Subclasses register with ``@register_task("name")`` and set the class attributes.

    Class attributes:
        Options: dataclass of the ``task`` section (without ``name``).
        DataOptions: dataclass of the ``data`` section.
        loss_terms: the built-in loss terms the ``loss`` section may name (None: any registered term); terms a
            user registers are taken too by a task that lists some and trains on them (``loss_required``).
        loss_required: whether the ``loss`` section must give a term a weight > 0 (False where the task trains
            with losses of its own, as the GAN tasks do).
        main_model: key in ``self.modules`` whose cost (params, MACs, latency) is reported.
        evaluated_side_by_side: whether two of its checkpoints may be evaluated at once in threads of one process
            (the test evaluation after a sweep does so on CPU): True only where ``evaluate`` calls nothing that two
            threads cannot run at once (torch, NumPy and OpenCV can; some C libraries, e.g. BM3D's, cannot).
    """

    Options: ClassVar[type] = NoOptions
    DataOptions: ClassVar[type]
    loss_terms: ClassVar[list[str] | None] = None
    loss_required: ClassVar[bool] = False
    main_model: ClassVar[str] = "model"
    evaluated_side_by_side: ClassVar[bool] = False

    def __init__(self, config: Config, data: Any, device: torch.device):
        self.config = config
        self.data = data
        self.device = device
        self.modules: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        # What ``evaluate`` needs of a split besides the models (inputs, targets, the degraded input's reference
        # metrics, classical baselines), built on first use by the task's ``eval_set``. It depends on the data, the
        # task and model sections and the device, never on the weights: ``restore_core.evaluate`` hands the tasks it
        # builds for one run's checkpoints one dict, so the references are computed once, not per checkpoint.
        self.eval_sets: dict[str, dict] = {}

    # -- set-up -------------------------------------------------------------------------------------------
    @classmethod
    def check_config(cls, config: Config) -> None:
        """Cross-field checks that must fail before a sweep starts (e.g. a patch too small for a loss)."""

    @classmethod
    def check_data(cls, config: Config) -> None:
        """The data checks that read no data (folders, list files, names), made by ``--dry-run`` too; loading the
        data (:meth:`prepare_data`) checks the rest."""

    @classmethod
    def prepare_data(cls, config: Config) -> Any:
        """Build the deterministic data once (it depends on ``config.data`` only, never on the training seed): the
        ``train``, ``val`` and ``test`` splits, no item in two of them.

        The sweep driver calls this once and shares the result with every trial through Ray's object store.
        """
        raise NotImplementedError

    @classmethod
    def split_items(cls, data: Any) -> dict[str, list[str]]:
        """What :meth:`prepare_data` put in each split (``train``, ``val``, ``test``), by name: a photo tile
        (``astronaut@0,128``), a file, a scene. Two splits never share a name, and items of different names share no
        image (the tests check both for every task and data source)."""
        raise NotImplementedError

    # -- the loop calls these -----------------------------------------------------------------------------
    def sample_batch(self, rng: np.random.Generator) -> Any:
        """Draw one training batch with ``rng`` (the loop derives ``rng`` from the seed and the step, so a resumed
        trial draws exactly the batches it would have drawn) and put it on the device."""
        raise NotImplementedError

    def train_step(self, batch: Any) -> dict[str, torch.Tensor]:
        """One optimisation step on ``batch``. Returns the losses as detached scalar tensors
        (``{"loss": ..., "loss_l1": ...}``, no ``.item()``: no host synchronisation per step); the loop logs them as
        ``train/<name>``."""
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, split: str = "val") -> Evaluation:
        """Evaluate the models as they are on ``split``: ``val`` (the loop, every ``train.eval_every`` steps; the
        checkpoint is chosen on it) or ``test`` (once, on the chosen checkpoint: ``restore_core.evaluate``). Metric
        names start with the split (``val/psnr``, ``test/psnr``); so do the classical baselines' a task reports
        (``val/baseline/bm3d/psnr``), computed on the same images."""
        raise NotImplementedError

    def cost_input(self, size: int) -> torch.Tensor:
        """An input of the main model for a ``size``×``size`` output image, for cost measurement."""
        raise NotImplementedError

    def extra_state(self) -> dict:
        """Anything beyond modules and optimizers that a checkpoint must hold."""
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def scaler_state(self) -> dict:
        """The fp16 gradient scalers' state by optimizer, for the checkpoint: a resumed run goes on with the loss
        scale it had reached instead of starting again at 65536 (and skipping steps that overflow)."""
        return {name: scaler.state_dict() for name, scaler in self.__dict__.get("_scalers", {}).items()}

    def load_scaler_state(self, state: dict) -> None:
        for name, saved in state.items():
            if saved:  # a scaler that never stepped has no state
                self._scaler(name).load_state_dict(saved)

    # -- helpers for subclasses ---------------------------------------------------------------------------
    def autocast(self) -> contextlib.AbstractContextManager:
        """Mixed precision as ``train.amp`` asks, on CUDA only (CPU runs in fp32)."""
        amp = self.config.train.amp
        if amp == "none" or self.device.type != "cuda":
            return contextlib.nullcontext()
        return torch.autocast("cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)

    def optimize(self, name: str, loss: torch.Tensor) -> None:
        """Zero, backpropagate and step optimizer ``name``; fp16 on CUDA goes through a gradient scaler."""
        optimizer = self.optimizers[name]
        optimizer.zero_grad(set_to_none=True)
        if self.config.train.amp == "fp16" and self.device.type == "cuda":
            scaler = self._scaler(name)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            optimizer.step()

    def _scaler(self, name: str) -> torch.amp.GradScaler:
        return self.__dict__.setdefault("_scalers", {}).setdefault(name, torch.amp.GradScaler(self.device.type))

    def to_device(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(array)).to(self.device, non_blocking=True)
