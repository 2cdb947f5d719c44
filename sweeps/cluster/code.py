"""The user's code that Ray's workers cannot import by themselves, uploaded with the job (``runtime_env``'s
``py_modules``): plugin files, and packages of plugin modules that are neither installed nor part of the project.

A sweep submitted as a Ray job takes its plugins along in the job's own runtime env, and the job imports its copies
by module name. The job's driver then adds none of them again (Ray refuses a driver's ``py_modules`` beside the
job's), and records each as the submitting machine loaded it (its file and hash, named in the job's environment
variable :data:`SUBMITTED`), so that an analysis or a resume there finds the user's file, and one on the cluster its
copy by name.
"""

from __future__ import annotations

import json
import os
import sys
import sysconfig
from typing import Any

from restore_core.errors import UserError
from restore_core.plugins import record_of_loaded
from sweeps.ray_private import job_runtime_env

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SUBMITTED = "RESTORE_SWEEPS_SUBMITTED_PLUGINS"  # JSON: the records of the plugins a job took along, as submitted


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


def submitted_env(plugins: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> dict[str, str]:
    """The job's environment variable naming the plugins it takes along (those :func:`uploads` names), as this
    machine loaded them; empty when it takes none."""
    taken = [record for record in plugins if uploads([record])]
    return {SUBMITTED: json.dumps(taken)} if taken else {}


def submitted() -> list[dict[str, Any]]:
    """The records of the plugins the job this process runs in took along (empty: none, or not a job).

    Raises:
        UserError: the variable holds something other than a JSON list of objects.
    """
    text = os.environ.get(SUBMITTED)
    if not text:
        return []
    try:
        records = json.loads(text)
    except ValueError:
        records = None
    if not isinstance(records, list) or not all(isinstance(r, dict) and "name" in r for r in records):
        raise UserError(f"{SUBMITTED} must be a JSON list of plugin records, as sweeps/submit.py sets it; got "
                        f"{text[:80]!r}; unset it")
    return records


def as_submitted(plugins: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> tuple[dict[str, Any], ...]:
    """The run's plugin records, each one the job took along replaced by the record of the file it was submitted
    from, when their hashes match (the job's copy holds the same code)."""
    origins = {record["name"]: record for record in submitted()}
    records = []
    for record in plugins:
        origin = origins.get(record.get("name"))
        records.append(origin if origin and origin.get("sha256") == record.get("sha256") else record)
    unique = {(r.get("kind"), r.get("name"), r.get("path")): r for r in records}
    return tuple(unique.values())


def driver_runtime_env(plugins: tuple[dict[str, Any], ...] | list[dict[str, Any]]) -> tuple[dict | None, bool]:
    """The runtime env the driver's ``ray.init`` passes so that every worker imports the plugins (None: none), and
    whether it must override the job's.

    Outside a job it uploads what :func:`uploads` names. A job's driver inherits the job's runtime env (its
    working_dir and py_modules): the plugins the job took along in its ``py_modules`` are not uploaded again, those
    it brought as files of this node (a RayJob's ConfigMap) go up from where they were loaded, and so do plugins the
    job did not take along (e.g. those a resumed run recorded). Ray merges a driver's runtime env with the job's only
    where their fields differ, so next to the job's own ``py_modules`` they go up with them and override them.
    """
    job = job_runtime_env()
    if job is None:
        code = uploads(plugins)
        return ({"py_modules": code} if code else None), False
    job_modules = list(job.get("py_modules") or [])
    sent = {record["name"] for record in submitted()}
    records = []
    for record in plugins:
        if record.get("name") in sent:
            if job_modules:  # the job's py_modules carry it
                continue
            if record["name"] in sys.modules:  # this node's copy: a file the job found here (KubeRay's /plugins)
                record = record_of_loaded(record["name"])
        records.append(record)
    code = uploads(records)
    if not code:
        return None, False
    return {"py_modules": [*job_modules, *code]}, bool(job_modules)
