"""The registries (models, losses, metrics, tasks, spaces) put back as they were, for tests that register parts of
their own: the files after them in the same process (pytest-xdist runs files in any order) see the project's parts
alone, as a fresh process does (the "known: ..." lists of their messages, the models they parametrize over)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

import pytest


@contextlib.contextmanager
def registries_as_before() -> Iterator[None]:
    """Every registry's names, and the plugin files imported (imported again, a file registers its parts again),
    as they were on entry."""
    from restore_core import plugins
    from restore_core.registry import REGISTRIES

    before = [(registry, dict(registry._entries), dict(registry._modules)) for registry in REGISTRIES]
    files = set(plugins._FILES)
    try:
        yield
    finally:
        for registry, entries, modules in before:
            registry._entries, registry._modules = entries, modules
        for name in set(plugins._FILES) - files:
            sys.modules.pop(name, None)
            del plugins._FILES[name]


@pytest.fixture(autouse=True, scope="module")
def registries_restored_after_the_file():
    """Imported into a test file whose plugins register parts in this process, it puts the registries back after the
    file's last test (``from tests.registries import registries_restored_after_the_file  # noqa: F401``)."""
    with registries_as_before():
        yield
