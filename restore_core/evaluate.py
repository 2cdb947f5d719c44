"""The test evaluation: a checkpoint the loop wrote, evaluated once on a split no trial trains or selects on.

The loop evaluates on validation only (``Task.evaluate("val")``); a sweep keeps each trial's checkpoint of its best
validation evaluation, and :func:`evaluate_checkpoint` runs that checkpoint on the ``test`` split when the trial has
ended. Like the loop, nothing here depends on Ray.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from restore_core.loop import CHECKPOINT_FILE, SharedData, pick_device
from restore_core.metrics import extra_metrics
from restore_core.schema import data_key, validate_config
from restore_core.tasks import get_task
from restore_core.tasks.base import Evaluation, Task

_BUILDING = threading.Lock()  # checkpoints are evaluated side by side in threads (analysis/evaluate_test.py)
IMAGE_SIDE = 256  # the centred crop of the first test image kept for the report (the grid shows 128 of it)


@dataclass
class CheckpointEvaluation:
    """What evaluating one checkpoint gives: the task's evaluation, the step the checkpoint was written at, and the
    seconds it took (building the task, loading the checkpoint, evaluating; not preparing the data)."""

    evaluation: Evaluation
    step: int
    seconds: float
    device: str


def load_checkpoint_task(config: Mapping, checkpoint_dir: str, data: SharedData | None = None,
                         device: torch.device | None = None, eval_sets: dict | None = None) -> tuple[Task, int]:
    """The task of ``config`` with the models of a checkpoint folder the loop wrote, and the checkpoint's step.

    Args:
        config: the trial's plain config.
        checkpoint_dir: a folder holding the loop's ``state.pt``.
        data: data prepared by :func:`~restore_core.loop.prepare_shared_data`; built here when missing or for another
            data config.
        device: where to evaluate (default: the config's ``train.device``, as the loop picks it).
        eval_sets: a dict kept by the caller across checkpoints: the task's evaluation sets (its inputs and the
            degraded input's reference metrics, ``Task.eval_sets``) are shared with every other task built with it
            for the same data, task and model sections and device, so they are built once (see
            :func:`eval_sets_key`).
    """
    cfg = validate_config(config)
    task_cls = get_task(cfg.task_name)
    if data is None or data.key != data_key(cfg):
        data = SharedData(data_key(cfg), task_cls.prepare_data(cfg))
    device = device or pick_device(cfg)
    with _BUILDING:  # one build at a time: it seeds torch's global generator, and some tasks draw from it
        torch.manual_seed(cfg.train.seed)  # the initial weights are overwritten; a fixed draw keeps it reproducible
        task = task_cls(cfg, data.data, device)
        if eval_sets is not None:
            task.eval_sets = eval_sets.setdefault(eval_sets_key(config, data.key, device), task.eval_sets)
    state = torch.load(os.path.join(checkpoint_dir, CHECKPOINT_FILE), map_location=device, weights_only=False)
    for name, module in task.modules.items():
        module.load_state_dict(state["modules"][name])
    task.load_extra_state(state.get("extra", {}))
    return task, int(state["step"])


def eval_sets_key(config: Mapping, data_key: str, device: torch.device) -> str:
    """What a task's evaluation sets depend on: the data, the task and model sections, the device (not the weights,
    the seed or the optimiser)."""
    return json.dumps([config.get("task"), config.get("model"), data_key, str(device)], sort_keys=True, default=str)


def evaluate_checkpoint(config: Mapping, checkpoint_dir: str, split: str = "test", data: SharedData | None = None,
                        device: torch.device | None = None, eval_sets: dict | None = None) -> CheckpointEvaluation:
    """Evaluate the checkpoint in ``checkpoint_dir`` on ``split`` (see :func:`load_checkpoint_task`)."""
    start = time.perf_counter()
    task, step = load_checkpoint_task(config, checkpoint_dir, data, device, eval_sets)
    evaluation = task.evaluate(split)
    # the user's registered metrics (train.extra_metrics) on the same outputs, as the loop adds them on validation
    evaluation.metrics.update(extra_metrics(task.config.train.extra_metrics, evaluation.outputs, evaluation.targets,
                                            split))
    return CheckpointEvaluation(evaluation, step, time.perf_counter() - start, str(task.device))


def first_image_crops(evaluation: Evaluation, side: int = IMAGE_SIDE) -> dict[str, np.ndarray]:
    """The centred ``side``×``side`` crop (or the whole image, if smaller) of the first image of every image batch of
    an evaluation, as ``(H, W, 3)`` uint8: the same place of the same test image for every trial."""
    crops = {}
    for name, batch in evaluation.images.items():
        if batch is None or not len(batch):
            continue
        image = batch[0].detach().float().clamp(0, 1).cpu()  # (C, H, W)
        height, width = image.shape[-2:]
        top, left = max(0, (height - side) // 2), max(0, (width - side) // 2)
        image = image[:, top : top + side, left : left + side]
        if image.shape[0] == 1:
            image = image.expand(3, -1, -1)
        crops[name] = (image[:3].permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
    return crops
