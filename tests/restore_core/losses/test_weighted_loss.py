"""A weighted loss takes the weights the config check takes, and refuses the ones it refuses, with the same message."""

import math

import pytest

from restore_core.errors import ConfigError
from restore_core.losses import WeightedLoss, check_loss_weights


@pytest.mark.parametrize("weight", [-1.0, math.nan, math.inf, -math.inf, True, "1"])
def test_a_weight_the_config_check_refuses_is_refused_with_its_message(weight):
    with pytest.raises(ConfigError) as checked:
        check_loss_weights({"l1": weight})
    with pytest.raises(ConfigError) as built:
        WeightedLoss({"l1": weight})
    message = f"loss weight 'loss.l1' must be a finite number >= 0, got {weight!r}"
    assert str(built.value) == str(checked.value) == message


def test_a_loss_with_every_weight_zero_is_refused():
    with pytest.raises(ConfigError, match=r"^the loss needs a term with a weight > 0 \(known: .*l1.*\); got loss"):
        WeightedLoss({"l1": 0, "mse": 0.0})


def test_zero_weights_switch_terms_off():
    loss = WeightedLoss({"l1": 0.5, "mse": 0})
    assert loss.weights == {"l1": 0.5} and list(loss.terms) == ["l1"]
