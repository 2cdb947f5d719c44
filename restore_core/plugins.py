"""Users' own code: modules and ``.py`` files that register models, tasks, losses, metrics and search spaces.

A plugin registers its parts when it is imported, as timm's and BasicSR's users do: ``@register_model("mynet")`` in
their own file. It is loaded three ways: ``sweeps/run.py --import MODULE_OR_FILE`` (and ``sweeps.run_sweep(...,
plugins=[...])``), an installed package's entry point in the group ``restore_sweeps.plugins``, or a module the
user's script imported itself before the sweep, found by what it registered. Each is loaded in the driver and in
every worker, and recorded in the run's manifest (kind, name, file and the file's SHA-256), so that ``--resume``,
``--retry-failed``, ``python -m analysis`` and a cluster submission load it again.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from types import ModuleType
from typing import Any

from restore_core.errors import UserError

ENTRY_POINT_GROUP = "restore_sweeps.plugins"
KINDS = ("module", "file", "entry_point")
_WARNED: set[tuple[str, str | None]] = set()  # changed plugins already named, once per run and file
_IMPORTING: list[str] = []  # the plugins being imported now, innermost last
_FILES: dict[str, str] = {}  # module name -> the plugin file it was imported from


def importing() -> str | None:
    """The plugin being imported now (None: none): a sweep started from inside one is a script without a
    ``__main__`` guard, imported again by a resume, an analysis or a Ray worker."""
    return _IMPORTING[-1] if _IMPORTING else None


def file_sha256(path: str) -> str | None:
    """The SHA-256 of a file's bytes (None: no such file)."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def is_file_spec(spec: str) -> bool:
    """Whether ``--import`` names a file (``my_models.py``, ``./x/y.py``) rather than a module (``my_models``)."""
    return spec.endswith(".py") or os.sep in spec or "/" in spec


def module_name_of_file(path: str) -> str:
    """The name a plugin file is imported under: its stem, as ``python -c 'import stem'`` from its folder would."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if not stem.isidentifier():
        raise UserError(f"--import {path}: '{stem}' is not a Python module name; rename the file to letters, digits "
                        "and '_' (not starting with a digit), e.g. my_models.py")
    return stem


def import_file(path: str) -> ModuleType:
    """Import the ``.py`` file at ``path`` as the module named by its stem, its folder added to ``sys.path`` (last,
    so that it shadows nothing) so that it can import files beside it. Importing the same file again is a no-op.

    Raises:
        UserError: no such file, a name another module already has, or a file Python cannot import.
    """
    path = os.path.abspath(path)
    if not os.path.isfile(path):
        raise UserError(f"--import {path}: no such file; give a .py file or a module name (e.g. my_models.py or "
                        "my_package.models)")
    name = module_name_of_file(path)
    loaded = sys.modules.get(name)
    if loaded is not None:
        other = os.path.abspath(getattr(loaded, "__file__", "") or "")
        # the same file, or its copy (Ray's workers import an uploaded plugin from their own folder)
        if other == path or (os.path.isfile(other) and file_sha256(other) == file_sha256(path)):
            return loaded
        raise UserError(f"--import {path}: a module named '{name}' is already imported from "
                        f"{getattr(loaded, '__file__', None) or 'a built-in'}; rename the file")
    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    _FILES[name] = path
    _IMPORTING.append(path)
    try:
        spec.loader.exec_module(module)
    except (ImportError, SyntaxError) as err:
        del sys.modules[name], _FILES[name]
        raise UserError(f"--import {path}: {type(err).__name__}: {err}") from None
    except BaseException:
        del sys.modules[name], _FILES[name]
        raise
    finally:
        _IMPORTING.pop()
    return module


def import_module(name: str) -> ModuleType:
    """Import the module ``name`` (on ``sys.path``: installed, or under ``PYTHONPATH``).

    Raises:
        UserError: it cannot be found or imported.
    """
    _IMPORTING.append(name)
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as err:
        if err.name and name.startswith(err.name):
            raise UserError(f"--import {name}: no module named '{err.name}' on the Python path; give a .py file "
                            "(e.g. ./my_models.py), install the package, or add its folder to PYTHONPATH") from None
        raise UserError(f"--import {name}: {type(err).__name__}: {err}") from None
    except (ImportError, SyntaxError) as err:
        raise UserError(f"--import {name}: {type(err).__name__}: {err}") from None
    finally:
        _IMPORTING.pop()


def record_of(module: ModuleType, kind: str, name: str) -> dict[str, Any]:
    """What the manifest keeps of a loaded plugin: how to load it again and the hash of the file it came from."""
    path = getattr(module, "__file__", None)
    path = os.path.abspath(path) if path else None
    return {"kind": kind, "name": name, "path": path, "sha256": file_sha256(path) if path else None}


def record_of_loaded(name: str) -> dict[str, Any]:
    """The record of the loaded module ``name``: a file's when it was imported from a plugin file (workers import it
    by its path), else a module's (workers import it by name)."""
    module = sys.modules[name]
    return record_of(module, "file" if name in _FILES else "module", name)


