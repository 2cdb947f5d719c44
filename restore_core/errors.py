"""User-facing errors: bad input that the CLI turns into one line and exit code 2."""

from __future__ import annotations

import difflib
import unicodedata
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


def non_ascii(text: str) -> str | None:
    """The first non-ASCII character of ``text`` described for a message, or None: a look-alike letter (Cyrillic
    'а' for Latin 'a', a non-breaking space) prints like the name it spoils, so a message must point at it.

    >>> non_ascii("trаin")
    "the non-ASCII character 'а' (U+0430 CYRILLIC SMALL LETTER A) at position 3"
    """
    for position, char in enumerate(text, start=1):
        if not char.isascii():
            code = " ".join(filter(None, (f"U+{ord(char):04X}", unicodedata.name(char, ""))))
            return f"the non-ASCII character {char!r} ({code}) at position {position}"
    return None


def unknown_name(kind: str, name: object, known: Iterable[str], where: str = "") -> UnknownNameError:
    """Build the error for an unknown name, listing the known ones and the closest match.

    Args:
        kind: what the name names (``model``, ``photo``).
        name: the unknown name.
        known: the names accepted.
        where: where the name was given, for the message (``in data.photos``).
    """
    known = sorted(known)
    spoiled = non_ascii(name) if isinstance(name, str) else None
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    notes = ([f"it has {spoiled}"] if spoiled else []) + ([f"did you mean '{close[0]}'?"] if close else [])
    hint = f" ({'; '.join(notes)})" if notes else ""
    return UnknownNameError(f"unknown {kind} '{name}'{f' {where}' if where else ''}{hint}; known: {', '.join(known)}")
