"""``validate_config``: a plain config dict checked against the registries and built into the typed sections
(:mod:`restore_core.sections`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping

from restore_core.config import SECTIONS, from_dict
from restore_core.errors import ConfigError, unknown_name
from restore_core.losses import LOSSES, check_loss_weights
from restore_core.metrics import METRICS
from restore_core.models import MODELS, check_model_kwargs, list_models
from restore_core.sections import Config, OptimConfig, TrainConfig
from restore_core.tasks import get_task

__all__ = ["Config", "OptimConfig", "TrainConfig", "data_key", "validate_config"]


def validate_config(raw: Mapping, cross_field: bool = True) -> Config:
    """Check a plain config dict and build the typed :class:`Config`. Raises :class:`ConfigError` naming the key.

    ``cross_field=False`` leaves out the task's own rules across sections (``Task.check_config``), which may build
    the model and look for pretrained weights on this machine: what reading a finished run needs is the rest."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a config must be a mapping with sections {', '.join(SECTIONS)}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(str(unknown_name("config section", unknown[0], SECTIONS)))
    for section in SECTIONS:
        if not isinstance(raw.get(section, {}), Mapping):
            raise ConfigError(f"config section '{section}' must be a mapping, got {raw.get(section)!r}")
    task_section = dict(raw.get("task", {}))
    if "name" not in task_section:
        raise ConfigError("config key 'task.name' is missing")
    task_cls = get_task(task_section.pop("name"))
    model = dict(raw.get("model", {}))
    if "name" not in model:
        raise ConfigError(f"config key 'model.name' is missing; known models: {', '.join(list_models())}")
    MODELS.get(model["name"])
    check_model_kwargs(model["name"], {k: v for k, v in model.items() if k != "name"})
    loss = dict(raw.get("loss", {}))
    terms = task_cls.loss_terms
    if terms and task_cls.loss_required:  # a task trained on a weighted (pred, target) loss takes the user's terms too
        terms = [*terms, *LOSSES.user_modules()]
    check_loss_weights(loss, terms, required=task_cls.loss_required)
    config = Config(
        task=from_dict(task_cls.Options, task_section, "task"),
        data=from_dict(task_cls.DataOptions, raw.get("data", {}), "data"),
        model=model,
        loss=loss,
        optim=from_dict(OptimConfig, raw.get("optim", {}), "optim"),
        train=from_dict(TrainConfig, raw.get("train", {}), "train"),
        raw=dict(raw),
    )
    for name in config.train.extra_metrics:
        if name not in METRICS:
            raise ConfigError(str(unknown_name("metric", name, METRICS.names(), where="in train.extra_metrics")))
    if cross_field:
        task_cls.check_config(config)
    return config


def data_key(config: Config) -> str:
    """What the prepared data depends on: the task and its data section (never the training seed)."""
    return json.dumps({"task": config.task_name, "data": dataclasses.asdict(config.data)}, sort_keys=True)
