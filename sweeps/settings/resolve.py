"""The one function that turns what the user asked for into a run's settings: :func:`resolve_settings`.

A new run takes each option as given, else the space's default (search, scheduler, ASHA's settings, how many
configurations a sampled search proposes), else the platform's (:data:`~sweeps.settings.options.DEFAULTS`). A
resumed run takes every setting that defines its trials from its manifest, read back through the same function,
and refuses an option given on the command line that differs from it. Everything downstream reads the result and
never writes it.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from restore_core.errors import UserError
from search_spaces.space import SearchSpace
from sweeps.settings.options import (
    ASHA_OPTIONS,
    DEFAULTS,
    KEPT_BY_RAY,
    MIN_NUM_SAMPLES,
    RECORDED,
    SweepOptions,
    storage_location,
)


@dataclass(frozen=True)
class RunSettings:
    """A run's settings with every default decided (what ``manifest.json`` records under ``options``)."""

    space: str  # the space's name (its folder under the storage)
    profile: str
    search: str
    scheduler: str
    num_samples: int | None  # configurations random/optuna/gp search proposes, before --seeds; None: grid search
    seeds: int
    search_seed: int | None  # None: grid search, which proposes nothing
    sets: dict[str, Any]
    cpus_per_trial: float
    gpus_per_trial: float | None  # None: auto, decided against the GPUs there are (sweeps.cluster.connect.fit_gpus)
    asha_grace: float  # ASHA's settings, the space's unless given (used with the asha scheduler only)
    asha_reduction: float
    asha_recheck: bool
    asha_quorum: int
    asha_noise: float | str | None  # the race's noise ("auto": measured as it runs; None or 0: no race)
    max_concurrent: int | None
    max_failures: int
    trial_timeout: float | None
    name: str
    storage: str  # a path, or a URI of a filesystem Ray opens
    resume: bool
    retry_failed: bool
    dry_run: bool
    fresh_workers: bool
    address: str | None
    dashboard_port: int
    dashboard_host: str
    analyze: bool
    verbose: int
    mlflow: str | None = None  # the MLflow tracking URI every trial is logged to (this command's --mlflow)
    objectives: tuple[str, ...] | None = None  # --objective METRIC:DIRECTION in order; None: the space's metric
    config: str | None = None  # --config: the file naming the one configuration the run trains; None: the search
    space_ref: str | None = None  # FILE.py:NAME or module:NAME when the space came from a user's code
    plugins: tuple[dict[str, Any], ...] = ()  # the user's code the run loads (restore_core.plugins' records)

    @property
    def remote_storage(self) -> bool:
        return "://" in self.storage

    @property
    def space_dir(self) -> str:
        if self.remote_storage:
            return f"{self.storage.rstrip('/')}/{self.space}"
        return os.path.abspath(os.path.join(self.storage, self.space))

    @property
    def run_dir(self) -> str:
        return f"{self.space_dir}/{self.name}" if self.remote_storage else os.path.join(self.space_dir, self.name)

    def record(self) -> dict[str, Any]:
        """What the manifest keeps to run the sweep again: the settings that define the trials, those Ray keeps
        with the run, and the trial time-out."""
        return {key: getattr(self, key) for key in (*RECORDED, *KEPT_BY_RAY, "trial_timeout")}


def space_default(space: SearchSpace, key: str, search: str) -> Any:
    """The default of a recorded setting for runs of ``space`` with ``search``: the space's own, else the
    platform's. Each is decided here and nowhere else."""
    if key in ("search", "scheduler", *ASHA_OPTIONS):
        return getattr(space, key)
    if key == "num_samples":
        return None if search == "grid" else max(len(space.rows), MIN_NUM_SAMPLES)
    if key == "search_seed" and search == "grid":
        return None
    return DEFAULTS.get(key)


