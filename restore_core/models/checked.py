"""Checks that build a model, run once per model config in a process.

A sweep validates each trial's config several times: when it is planned, when its data is prepared, in the trial,
and again before the test evaluation. The trials of most sweeps share one model config (they vary the rate, the
loss weights, the seed), and the tasks' cross-field checks build that model, some with a forward pass: the SID U-Net
takes about 0.1 s to build and initialise and 0.2 s for the forward. Keyed by the registered factory itself, a model
registered again under the same name is checked again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from restore_core.models.registry import MODELS

T = TypeVar("T")


def checked_once(check: Callable[..., T], model: Mapping[str, Any], *args: Any) -> T:
    """``check(model, *args)``, computed once per model config, ``args`` and check in this process.

    A check that raises is not remembered: it runs (and raises) again the next time.

    Args:
        check: a function of a model config (a ``model`` section: ``name`` and options) and hashable ``args``.
        model: the model config, a JSON-able mapping (the key is its JSON; the check gets the mapping itself).
        args: the other values the check's result depends on (e.g. the task's input layout).
    """
    key = (check, MODELS.get(model["name"]), json.dumps(dict(model), sort_keys=True, default=repr), args)
    if key not in _RESULTS:
        if len(_RESULTS) >= _MAX_RESULTS:
            _RESULTS.pop(next(iter(_RESULTS)))  # the oldest
        _RESULTS[key] = check(dict(model), *args)
    return _RESULTS[key]


_MAX_RESULTS = 256
_RESULTS: dict[tuple, Any] = {}
