import pytest

from restore_core.schedule import lr_factor
from restore_core.schema import OptimConfig


def test_step_schedule_of_sid_halves_training():
    optim = OptimConfig(lr=1e-4, milestones=[0.5])
    assert [lr_factor(optim, s, 100) for s in (0, 49, 50, 99)] == [1.0, 1.0, pytest.approx(0.1), pytest.approx(0.1)]


def test_four_equal_parts():
    optim = OptimConfig(lr=1e-3, milestones=[0.25, 0.5, 0.75])
    rates = [optim.lr * lr_factor(optim, s, 400) for s in (0, 100, 200, 300, 399)]
    assert rates == pytest.approx([1e-3, 1e-4, 1e-5, 1e-6, 1e-6])


def test_linear_decay_of_pix2pix():
    optim = OptimConfig(schedule="linear", decay_start=0.5)
    assert [lr_factor(optim, s, 100) for s in (0, 50, 75, 100)] == pytest.approx([1.0, 1.0, 0.5, 0.0])
