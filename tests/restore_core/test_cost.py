import time

import pytest
import torch

from restore_core import cost as cost_module
from restore_core.cost import count_macs, count_parameters, example_input, measure_latency, model_cost, trial_cost
from restore_core.models import create_model, list_models


def test_macs_of_one_conv_by_hand():
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    assert count_macs(conv, torch.rand(1, 3, 10, 12)) == 8 * 3 * 3 * 3 * 10 * 12
    assert count_parameters(conv) == 8 * 3 * 9 + 8


# What each model makes of its example input for a 256×256 image: restorers give back the full-size image (the SID
# U-Net from packed Bayer at half resolution, the real-time network from the Bayer plane), DnCNN the noise of its one
# channel, the pix2pix PatchGAN a 30×30 map (70×70 patches), TCFL's discriminator a map of H/16 × W/16.
OUTPUT_SHAPES = {
    "sid_unet": (1, 3, 256, 256),
    "lamba_rt": (1, 3, 256, 256),
    "pix2pix_unet": (1, 3, 256, 256),
    "unet": (1, 3, 256, 256),
    "dncnn": (1, 1, 256, 256),
    "patchgan": (1, 1, 30, 30),
    "patchgan_in": (1, 1, 16, 16),
}


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_has_an_example_input(name):
    kwargs = {"width": 0.125} if name == "sid_unet" else {"ngf": 8} if name == "pix2pix_unet" else {}
    model = create_model(name, **kwargs)
    with torch.no_grad():
        assert tuple(model(example_input(name, 256)).shape) == OUTPUT_SHAPES[name]


def test_cost_has_latency_and_macs():
    cost = model_cost(create_model("dncnn", depth=3, features=8), torch.rand(1, 1, 32, 32), repeats=2)
    assert cost["cost/params"] == 1 * 8 * 9 + 8 * 8 * 9 + 2 * 8 + 8 * 9  # conv, conv+BN, conv (no biases)
    assert cost["cost/macs"] == (1 * 8 * 9 + 8 * 8 * 9 + 8 * 9) * 32 * 32  # the three convs; BatchNorm not counted
    assert cost["cost/latency_ms"] > 0


def test_a_trials_cost_counts_an_architecture_once_per_process_and_measures_its_latency():
    example = torch.rand(1, 1, 32, 32)
    first = trial_cost(create_model("dncnn", depth=3, features=8), example)
    assert first == {**model_cost(create_model("dncnn", depth=3, features=8), example),
                     "cost/latency_ms": first["cost/latency_ms"]}
    assert first["cost/latency_ms"] > 0
    counted = dict(cost_module._COUNTED)
    # another instance of the architecture (other weights) takes the count made for the first
    assert trial_cost(create_model("dncnn", depth=3, features=8), example)["cost/macs"] == first["cost/macs"]
    assert cost_module._COUNTED == counted
    # another architecture, or another input, is counted
    wider = trial_cost(create_model("dncnn", depth=3, features=16), example)
    assert wider["cost/params"] == 1 * 16 * 9 + 16 * 16 * 9 + 2 * 16 + 16 * 9 != first["cost/params"]
    larger = trial_cost(create_model("dncnn", depth=3, features=8), torch.rand(1, 1, 64, 64))
    assert larger["cost/macs"] == 4 * first["cost/macs"] and len(cost_module._COUNTED) == len(counted) + 2


def test_latency_is_the_median_forward_time():
    class Sleeps(torch.nn.Module):
        """Forward passes of 200 ms (the warm-up), then 10, 30 and 200 ms."""

        def __init__(self):
            super().__init__()
            self.seconds = [0.2, 0.01, 0.03, 0.2]

        def forward(self, x):
            time.sleep(self.seconds.pop(0))
            return x

    # the median of the timed passes is 30 ms; their mean is 80, min 10, max 200, and with the warm-up counted
    # the median would be 115
    model = Sleeps()
    assert 30 <= measure_latency(model, torch.rand(2), repeats=3, warmup=1) < 60
    assert model.seconds == []  # one warm-up pass and three timed ones, no more
