"""The registry of named search spaces."""

from __future__ import annotations

from restore_core.registry import Registry
from search_spaces.space import SearchSpace

SPACES: Registry[SearchSpace] = Registry("space")


def register_space(space: SearchSpace) -> SearchSpace:
    SPACES.register(space.name)(space)
    return space


def get_space(name: str) -> SearchSpace:
    """The space called ``name``; an unknown name raises with the closest match and the known names."""
    return SPACES.get(name)


def list_spaces() -> list[str]:
    return SPACES.names()
