"""The registry of named search spaces, and spaces found in a user's own code (``FILE.py:NAME``, ``module:NAME``)."""

from __future__ import annotations

import os
import sys
from typing import Any

from restore_core.errors import UserError
from restore_core.plugins import import_file, import_module, is_file_spec, module_name_of_file, record_of
from restore_core.registry import Registry
from search_spaces.space import SearchSpace

SPACES: Registry[SearchSpace] = Registry("space")


def register_space(space: SearchSpace) -> SearchSpace:
    """Register ``space`` under its name (``MY_SPACE = register_space(SearchSpace(...))`` in a user's module)."""
    if not isinstance(space, SearchSpace):
        raise UserError(f"register_space takes a search_spaces.SearchSpace; got {type(space).__name__}")
    SPACES.register(space.name, module=sys._getframe(1).f_globals.get("__name__"))(space)
    return space


def get_space(name: str) -> SearchSpace:
    """The space called ``name``; an unknown name raises with the closest match and the known names."""
    return SPACES.get(name)


def list_spaces() -> list[str]:
    return SPACES.names()


def is_space_ref(text: str) -> bool:
    """Whether ``--space`` names a space in a user's code (``FILE.py:NAME``, ``module:NAME``), not a registered one."""
    return ":" in text


def find_space(ref: str) -> tuple[SearchSpace, str | None, dict[str, Any] | None]:
    """The space ``--space`` names: a registered name, or ``FILE.py:NAME`` / ``module:NAME`` (a SearchSpace the
    file or module defines), which is imported and registered under the space's own name.

    Returns:
        The space; the reference with a file made absolute (None for a registered name), which a run records to
        find the space again; the record of the code imported for it (None for a registered name).

    Raises:
        UserError: an unknown name, a file or module that does not import, or a NAME it does not define as a
            SearchSpace (the message lists those it defines).
    """
    if not is_space_ref(ref):
        return get_space(ref), None, None
    target, _, attribute = ref.rpartition(":")
    if not target or not attribute.isidentifier():
        raise UserError(f"--space {ref}: expected a registered name, FILE.py:NAME or module:NAME (NAME a SearchSpace "
                        "defined at the top level of the file or module)")
    if is_file_spec(target):
        loaded = sys.modules.get(module_name_of_file(target))
        # a file recorded where another machine had it (a cluster's copy, the submitting machine's file): its
        # module, already loaded from the run's plugins, holds the space
        module = loaded if loaded is not None and not os.path.isfile(target) else import_file(target)
        record = record_of(module, "file", module.__name__)
        ref = f"{os.path.abspath(target)}:{attribute}"
    else:
        module = import_module(target)
        record = record_of(module, "module", target)
    space = getattr(module, attribute, None)
    if not isinstance(space, SearchSpace):
        defined = sorted(key for key, value in vars(module).items() if isinstance(value, SearchSpace))
        raise UserError(f"--space {ref}: {target} defines no SearchSpace named {attribute}; it defines "
                        f"{', '.join(defined) or 'none'}")
    if space.name not in SPACES or get_space(space.name) is not space:
        SPACES.register(space.name, module=module.__name__)(space)  # a clash with another space's name is refused
    return space, ref, record
