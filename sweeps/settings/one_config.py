"""``--config FILE``: run one configuration of a space, the one a run's ``reproduce/<label>.json`` (or
``best.json``) names by its sampled values, with ``--seeds N``: what reruns one cell of a run's table."""

from __future__ import annotations

import json
from typing import Any

from restore_core.errors import ConfigError, UserError
from restore_core.io import json_excerpt, read_json_object
from search_spaces.space import ROW_KEY, SEED_KEY, TRIAL_INDEX_KEY

FORMAT = ('a configuration file is {"space": name, "params": {sampled values}}, as python -m analysis writes it in '
          "reproduce/<label>.json and best.json")


def read_one_config(path: str, space: Any) -> dict[str, Any]:
    """The sampled values in ``path``, checked against ``space``.

    Raises:
        UserError: a missing or corrupt file, another space's, or a value that is not a parameter of the space.
    """
    try:
        data = read_json_object(path, FORMAT)
    except UserError as error:
        raise UserError(f"--config {error}") from None
    if data is None:
        raise UserError(f"--config {path}: no such file; {FORMAT}")
    if data.get("space") not in (None, space.name):
        raise UserError(f"--config {path} is a configuration of space {json_excerpt(data['space'], 60)}, not "
                        f"'{space.name}'; give --space {data['space']} or another file")
    params = data.get("params")
    if not isinstance(params, dict):
        raise UserError(f"--config {path} has no 'params' object; {FORMAT}")
    known = ([ROW_KEY] if space.rows else []) + [p.key for p in space.params]
    for key in params:
        if key in (SEED_KEY, TRIAL_INDEX_KEY):
            raise UserError(f"--config {path}: 'params' holds {key}; seeds come from --seeds")
        if key not in known:
            raise UserError(f"--config {path}: {json.dumps(key)} is not a parameter of space '{space.name}'; it has "
                            f"{', '.join(known) or 'none'}")
    if ROW_KEY in params:
        try:
            space.row(params[ROW_KEY])
        except ConfigError as error:
            raise UserError(f"--config {path}: {error}") from None
    return dict(params)


def one_config_trials(params: dict[str, Any], seeds: int) -> list[dict[str, Any]]:
    """The trials of the configuration: its values with seeds 0..N-1."""
    return [{**params, SEED_KEY: seed} for seed in range(seeds)]
