"""What every submission route shares: the ``sweeps/run.py`` arguments, checked here before anything is sent."""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from restore_core.errors import UserError
from restore_core.plugins import file_sha256, is_file_spec, load_plugins
from restore_core.schema import validate_config
from search_spaces import find_space
from search_spaces.registry import is_space_ref
from search_spaces.space import PROFILES
from sweeps.cli import build_parser, options_from_args
from sweeps.cluster.code import uploads
from sweeps.cluster.connect import check_cpus, check_gpus
from sweeps.cluster.storage import storage_warnings
from sweeps.driver.runner import plan_sweep
from sweeps.ledger.resume import find_run
from sweeps.settings.options import SweepOptions, storage_location
from sweeps.settings.recorded import recorded_plugins

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# run.py options the submission itself decides: where the Ray cluster is and where its dashboard listens.
DECIDED_BY_SUBMISSION = ("--address", "--dashboard-host", "--dashboard-port", "--list", "--dry-run")


@dataclass
class RunArgs:
    """The checked ``sweeps/run.py`` arguments of a submission."""

    args: list[str]  # with --name filled in, so that the user knows where the run will be
    space: str | None  # the space's name (None: a resume that leaves it to the run's manifest)
    name: str
    storage: str
    options: SweepOptions  # as run.py reads them (with --resume, the run's manifest on the cluster decides more)
    plugins: tuple[dict[str, Any], ...] = ()  # the user's code the sweep loads here (records of restore_core.plugins)

    def command(self, python: str = "python", script: str = "sweeps/run.py") -> str:
        return shlex.join([python, script, *self.args])

    def uploads(self) -> list[str]:
        """The user's files and package folders the cluster needs and does not have (see sweeps.cluster.code)."""
        return uploads(self.plugins)

    def with_plugin_files_at(self, place: Callable[[str], str]) -> RunArgs:
        """The same run with every plugin file of the arguments (``--import FILE.py``, ``--space FILE.py:NAME``)
        named as the cluster finds it: ``place`` of the file's absolute path here."""
        args, follows = [], None
        for arg in self.args:
            option, equals, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
            if follows:
                args.append(_placed(follows, arg, place))
                follows = None
            elif equals and option in ("--import", "--space"):
                args.append(f"{option}={_placed(option, value, place)}")
            else:
                follows = arg if arg in ("--import", "--space") else None
                args.append(arg)
        return dataclasses.replace(self, args=args)


def _placed(option: str, value: str, place: Callable[[str], str]) -> str:
    """``value`` of ``--import`` or ``--space`` with a plugin file in it replaced by ``place`` of its path."""
    target, colon, name = value.rpartition(":") if option == "--space" and is_space_ref(value) else (value, "", "")
    if not is_file_spec(target):
        return value
    return place(os.path.abspath(target)) + colon + name


def gives(run_args: list[str], option: str) -> bool:
    """Whether the ``sweeps/run.py`` arguments give ``option``, as ``--option value`` or ``--option=value`` (its
    parser takes no abbreviations)."""
    return any(arg == option or arg.startswith(option + "=") for arg in run_args)


def check_run_args(run_args: list[str]) -> RunArgs:
    """Parse and check the arguments meant for ``sweeps/run.py`` on the cluster, as run.py itself would (space,
    profile, ``--set`` keys and values, counts), so that bad input fails here and not after a queue wait.

    Raises:
        UserError: bad arguments, or options that the submission decides.
    """
    if not run_args:
        raise UserError("give the sweeps/run.py arguments after '--', e.g. -- --space lsid_lr --storage /shared/runs")
    for option in DECIDED_BY_SUBMISSION:
        if gives(run_args, option):
            raise UserError(f"{option} is decided by the submission; drop it from the sweeps/run.py arguments")
    options = options_from_args(build_parser().parse_args(run_args))
    args = list(run_args)
    storage = storage_location(options.value("storage"))
    if options.resume:
        # the run itself lives on the cluster's storage; what can be checked here is the command line
        options.check()
        # the run's own plugins are in its manifest on the cluster; those given again here go up with the job, and
        # so do the recorded files this machine has, when it can read the manifest
        plugins = tuple(load_plugins(options.plugins))
        space = check_resumed_space(options.space, options.profile, options.sets) if options.space else None
        recorded = recorded_files_here(storage, options.name or "", space)
        return RunArgs(args, space, options.name or "", storage, options, plugins + recorded)
    plan = plan_sweep(options)  # validates the space and every config known in advance; names the run
    if options.name is None:
        args += ["--name", plan.settings.name]
    return RunArgs(args, plan.space.name, plan.settings.name, storage, options, plan.settings.plugins)


def recorded_files_here(storage: str, name: str, space: str | None) -> tuple[dict[str, Any], ...]:
    """The plugins a run to resume recorded whose files are on this machine as the run recorded them (same hash),
    when its manifest is on storage this machine mounts too; empty otherwise (the cluster's storage alone has it)."""
    if "://" in storage or not os.path.isdir(storage):
        return ()
    try:
        run_dir, manifest = find_run(storage, name, space)
        records = recorded_plugins(manifest, os.path.join(run_dir, "manifest.json"))
    except UserError:  # no such run here: the resume on the cluster finds it, or says so
        return ()
    return tuple(record for record in records if record.get("kind") != "entry_point" and record.get("path")
                 and file_sha256(record["path"]) == record.get("sha256"))


def check_resumed_space(space_name: str, profile: str | None, sets: dict) -> str:
    """The space of a run to resume exists, and its ``--set`` values make a valid config; returns its name.

    The run's profile is in its manifest on the cluster, so without ``--profile`` the values need only be valid
    under one of the profiles.

    Raises:
        UserError: an unknown space, or ``--set`` values that no profile of the space accepts.
    """
    space = find_space(space_name)[0]
    if not sets:
        return space.name
    first_error = None
    for candidate in [profile] if profile else PROFILES:
        try:
            validate_config(space.base_config(candidate, sets))
            return space.name
        except UserError as err:
            first_error = first_error or err
    raise first_error


def check_trial_fits(run: RunArgs, nodes: str, cpus: tuple[str, float], gpus: tuple[str, float]) -> None:
    """Refuse ``--cpus-per-trial`` or ``--gpus-per-trial`` above what each node of the submission has (Ray would
    leave every trial pending). A node without GPUs runs the trials on CPU, as ``sweeps/run.py`` does there.

    Args:
        run: the checked sweeps/run.py arguments.
        nodes: the nodes, for the message, e.g. "on each node of the job".
        cpus: the option that sizes a node's CPUs and its value, e.g. ("--cpus-per-node", 8).
        gpus: the same for GPUs.
    """
    check_cpus(run.options.value("cpus_per_trial"), cpus[1], f"{nodes} ({cpus[0]} {cpus[1]:g})")
    check_gpus(run.options.gpus_per_trial, gpus[1], f"{nodes} ({gpus[0]} {gpus[1]:g})")


def require_cluster_storage(run: RunArgs, route: str) -> None:
    """On a cluster the driver's working directory is a temporary copy: ``--storage`` must be absolute (or a URI)."""
    if "://" in run.storage or os.path.isabs(run.storage):
        return
    raise UserError(f"--storage {run.storage} is relative; with {route} it would land in the job's temporary copy of "
                    "the project and be lost. Give an absolute path on storage every node mounts, e.g. "
                    "--storage /shared/runs (or an s3:// URI)")


def warn_storage(storage: str, nodes: int | None) -> None:
    for warning in storage_warnings(storage, nodes):
        print(f"warning: {warning}", file=sys.stderr)
