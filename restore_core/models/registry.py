"""The model registry: ``create_model(name, **kwargs)`` and ``list_models()``."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from restore_core.errors import ConfigError
from restore_core.registry import Registry

MODELS: Registry = Registry("model")
register_model = MODELS.register


def model_options(name: str) -> list[str]:
    """The keyword arguments model ``name`` accepts."""
    return [p for p in inspect.signature(MODELS.get(name)).parameters if p != "self"]


def check_model_kwargs(name: str, kwargs: dict[str, Any]) -> None:
    """Raise :class:`ConfigError` naming the first keyword that model ``name`` does not take."""
    known = model_options(name)
    for key in kwargs:
        if key not in known:
            raise ConfigError(f"unknown option 'model.{key}' for model '{name}'; known: {', '.join(known) or 'none'}")


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model. Unknown names raise with the known ones; unknown options raise naming them."""
    factory = MODELS.get(name)
    check_model_kwargs(name, kwargs)
    return factory(**kwargs)


def list_models() -> list[str]:
    return MODELS.names()
