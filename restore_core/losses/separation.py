"""The N_A/N_B separation term of the TCFL reproduction (jkhu29/tcfl, README "可以只用一个生成器嘛")."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restore_core.losses.registry import register_loss


class Separation(nn.Module):
    """``exp(−L1(a, b)) − 1``: 0 when the two maps are identical, falling towards −1 as they move apart.

    With a positive weight σ it rewards two noise estimates for differing, which the reproduction added to stop a
    discriminator-free TCFL generator from emitting one fixed map for every input. It is bounded below by −1, so a
    large σ pays to pull the maps far apart (the reproduction saw σ > 1 do exactly that).
    """

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.exp(-F.l1_loss(pred, target)) - 1


@register_loss("separation")
def separation() -> nn.Module:
    """σ·(exp(−L1(N_A, N_B)) − 1) of TCFL's two noise estimates (``pred`` = N_A, ``target`` = N_B)."""
    return Separation()
