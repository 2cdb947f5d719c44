"""A sweep validates every trial's config several times; the tasks' checks that build the model (and run it once)
run once per model config in a process, and a config they refuse is refused every time."""

import pytest
from torch import nn

from restore_core import register_model, validate_config
from restore_core.config import set_path
from restore_core.errors import ConfigError
from restore_core.models.checked import checked_once
from search_spaces import get_space
from tests.registries import registries_as_before

BUILT: list[int] = []  # one entry per CountedNet built, its width


class CountedNet(nn.Sequential):
    """Packed raw (4 channels) in, sRGB at twice the size out; counts its builds."""

    size_multiple = 2

    def __init__(self, width: int = 12):
        BUILT.append(width)
        super().__init__(nn.Conv2d(4, width, 3, padding=1), nn.Conv2d(width, 12, 1), nn.PixelShuffle(2))


@pytest.fixture(autouse=True, scope="module")
def _counted_net():
    """CountedNet registered for this file's tests alone: registered when the file is imported, it would be in the
    models that the files collected after it parametrize over (every model's options, its example input)."""
    with registries_as_before():
        register_model("counted_net")(CountedNet)
        yield


def lowlight(width: int) -> dict:
    """The lsid_lr smoke config on a CountedNet of ``width`` (a width of its own in each test: the checks are
    remembered for the whole process)."""
    BUILT.clear()
    config = get_space("lsid_lr").base_config("smoke")
    return set_path(config, "model", {"name": "counted_net", "width": width})


def test_the_trials_of_a_sweep_build_their_model_once():
    config = lowlight(8)
    for seed, lr in ((0, 1e-4), (1, 1e-4), (0, 3e-4)):  # the trials of a learning-rate sweep
        validate_config(set_path(set_path(config, "train.seed", seed), "optim.lr", lr))
    assert BUILT == [8]


def test_another_model_config_is_checked_again():
    config = lowlight(10)
    validate_config(config)
    validate_config(set_path(config, "model.width", 16))
    validate_config(config)
    assert BUILT == [10, 16]


def test_a_refused_config_is_refused_every_time():
    config = lowlight(6)
    bayer = set_path(config, "task.input", "bayer")
    for _ in range(2):
        with pytest.raises(ConfigError, match="^model 'counted_net' does not take task.input=bayer"):
            validate_config(bayer)
    assert BUILT == [6, 6]  # each refusal built it again (and tried both layouts on it)
    validate_config(config)  # the packed layout, checked once like any other
    validate_config(config)
    assert BUILT == [6, 6, 6]


def test_the_check_gets_the_config_itself_and_its_arguments():
    seen = []

    def check(model, *args):
        seen.append((model, args))
        return len(seen)

    model = {"name": "counted_net", "width": (3, 4)}  # a tuple stays a tuple: the JSON is the key only
    assert checked_once(check, model, "a") == checked_once(check, model, "a") == 1
    assert checked_once(check, model, "b") == 2
    assert seen == [(model, ("a",)), (model, ("b",))]
