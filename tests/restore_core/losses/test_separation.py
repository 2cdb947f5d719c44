"""The TCFL reproduction's separation term exp(−L1(N_A, N_B)) − 1 on hand-made noise maps."""

import math

import pytest
import torch

from restore_core.losses import LOSSES, WeightedLoss


def test_value_on_hand_made_noise_maps():
    term = LOSSES.get("separation")()
    n_a = torch.zeros(2, 1, 4, 4)
    n_b = torch.full((2, 1, 4, 4), 0.5)
    n_b[:, :, :2] = -0.5  # |difference| 0.5 everywhere, half of it negative: L1 = 0.5
    assert term(n_a, n_b).item() == pytest.approx(math.exp(-0.5) - 1)
    n_c = n_a.clone()
    n_c[0, 0, 0, 0] = 3.2  # one pixel of 32 off by 3.2: L1 = 0.1
    assert term(n_a, n_c).item() == pytest.approx(math.exp(-0.1) - 1)
    assert term(n_b, n_b).item() == 0.0  # identical maps: the term is off
    assert term(n_a, n_a + 100).item() == pytest.approx(-1.0)  # bounded below by −1, however far apart


def test_weighted_sum_scales_it_and_gradient_pushes_the_maps_apart():
    n_a = torch.tensor([[[[0.1, 0.2], [0.3, 0.4]]]], requires_grad=True)
    n_b = torch.tensor([[[[0.2, 0.2], [0.2, 0.6]]]])
    total, parts = WeightedLoss({"separation": 2.5})(n_a, n_b)  # L1 = (0.1 + 0 + 0.1 + 0.2) / 4 = 0.1
    assert parts["separation"].item() == pytest.approx(math.exp(-0.1) - 1)
    assert total.item() == pytest.approx(2.5 * (math.exp(-0.1) - 1))
    total.backward()
    # minimising it moves every differing pixel of n_a away from n_b: the gradient has the sign of n_b − n_a
    step = -n_a.grad[0, 0]
    assert step[0, 0] < 0 and step[1, 0] > 0 and step[1, 1] < 0
