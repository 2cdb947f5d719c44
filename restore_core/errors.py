"""User-facing errors: bad input that the CLI turns into one line and exit code 2."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class UserError(ValueError):
    """Bad input from the user (config, names, data). The message is one line and says what is accepted."""


class ConfigError(UserError):
    """A config key is unknown, has the wrong type or an invalid value."""


class DataError(UserError):
    """A data folder or file is missing, empty, unpaired, unreadable or too small."""


class UnknownNameError(UserError, KeyError):
    """A registry was asked for a name it does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0] if self.args else ""


def unknown_name(kind: str, name: object, known: Iterable[str]) -> UnknownNameError:
    """Build the error for an unknown name, listing the known ones and the closest match."""
    known = sorted(known)
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return UnknownNameError(f"unknown {kind} '{name}'{hint}; known: {', '.join(known)}")
