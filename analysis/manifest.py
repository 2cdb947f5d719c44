"""A run's ``manifest.json``: what the analysis reads from it, each value checked as the sweep would have written
it, and the one rule for a value a run did not record (its space's)."""

from __future__ import annotations

import os
from typing import Any

from restore_core.errors import DataError, UserError
from restore_core.io import json_excerpt, json_kind, read_json_object
from restore_core.plugins import reload_plugins
from restore_core.schema import validate_config
from search_spaces import find_space
from search_spaces.space import SEARCHES

MANIFEST_FORMAT = "a run's manifest.json is the JSON object sweeps/run.py writes, with 'space' and 'base_config'"
PARAMS_FORMAT = "a trial's params.json is the JSON object of its sampled values, as Ray writes it"
RESULT_FORMAT = "a trial's result.json holds one JSON report per line, as Ray writes it"

# What the analysis reads from a manifest besides 'space' and 'base_config', with what a recorded value must be. Each
# key is optional: a run from before the manifest recorded it takes its space's value (manifest_value).
MANIFEST_VALUES = (
    ("metric", lambda v: isinstance(v, str) and v != "", 'the name of a metric the trials report, such as "val/psnr"'),
    ("mode", lambda v: v in ("max", "min"), '"max" or "min"'),
    ("baseline", lambda v: v is None or isinstance(v, str), "a configuration label (a string) or null"),
    ("search", lambda v: v in SEARCHES, f"one of {', '.join(SEARCHES)}"),
    ("scientific", lambda v: isinstance(v, list) and all(isinstance(k, str) for k in v),
     "a list of config keys (strings)"),
    ("git", lambda v: v is None or isinstance(v, dict), 'an object {"commit": ..., "dirty": ...} or null'),
    ("plugins", lambda v: isinstance(v, list) and all(isinstance(p, dict) for p in v),
     'a list of objects {"kind", "name", "path", "sha256"}: the user\'s code the run loads'),
    ("space_ref", lambda v: v is None or isinstance(v, str), "null or FILE.py:NAME / module:NAME"),
    ("objectives", lambda v: v is None or (isinstance(v, list) and all(
        isinstance(o, dict) and set(o) == {"metric", "mode"} and isinstance(o["metric"], str) and o["metric"] != ""
        and o["mode"] in ("max", "min") for o in v)),
     'a list of objects {"metric": "val/psnr", "mode": "max"} (mode: max or min), as --objective records them'),
)
PAIR_FORMAT = ('a list of pairs {"a": label, "b": label, "kind": name} ("kind" optional), as the space declares '
               "its pairs")


def read_manifest(run_dir: str) -> dict[str, Any]:
    """A run's ``manifest.json``; a missing or malformed one is a DataError naming the file and what it lacks."""
    if not os.path.exists(run_dir):
        raise DataError(f"{run_dir} is not a run directory (no such folder); run directories are runs/<space>/<name>")
    if not os.path.isdir(run_dir):
        raise DataError(f"{run_dir} is a file, not a run directory; run directories are runs/<space>/<name>")
    path = os.path.join(run_dir, "manifest.json")
    manifest = read_json_object(path, MANIFEST_FORMAT)
    if manifest is None:
        raise DataError(f"{run_dir} is not a run directory (no manifest.json); run directories are runs/<space>/<name>")
    for key, kind, meaning in (("space", str, "the search space's name"),
                               ("base_config", dict, "the config every trial starts from")):
        if key not in manifest:
            raise DataError(f"{path} has no '{key}' ({meaning}); {MANIFEST_FORMAT}")
        if not isinstance(manifest[key], kind):
            raise DataError(f"{path}: '{key}' is a JSON {json_kind(manifest[key])}, not {meaning}; {MANIFEST_FORMAT}")
    for key, valid, accepted in MANIFEST_VALUES:
        if key in manifest and not valid(manifest[key]):
            raise DataError(f"{path}: {key} is {json_excerpt(manifest[key], 80)}; expected {accepted}")
    _check_pairs(path, manifest.get("pairs", []))
    reload_plugins(manifest.get("plugins", []), path)  # the user's models, tasks and spaces the run was made with
    try:
        check_config(manifest["base_config"])
    except UserError as err:
        raise DataError(f"{path}: base_config: {err}") from None
    return manifest


def _check_pairs(path: str, pairs: Any) -> None:
    if not isinstance(pairs, list):
        raise DataError(f"{path}: pairs is {json_excerpt(pairs, 80)}; expected {PAIR_FORMAT}")
    for index, pair in enumerate(pairs):
        valid = (isinstance(pair, dict) and {"a", "b"} <= set(pair) <= {"a", "b", "kind"}
                 and all(isinstance(value, str) for value in pair.values()))
        if not valid:
            raise DataError(f"{path}: pairs[{index}] is {json_excerpt(pair, 80)}; expected {PAIR_FORMAT}")


def check_config(config: dict[str, Any]) -> None:
    """Check a trial's config (or a run's base config) as the sweep did before running it, less the task's rules
    across sections, which may build the model and look for pretrained weights on this machine."""
    validate_config(config, cross_field=False)


def manifest_value(manifest: dict[str, Any], space, key: str) -> Any:
    """What a run recorded under ``key`` (an attribute of its space: ``metric``, ``mode``, ``baseline``, ``search``,
    ``scheduler``, ``scientific``, ``pairs``, ``description``, ``reading``...), or its space's value where the manifest
    has none (a run from before the manifest recorded the key, or a null): the one rule for every reader of a
    manifest."""
    value = manifest.get(key)
    return getattr(space, key) if value is None else value


def load_space(manifest: dict[str, Any]):
    """The search space a run was made from: registered, or in the user's code the manifest records (its registry
    lists the known names when it is gone)."""
    return find_space(manifest.get("space_ref") or manifest["space"])[0]
