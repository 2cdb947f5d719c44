"""One registry per kind of thing (models, losses, metrics, tasks, spaces), in the style of timm and BasicSR.

Each registry remembers which module registered each name, so that the sweep driver can tell the parts a user's
own code registered (imported by their script before the sweep) and load that code in every worker too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from restore_core.errors import UnknownNameError, UserError, unknown_name

T = TypeVar("T")
PROJECT_PACKAGES = ("restore_core", "search_spaces", "analysis", "sweeps")
REGISTRIES: list[Registry] = []  # every registry, for user_modules()


class Registry(Generic[T]):
    """Maps names to factories. Asking for an unknown name raises with the list of known names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._modules: dict[str, str] = {}  # name -> the module that registered it
        REGISTRIES.append(self)

    def register(self, name: str | None = None, module: str | None = None) -> Callable[[T], T]:
        """A decorator that registers what it decorates under ``name`` (default: its ``__name__``).

        Args:
            name: the name configs use.
            module: the module registering it (default: the decorated object's ``__module__``).
        """

        def add(obj: T) -> T:
            key = name or obj.__name__
            if key in self._entries and self._entries[key] is not obj:
                raise UserError(f"{self.kind} '{key}' is registered twice: by {self._modules[key]} and by "
                                f"{module or getattr(obj, '__module__', None)}; give yours another name")
            self._entries[key] = obj
            self._modules[key] = module or getattr(obj, "__module__", None) or "__main__"
            return obj

        return add

    def get(self, name: str) -> T:
        # a name comes from config data, so it may be a list or a number; those are refused here, before a dict
        # lookup turns an unhashable one into a TypeError
        if not isinstance(name, str):
            raise UnknownNameError(
                f"a {self.kind} name must be a string; got {type(name).__name__} {name!r}; known: "
                f"{', '.join(self.names())}"
            )
        if name not in self._entries:
            raise unknown_name(self.kind, name, self._entries)
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: Any) -> bool:
        return isinstance(name, str) and name in self._entries

    def module_of(self, name: str) -> str:
        """The module that registered ``name``."""
        self.get(name)
        return self._modules[name]

    def user_modules(self) -> dict[str, str]:
        """The names registered by modules outside the project's packages, with their module."""
        return {key: module for key, module in self._modules.items() if module.split(".")[0] not in PROJECT_PACKAGES}


def user_registrations() -> list[tuple[str, str]]:
    """(name, module) of every part registered by a module outside the project, in any registry."""
    return [(name, module) for registry in REGISTRIES for name, module in registry.user_modules().items()]
