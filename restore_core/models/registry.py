"""The model registry: ``create_model(name, **kwargs)`` and ``list_models()``."""

from __future__ import annotations

import inspect
import typing
from typing import Any

from torch import nn

from restore_core.config import check_type
from restore_core.errors import ConfigError
from restore_core.registry import Registry

MODELS: Registry = Registry("model")
register_model = MODELS.register


class ModelOptionError(ConfigError):
    """A model option has a value the model cannot take.

    The message names the option as the config key ``model.<option>`` and says what is accepted; a model configured
    under another key (TCFL's discriminator, ``task.discriminator``) is renamed with :meth:`under`.
    """

    def __init__(self, model: str, option: str, accepted: str, value: Any, section: str = "model"):
        self.model, self.option, self.accepted, self.value, self.section = model, option, accepted, value, section
        super().__init__(f"{section}.{option} must be {accepted} for model '{model}'; got {value!r}")

    def under(self, section: str) -> ModelOptionError:
        """The same error for a model whose options sit under the config key ``section``."""
        return ModelOptionError(self.model, self.option, self.accepted, self.value, section)


def model_options(name: str) -> list[str]:
    """The keyword arguments model ``name`` accepts."""
    return [p for p in inspect.signature(MODELS.get(name)).parameters if p != "self"]


def check_model_kwargs(name: str, kwargs: dict[str, Any], section: str = "model") -> None:
    """Raise :class:`ConfigError` naming the first keyword that model ``name`` does not take, or whose value has
    the wrong type for the model's signature (the values' ranges are the model's own checks, when it is built).

    Args:
        name: the registered model.
        kwargs: its options.
        section: the config key the options sit under, for the messages (``model``, ``task.discriminator``).
    """
    known = model_options(name)
    hints = typing.get_type_hints(MODELS.get(name))
    for key, value in kwargs.items():
        if key not in known:
            raise ConfigError(
                f"unknown option '{section}.{key}' for model '{name}'; known: {', '.join(known) or 'none'}"
            )
        if key in hints:
            check_type(value, hints[key], f"{section}.{key}")


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model. Unknown names raise with the known ones; unknown options, options of the wrong type
    and option values the model cannot take raise :class:`ConfigError` naming them."""
    factory = MODELS.get(name)
    check_model_kwargs(name, kwargs)
    return factory(**kwargs)


def list_models() -> list[str]:
    return MODELS.names()
