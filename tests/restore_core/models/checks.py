"""Checks shared by the model tests."""

import torch
from torch import nn

from restore_core.cost import count_parameters as n_params  # noqa: F401  (one parameter counter for the project)


def assert_every_parameter_gets_a_finite_gradient(model: nn.Module, loss: torch.Tensor) -> None:
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(p.grad).all(), f"{name} has a non-finite gradient"
        assert p.grad.abs().sum() > 0, f"{name} has an all-zero gradient"