def resolve_settings(options: SweepOptions, space: SearchSpace, recorded: Mapping[str, Any] | None = None,
                     plugins: tuple[dict[str, Any], ...] = (), space_ref: str | None = None) -> RunSettings:
    """The run's settings: ``options`` resolved against ``space`` and, on a resume, against what the run's manifest
    ``recorded`` (checked values; None or a missing key: the default, as manifests written before a setting was
    recorded hold it).

    Args:
        options: the options as given.
        space: the run's search space.
        recorded: on a resume, the settings the manifest recorded (:func:`~sweeps.settings.recorded.recorded_settings`).
        plugins: the user's code loaded for the run (records of :mod:`restore_core.plugins`).
        space_ref: ``FILE.py:NAME`` or ``module:NAME`` when the space came from the user's code.

    Raises:
        UserError: an option that the run would ignore (ASHA's with another scheduler, a sample count or seed with
            grid search), a sampled search of a space without ranges, or on a resume an option that differs from
            the run's.
    """
    values: dict[str, Any] = {"space": space.name}
    if recorded is not None and recorded.get("objectives") is not None:  # a manifest records a list
        recorded = {**recorded, "objectives": tuple(recorded["objectives"])}
    if recorded is None:
        if options.config and options.search not in (None, "grid"):
            raise UserError(f"--config runs the one configuration of its file, which --search {options.search} "
                            "would not search; leave --search out")
        search = "grid" if options.config else options.search or space.search
        for key in RECORDED[1:] + KEPT_BY_RAY:
            given = getattr(options, key) if key != "sets" else dict(options.sets)
            values[key] = space_default(space, key, search) if given is None else given
        if options.config:  # one configuration, its seeds as the grid
            values["search"] = "grid"
        _refuse_ignored(options, space, values)
        timeout = options.trial_timeout
    else:
        search = recorded.get("search") or space.search
        for key in RECORDED[1:] + KEPT_BY_RAY:
            value = recorded.get(key)
            values[key] = space_default(space, key, search) if value is None else value
        values["sets"] = dict(values["sets"] or {})
        # Ray keeps these two with the run; one the manifest does not record is the command line's
        unrecorded = {key: options.value(key) for key in KEPT_BY_RAY if key not in recorded}
        values.update(unrecorded)
        changed = [key for key, value in options.given().items()
                   if key in values and key not in unrecorded and value != values[key]]
        if changed:
            key = changed[0]
            flag = "--set" if key == "sets" else f"--{key.replace('_', '-')}"
            raise UserError(f"--resume continues run '{options.name}' with the settings it started with; {flag} "
                            f"differs ({values[key]!r} recorded, {options.given()[key]!r} given): drop it, or start "
                            "a new --name")
        # the limit goes on unless the resume sets another
        timeout = options.trial_timeout if options.trial_timeout is not None else recorded.get("trial_timeout")
    if values["search"] != "grid" and not space.sampled_params() and not space.rows:
        raise UserError(f"space '{space.name}' declares no ranges to sample; use --search grid")
    name = options.name or "-".join([values["profile"], values["search"], values["scheduler"],
                                     time.strftime("%Y%m%d-%H%M%S")])
    return RunSettings(
        **values, trial_timeout=timeout, name=name, storage=storage_location(options.value("storage")),
        resume=options.resume, retry_failed=options.retry_failed, dry_run=options.dry_run,
        fresh_workers=options.fresh_workers, address=options.address, dashboard_port=options.value("dashboard_port"),
        dashboard_host=options.value("dashboard_host"), analyze=options.analyze, verbose=options.value("verbose"),
        mlflow=options.mlflow, space_ref=space_ref, plugins=tuple(plugins),
    )


def with_plugins(settings: RunSettings, plugins: tuple[dict[str, Any], ...]) -> RunSettings:
    """``settings`` with more of the user's code recorded (a resume that imports more than the run did)."""
    known = {(p.get("kind"), p.get("name"), p.get("path")) for p in settings.plugins}
    added = tuple(p for p in plugins if (p.get("kind"), p.get("name"), p.get("path")) not in known)
    return dataclasses.replace(settings, plugins=settings.plugins + added)


def _refuse_ignored(options: SweepOptions, space: SearchSpace, values: dict[str, Any]) -> None:
    """Options a new run would ignore are refused, naming where the setting that makes them moot came from."""
    search, scheduler = values["search"], values["scheduler"]
    given_asha = [f"--{'no-' if getattr(options, key) is False else ''}{key.replace('_', '-')}" for key in ASHA_OPTIONS
                  if getattr(options, key) is not None]
    if given_asha and scheduler != "asha":
        named = " and ".join(filter(None, [", ".join(given_asha[:-1]), given_asha[-1]]))
        raise UserError(f"{named} only appl{'ies' if len(given_asha) == 1 else 'y'} to ASHA, but this run's scheduler "
                        f"is {scheduler}{_from_space(space, options.scheduler)}; add --scheduler asha or leave them "
                        "out")
    if search != "grid":
        return
    if options.num_samples is not None:
        raise UserError(f"--num-samples sets how many configurations random/optuna/gp search proposes, but this run's "
                        f"search is grid{_from_space(space, options.search)}, which runs the study's {len(space.rows)} "
                        "rows; add --search optuna or leave it out")
    if options.search_seed is not None:
        raise UserError(f"--search-seed seeds the configurations random/optuna/gp search proposes, but this run's "
                        f"search is grid{_from_space(space, options.search)}, which proposes none; add --search "
                        "optuna or leave it out")


def _from_space(space: SearchSpace, given: str | None) -> str:
    """Where a setting came from, for a message: nothing when the command line gave it."""
    return "" if given else f" (the space {space.name!r} defaults to it)"
