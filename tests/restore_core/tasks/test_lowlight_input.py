"""The low-light task's input check: a model that refuses the input layout is a config error naming the layout to
use, and a model that fails for any other reason keeps its own error and traceback."""

import copy

import pytest
import torch
from torch import nn

from restore_core.errors import ConfigError
from restore_core.schema import validate_config
from restore_core.tasks.lowlight_input import check_model_takes_input
from search_spaces import get_space


class WrongDecoder(nn.Module):
    """Takes the packed input, but its second conv was built for the wrong number of channels (a model bug)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Conv2d(4, 8, 3, padding=1)
        self.decoder = nn.Conv2d(16, 12, 3, padding=1)

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        return nn.functional.pixel_shuffle(self.decoder(self.encoder(packed)), 2)


class RaisesInForward(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise ValueError("a bug in the model")


@pytest.mark.parametrize(
    "model, task_input, error",
    [(WrongDecoder(), "packed", RuntimeError), (RaisesInForward(), "packed", ValueError),
     (RaisesInForward(), "bayer", ValueError)],
)
def test_a_model_that_fails_for_its_own_reasons_keeps_its_error(model, error, task_input):
    with pytest.raises(error) as raised:
        check_model_takes_input(model, "broken", task_input, 32)
    assert not isinstance(raised.value, ConfigError)


def test_a_model_whose_first_layer_takes_neither_layout_is_a_config_error():
    config = copy.deepcopy(get_space("lsid_lr").base_config("smoke"))
    config["model"] = {"name": "unet"}
    with pytest.raises(ConfigError) as raised:
        validate_config(config)
    assert str(raised.value) == (
        "model 'unet' does not take task.input=packed ((B, 4, H/2, W/2) packed raw): its first layer takes 3 "
        "channels, not 4 (packed) or 1 (bayer); set the model's input channels or choose another model"
    )
