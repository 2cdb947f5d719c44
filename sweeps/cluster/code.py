"""The user's code that Ray's workers cannot import by themselves, uploaded with the job (``runtime_env``'s
``py_modules``): plugin files, and packages of plugin modules that are neither installed nor part of the project."""

from __future__ import annotations

import os
import sysconfig
from typing import Any

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def installed(path: str) -> bool:
    """Whether ``path`` lies where pip installs packages (the workers' environment has it too)."""
    roots = {sysconfig.get_paths()[key] for key in ("purelib", "platlib")}
    return any(os.path.commonpath([path, root]) == root for root in roots if root)


def uploads(plugins: tuple[dict[str, Any], ...] | list[dict[str, Any]], root: str = PROJECT_ROOT) -> list[str]:
    """The files and package folders to upload so that every worker imports the plugins as the driver does.

    Args:
        plugins: the run's plugin records (restore_core.plugins).
        root: the project's folder, which the workers have already (a local Ray, or a job's working_dir).
    """
    paths = []
    for record in plugins:
        path = record.get("path")
        if not path or record.get("kind") == "entry_point" or installed(path):
            continue
        if os.path.commonpath([os.path.abspath(path), root]) == root:
            continue
        if record.get("kind") == "module":  # the folder of its top-level package (or the module's own file)
            depth = record["name"].count(".") + (os.path.basename(path) == "__init__.py")
            for _ in range(depth):
                path = os.path.dirname(path)
        paths.append(path)
    return list(dict.fromkeys(paths))
