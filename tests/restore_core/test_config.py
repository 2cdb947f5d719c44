import copy

import pytest

from restore_core.config import check_range, deep_merge, flatten, parse_value, set_path
from restore_core.errors import ConfigError, UnknownNameError
from restore_core.schema import validate_config
from search_spaces import get_space


def base():
    return get_space("lsid_lr").base_config("smoke")


def test_base_config_validates_into_dataclasses():
    cfg = validate_config(base())
    assert cfg.train.steps == 4 and cfg.optim.milestones == [0.5] and cfg.data.patch == 32
    assert cfg.task.input == "packed" and cfg.loss == {"l1": 1.0}


@pytest.mark.parametrize(
    "path, value, message",
    [
        ("train.stepz", 3, "unknown config key 'train.stepz'; known in 'train': .*steps"),
        ("train.steps", "abc", "config key 'train.steps' must be int, got 'abc'"),
        ("train.steps", 0, "train.steps must be > 0"),
        ("optim.lr", True, "config key 'optim.lr' must be float"),
        ("optim.milestones", [0.7, 0.2], "increasing fractions"),
        ("loss.l2", 1.0, "unknown loss term 'loss.l2'; known: .*l1"),
        ("model.depth", 3, "unknown option 'model.depth' for model 'sid_unet'"),
        ("data.patch", 33, "data.patch and data.tile must be even"),
        ("data.patch", 48, "data.patch \\(48\\) must be a multiple of 32"),
        ("train.amp", "fp8", "must be one of none, bf16, fp16"),
    ],
)
def test_bad_values_name_the_key(path, value, message):
    with pytest.raises(ConfigError, match=message):
        validate_config(set_path(base(), path, value))


def test_unknown_section_task_and_model():
    with pytest.raises(ConfigError, match="unknown config section 'trian'"):
        validate_config({**base(), "trian": {}})
    with pytest.raises(UnknownNameError, match="unknown task 'lowlite'"):
        validate_config(set_path(base(), "task.name", "lowlite"))
    with pytest.raises(UnknownNameError, match=r"unknown model 'unet_x' \(did you mean 'unet'\?\); known: dncnn"):
        validate_config(set_path(base(), "model", {"name": "unet_x"}))


def test_nothing_mutates_the_config_it_was_given():
    config = base()
    snapshot = copy.deepcopy(config)
    validate_config(config)
    merged = deep_merge(config, {"train": {"steps": 9}})
    set_path(config, "optim.lr", 0.5)
    assert config == snapshot and merged["train"]["steps"] == 9


def test_set_path_merges_a_mapping_unless_told_to_replace():
    config = {"loss": {"l1": 1.0}, "train": {"steps": 3}}
    assert set_path(config, "loss", {"mse": 1.0}) == {"loss": {"l1": 1.0, "mse": 1.0}, "train": {"steps": 3}}
    assert set_path(config, "loss", {"mse": 1.0}, merge=False) == {"loss": {"mse": 1.0}, "train": {"steps": 3}}
    assert set_path(config, "loss", {}, merge=False)["loss"] == {}
    assert set_path(config, "loss", {})["loss"] == {"l1": 1.0}
    assert config == {"loss": {"l1": 1.0}, "train": {"steps": 3}}


@pytest.mark.parametrize(
    "bounds, value, message",
    [
        ({"gt": 0}, 0.0, "k must be a finite number > 0; got 0.0"),
        ({"gt": 0}, float("nan"), "k must be a finite number > 0; got nan"),
        ({"ge": 0}, float("inf"), "k must be a finite number >= 0; got inf"),
        ({"gt": 0}, 0, "k must be > 0; got 0"),
        ({"ge": 0, "lt": 1}, 1.0, "k must be in [0, 1); got 1.0"),
        ({"gt": 0, "le": 1}, float("nan"), "k must be in (0, 1]; got nan"),
        ({}, float("-inf"), "k must be a finite number; got -inf"),
    ],
)
def test_check_range_refuses_non_finite_numbers_and_states_the_range(bounds, value, message):
    with pytest.raises(ConfigError) as error:
        check_range("k", value, **bounds)
    assert str(error.value) == message
    check_range("k", 0.5, gt=0, lt=1)  # inside: no error


def test_helpers():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": {}}) == {"a.b": 1, "a.c": [1, 2], "d": {}}
    assert parse_value("1e-4") == 1e-4 and parse_value("[0.5]") == [0.5] and parse_value("star") == "star"
    assert parse_value("True") is True and parse_value("none") is None
