"""Option values a run's manifest recorded, checked as the command line's would be: a value no run can have (a
manifest edited by hand or corrupted) is a ``DataError`` naming the manifest, the key and what is accepted."""

from __future__ import annotations

import json
import typing
from typing import Any

from restore_core.config import check_type
from restore_core.errors import DataError, UserError
from restore_core.io import json_excerpt, json_kind
from search_spaces.space import PROFILES, SCHEDULERS, SEARCHES
from sweeps.settings.options import KEPT_BY_RAY, RECORDED, SweepOptions

RESTORE = "; the manifest holds the settings the run started with: restore that value, or start a new --name"
SPACE_DEFAULT = "null (the space's default) or "
# What a manifest may record for each option, in words (checked: the type SweepOptions declares, then its check();
# the profile: one of search_spaces.space.PROFILES).
ACCEPTED = {
    "search": SPACE_DEFAULT + "one of " + ", ".join(SEARCHES),
    "scheduler": SPACE_DEFAULT + "one of " + ", ".join(SCHEDULERS),
    "num_samples": SPACE_DEFAULT + "a whole number >= 1",
    "seeds": "a whole number >= 1",
    "search_seed": "null (0) or a whole number >= 0",
    "sets": 'an object of config overrides by dotted key, e.g. {"train.steps": 500}',
    "cpus_per_trial": "a number > 0",
    "gpus_per_trial": "null (auto) or a number >= 0, whole above 1",
    "asha_grace": SPACE_DEFAULT + "a fraction in (0, 1]",
    "asha_reduction": SPACE_DEFAULT + "a number > 1",
    "asha_recheck": SPACE_DEFAULT + "true or false",
    "asha_quorum": SPACE_DEFAULT + "a whole number >= 1",
    "asha_noise": SPACE_DEFAULT + '"auto" or a number >= 0',
    "max_concurrent": "null (no limit) or a whole number >= 1",
    "max_failures": "a whole number >= 0",
    "trial_timeout": "null (no limit) or a number of seconds in (0, 9.2e9]",
    "config": "null (the space's search) or the path of a configuration file (--config)",
    "objectives": 'null (the space\'s metric) or a list of "METRIC:DIRECTION", e.g. ["val/psnr:max", '
                  '"cost/latency_ms:min"]',
}
NEVER_NULL = ("profile", "seeds", "sets", "cpus_per_trial", "max_failures")  # every run records a value
MISSING = object()  # a key the manifest does not have


def bad_value(path: str, key: str, value: Any, accepted: str) -> DataError:
    """A value the run's manifest records (the user did not type it on this command line) that no run can have."""
    held = "missing" if value is MISSING else f"{json_excerpt(value)} (a JSON {json_kind(value)})"
    return DataError(f"--resume: {path}: {key} is {held}, expected {accepted}{RESTORE}")


def check_option(path: str, key: str, option: str, value: Any) -> Any:
    """``value``, as ``key`` records it in the manifest at ``path``, if ``option`` of :class:`SweepOptions` accepts
    it, converted as :func:`~restore_core.config.check_type` converts (int to float); ``MISSING``: no such key."""
    accepted = f"one of {', '.join(PROFILES)}" if option == "profile" else ACCEPTED[option]
    if value is MISSING or (value is None and option in NEVER_NULL):
        raise bad_value(path, key, value, accepted)
    try:
        converted = check_type(value, typing.get_type_hints(SweepOptions)[option], key)
        SweepOptions(**{option: converted}).check()  # the other options not given, which check() accepts
    except UserError:
        raise bad_value(path, key, value, accepted) from None
    if option == "profile" and converted not in PROFILES:
        raise bad_value(path, key, value, accepted)
    return converted


def recorded_settings(manifest: dict[str, Any], path: str) -> dict[str, Any]:
    """The settings that defined the run's trials, those Ray keeps with it and its trial time-out, from its manifest
    at ``path``, each checked like the command line's; a setting the manifest does not record is left out (the
    resume takes its default, or for those Ray keeps, the command line's).

    Raises:
        DataError: a recorded value that no run can have, naming the manifest, the key and what it accepts.
    """
    space = manifest["space"]
    timeout = check_option(path, "trial_timeout_s", "trial_timeout", manifest.get("trial_timeout_s"))
    if "options" in manifest:
        options = manifest["options"]
        if options.get("space", space) != space:
            raise bad_value(path, "options.space", options["space"], f"{json.dumps(space)}, the run's space")
        recorded = {key: check_option(path, f"options.{key}", key, options[key])
                    for key in (*RECORDED, *KEPT_BY_RAY) if key in options and key != "space"}
        return {"space": space, **recorded, "trial_timeout": timeout}
    # a manifest written before the options were recorded whole
    resources = manifest.get("resources_per_trial", {})
    recorded = {"space": space, "trial_timeout": timeout}
    for key, option, value in (
        ("profile", "profile", manifest.get("profile", MISSING)),
        ("search", "search", manifest.get("search", MISSING)),
        ("scheduler", "scheduler", manifest.get("scheduler", MISSING)),
        ("seeds", "seeds", manifest.get("seeds", 1)),
        ("overrides", "sets", manifest.get("overrides", {})),
        ("resources_per_trial.cpu", "cpus_per_trial", resources.get("cpu", 1.0)),
        ("resources_per_trial.gpu", "gpus_per_trial", resources.get("gpu", 0.0)),
    ):
        recorded[option] = check_option(path, key, option, value)
    total = check_option(path, "num_samples", "num_samples", manifest.get("num_samples", 1))
    recorded["num_samples"] = None if recorded["search"] == "grid" else (total or 1) // recorded["seeds"]
    return recorded


def recorded_plugins(manifest: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """The user's code the run loads (``plugins``: none in a manifest from before plugins were recorded).

    Raises:
        DataError: ``plugins`` is not a list of objects.
    """
    plugins = manifest.get("plugins", [])
    if not isinstance(plugins, list) or not all(isinstance(record, dict) for record in plugins):
        raise bad_value(path, "plugins", plugins, 'a list of objects {"kind", "name", "path", "sha256"}, the user\'s '
                        "code the run loads")
    return plugins
