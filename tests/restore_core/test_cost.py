import pytest
import torch

from restore_core.cost import count_macs, count_parameters, example_input, measure_latency, model_cost
from restore_core.models import create_model, list_models


def test_macs_of_one_conv_by_hand():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, torch.rand(1, 3, 10, 12)) == 8 * 3 * 3 * 3 * 10 * 12
    assert count_parameters(conv) == 8 * 3 * 9 + 8


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_has_an_example_input(name):
    kwargs = {"width": 0.125} if name == "sid_unet" else {"ngf": 8} if name == "pix2pix_unet" else {}
    model = create_model(name, **kwargs)
    with torch.no_grad():
        assert model(example_input(name, 256)).numel() > 0


def test_cost_has_latency_and_macs():
    cost = model_cost(create_model("dncnn", depth=3, features=8), torch.rand(1, 1, 32, 32), repeats=2)
    assert cost["cost/params"] == 1 * 8 * 9 + 8 * 8 * 9 + 2 * 8 + 8 * 9  # conv, conv+BN, conv (no biases)
    assert cost["cost/macs"] > 0 and cost["cost/latency_ms"] > 0
    assert measure_latency(torch.nn.Identity(), torch.rand(2), repeats=3) >= 0
