"""Fixtures of the training-loop tests: the lsid_lr smoke profile cut to 4 steps, and its data prepared once."""

import pytest

from restore_core.config import set_path
from restore_core.loop import prepare_shared_data
from search_spaces import get_space


@pytest.fixture(scope="session")
def config():
    return set_path(get_space("lsid_lr").base_config("smoke"), "train.steps", 4)


@pytest.fixture(scope="session")
def shared(config):
    return prepare_shared_data(config)
