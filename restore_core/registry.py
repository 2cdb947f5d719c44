"""One registry per kind of thing (models, losses, tasks, data sources), in the style of timm and BasicSR."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from restore_core.errors import UnknownNameError, unknown_name

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to factories. Asking for an unknown name raises with the list of known names."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str | None = None) -> Callable[[T], T]:
        def add(obj: T) -> T:
            key = name or obj.__name__
            if key in self._entries:
                raise ValueError(f"{self.kind} '{key}' is registered twice")
            self._entries[key] = obj
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
