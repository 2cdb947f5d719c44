"""Loss terms and weighted sums of them: ``{"l1": 1.0, "ms_ssim": 0.2}`` means ``1.0·L1 + 0.2·(1 − MS-SSIM)``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import torch
from torch import nn

from restore_core.errors import ConfigError
from restore_core.registry import Registry

# name -> factory() returning a module ``(pred, target) -> scalar`` that is 0 for identical images.
LOSSES: Registry[Callable[..., nn.Module]] = Registry("loss")
register_loss = LOSSES.register


class WeightedLoss(nn.Module):
    """A weighted sum of registered terms. A weight of 0 switches a term off (it is not even built).

    ``forward`` returns the total and the value of every active term (for logging as ``train/loss_<name>``).
    """

    def __init__(self, weights: Mapping[str, float], **term_options):
        super().__init__()
        check_loss_weights(weights, required=True)
        self.weights = {name: float(w) for name, w in weights.items() if w != 0}
        self.terms = nn.ModuleDict({name: LOSSES.get(name)(**term_options.get(name, {})) for name in self.weights})

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        parts = {name: term(pred, target) for name, term in self.terms.items()}
        total = sum(self.weights[name] * value for name, value in parts.items())
        return total, parts


def check_loss_weights(weights: Mapping[str, object], allowed: list[str] | None = None, required: bool = False) -> None:
    """Raise :class:`ConfigError` for an unknown term, a term the task does not take, or a weight that is not a
    finite number >= 0; with ``required``, also when no term has a weight > 0 (the task has nothing else to train
    with)."""
    known = allowed if allowed is not None else LOSSES.names()
    for name, weight in weights.items():
        if name not in known and not known:
            raise ConfigError(f"loss.{name}: this task takes no loss terms (its losses are task options, see "
                              "task.*); leave the loss section empty")
        if name not in known:
            raise ConfigError(f"unknown loss term 'loss.{name}'; known: {', '.join(sorted(known))}")
        if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not 0 <= weight < math.inf:
            raise ConfigError(f"loss weight 'loss.{name}' must be a finite number >= 0, got {weight!r}")
    if required and not any(weight > 0 for weight in weights.values()):
        raise ConfigError(
            f"the loss needs a term with a weight > 0 (known: {', '.join(sorted(known))}); got loss {dict(weights)}"
        )
