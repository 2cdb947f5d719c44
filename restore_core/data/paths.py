"""Why a data path is not the folder or file a loader expects, in words for a ``DataError``: a path that exists but
is of the other kind is not reported as missing."""

from __future__ import annotations

import os
from pathlib import Path


def folder_problem(path: str | Path) -> str | None:
    """What is wrong with ``path`` as a folder to list (``does not exist``, ``is a file, not a folder``), or None."""
    path = Path(path)
    if path.is_dir():
        return None
    if path.is_file():
        return "is a file, not a folder"
    return _absent(path) or "is not a folder"


def file_problem(path: str | Path) -> str | None:
    """What is wrong with ``path`` as a file to read (``does not exist``, ``is a folder, not a file``), or None."""
    path = Path(path)
    if path.is_file():
        return None
    if path.is_dir():
        return "is a folder, not a file"
    return _absent(path) or "is not a regular file"


def _absent(path: Path) -> str | None:
    """How ``path`` is missing (a link to nothing, a parent that is a file), or None if something is there."""
    if path.is_symlink() and not path.exists():
        return f"is a link to '{os.readlink(path)}', which does not exist"
    if path.exists():
        return None
    for parent in path.parents:
        if parent.exists():
            return "does not exist" if parent.is_dir() else f"does not exist ('{parent}' is a file, not a folder)"
    return "does not exist"