def load_plugin(spec: str) -> dict[str, Any]:
    """Import ``spec`` (a ``.py`` file or a module name); returns its record."""
    if is_file_spec(spec):
        module = import_file(spec)
        return record_of(module, "file", module.__name__)
    return record_of(import_module(spec), "module", spec)


def entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def load_entry_point(entry: importlib.metadata.EntryPoint) -> dict[str, Any]:
    """Load an installed package's plugin: its module is imported (which registers its parts); a callable it names
    (``package.module:register``) is called."""
    try:
        loaded = entry.load()
    except (ImportError, AttributeError, SyntaxError) as err:
        raise UserError(f"the plugin entry point '{entry.name} = {entry.value}' (group {ENTRY_POINT_GROUP}) does not "
                        f"load: {type(err).__name__}: {err}") from None
    if callable(loaded) and not isinstance(loaded, ModuleType):
        loaded()
    record = record_of(sys.modules[entry.module], "entry_point", entry.name)
    return {**record, "value": entry.value}


def load_plugins(specs: tuple[str, ...] | list[str] = (), with_entry_points: bool = True) -> list[dict[str, Any]]:
    """Import the plugins ``specs`` names and, unless told not to, every installed entry point of the group
    ``restore_sweeps.plugins``; returns their records, in the order loaded."""
    records = [load_entry_point(entry) for entry in entry_points()] if with_entry_points else []
    for spec in specs:
        record = load_plugin(spec)
        if record not in records:
            records.append(record)
    return records


def reload_plugins(records: list[dict[str, Any]] | tuple[dict[str, Any], ...], where: str) -> None:
    """Load again the plugins a run recorded (on a resume, in an analysis, in every worker). A file that changed
    since is loaded with a warning (the run's trials ran the code as it was); one that is gone is an error.

    Args:
        records: the records :func:`load_plugins` returned.
        where: what records them, for the messages (the manifest's path).

    Raises:
        UserError: a plugin that is gone or no longer imports, or a record that is not one.
    """
    for record in records:
        if not isinstance(record, dict) or record.get("kind") not in KINDS or not isinstance(record.get("name"), str):
            raise UserError(f"{where}: plugin record {record!r} is not one the sweep writes: an object with kind "
                            f"({', '.join(KINDS)}), name, path and sha256")
        if record["kind"] == "file":
            path = record.get("path")
            if isinstance(path, str) and os.path.isfile(path):
                module = import_file(path)
            elif importlib.util.find_spec(record["name"]) is not None:
                # a copy on the Python path instead: uploaded with a Ray job, or on a node without the driver's files
                module = import_module(record["name"])
            else:
                raise UserError(f"{where}: the run loads the plugin file {path}, which is gone; put it back (without "
                                "it the run's models, tasks and spaces cannot be built)")
        elif record["kind"] == "entry_point":
            found = [entry for entry in entry_points() if entry.name == record["name"]]
            if not found:
                raise UserError(f"{where}: the run loads the plugin entry point '{record['name']}' (group "
                                f"{ENTRY_POINT_GROUP}), which no installed package has now; install its package")
            load_entry_point(found[0])
            module = sys.modules[found[0].module]
        else:
            module = import_module(record["name"])
        now = record_of(module, record["kind"], record["name"])
        if record.get("sha256") and now["sha256"] != record["sha256"] and (where, now["path"]) not in _WARNED:
            _WARNED.add((where, now["path"]))
            print(f"warning: {where}: the plugin {now['path'] or record['name']} changed since the run recorded it "
                  "(its trials ran the code as it was then); it is loaded as it is now", file=sys.stderr)
