"""Config as data: nested dicts of primitives, validated into typed dataclasses.

A trial config has the sections ``task``, ``data``, ``model``, ``loss``, ``optim`` and ``train``. Each section
is checked against a dataclass; an unknown key or a value of the wrong type raises :class:`ConfigError` naming
the dotted key. Nothing here mutates a dict it was given (Ray hands the same dict to many trials).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, Union

from restore_core.errors import ConfigError, non_ascii

SECTIONS = ("task", "data", "model", "loss", "optim", "train")
D = TypeVar("D")


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """Return a new dict: ``base`` with ``override`` merged in (dicts merge, everything else replaces)."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def key_parts(path: str) -> list[str]:
    """The names in a dotted config key: ``"train.steps"`` -> ``["train", "steps"]``.

    Raises:
        ConfigError: for an empty name (``train..steps``, ``train.``) or a non-ASCII character, which no config key
            has (a look-alike letter prints like the key it spoils, so the message points at it).
    """
    parts = path.split(".")
    if not all(parts):
        raise ConfigError(
            f"config key '{path}' has an empty name between dots; expected names joined by single dots, e.g. "
            "train.steps"
        )
    spoiled = non_ascii(path)
    if spoiled:
        raise ConfigError(f"config key '{path}' has {spoiled}; config keys are plain ASCII: type it again")
    return parts


def get_path(config: Mapping, path: str) -> Any:
    node: Any = config
    for part in key_parts(path):
        if not isinstance(node, Mapping) or part not in node:
            raise ConfigError(f"unknown config key '{path}'")
        node = node[part]
    return node


def set_path(config: Mapping, path: str, value: Any, merge: bool = True) -> dict:
    """Return a copy of ``config`` with the dotted ``path`` set to ``value``.

    A mapping ``value`` merges into a mapping already at ``path`` (as :func:`deep_merge`), unless ``merge`` is False:
    then it replaces it (``{}`` empties it).

    Raises:
        ConfigError: for a malformed ``path`` (see :func:`key_parts`).
    """
    parts = key_parts(path)
    if not merge:
        config = set_path(config, path, None)  # whatever was there is gone; the merge below puts value in its place
    nested: Any = value
    for part in reversed(parts):
        nested = {part: nested}
    return deep_merge(config, nested)


def flatten(config: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"optim": {"lr": 1e-4}}`` -> ``{"optim.lr": 1e-4}``. Lists stay values."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def parse_value(text: str) -> Any:
    """Parse a ``--set`` value: JSON where it parses (numbers, lists, true/false/null), else the plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        lowered = text.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        if lowered in ("none", "null"):
            return None
        return text


def check_range(
    key: str,
    value: float,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    note: str = "",
) -> None:
    """Raise :class:`ConfigError` unless ``value`` is finite and within the bounds; the message states the range.

    A float must be finite whatever its bounds (NaN compares false with everything, so ``nan <= 0`` would pass a
    plain comparison). ``note`` follows the range in the message, e.g. ``(0 switches it off)``.
    """
    inside = (
        math.isfinite(value)
        and (gt is None or value > gt)
        and (ge is None or value >= ge)
        and (lt is None or value < lt)
        and (le is None or value <= le)
    )
    if inside:
        return
    if (gt is not None or ge is not None) and (lt is not None or le is not None):
        low = f"({gt:g}" if gt is not None else f"[{ge:g}"
        high = f"{lt:g})" if lt is not None else f"{le:g}]"
        accepted = f"in {low}, {high}"
    else:
        named = ((">", gt), (">=", ge), ("<", lt), ("<=", le))
        bounds = [f"{op} {bound:g}" for op, bound in named if bound is not None]
        accepted = " ".join((["a finite number"] if isinstance(value, float) else []) + bounds)
    raise ConfigError(f"{key} must be {accepted}{f' {note}' if note else ''}; got {value!r}")


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(tp))
        return f"{origin.__name__}[{args}]"
    return "null" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _takes_mapping(tp: Any) -> bool:
    """Whether a value of type ``tp`` may be a mapping."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_takes_mapping(option) for option in typing.get_args(tp))
    kind = origin if origin is not None else tp
    return isinstance(kind, type) and issubclass(kind, Mapping)


def check_type(value: Any, tp: Any, key: str) -> Any:
    """Return ``value`` converted to ``tp`` (int -> float only), or raise naming ``key``."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if isinstance(value, Mapping) and value and not _takes_mapping(tp):
        # keys inside a plain value: what a dotted key one name too long (``--set train.steps.x=5``) builds
        inner = next(iter(flatten(value)))
        raise ConfigError(
            f"config key '{key}.{inner}' does not exist: '{key}' holds a value ({_type_name(tp)}), not keys; "
            f"set '{key}' itself"
        )
    if origin in (Union, types.UnionType):
        for option in typing.get_args(tp):
            try:
                return check_type(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"config key '{key}' must be {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"config key '{key}' must be one of {', '.join(map(str, allowed))}; got {value!r}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        (item_type, *_) = typing.get_args(tp) or (Any,)
        return [check_type(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"config key '{key}' must be a mapping, got {value!r}")
        _, value_type = typing.get_args(tp) or (str, Any)
        return {k: check_type(v, value_type, f"{key}.{k}") for k, v in value.items()}
    if tp is type(None):
        if value is None:
            return None
        raise ConfigError(f"config key '{key}' must be null, got {value!r}")
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float) and isinstance(value, bool):
        raise ConfigError(f"config key '{key}' must be {tp.__name__}, got {value!r}")
    if isinstance(tp, type) and not isinstance(value, tp):
        raise ConfigError(f"config key '{key}' must be {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type[D], data: Mapping | None, section: str) -> D:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types raise naming ``section.key``."""
    data = dict(data or {})
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        spoiled = non_ascii(str(unknown[0]))
        raise ConfigError(
            f"unknown config key '{section}.{unknown[0]}'{f' (it has {spoiled})' if spoiled else ''}; "
            f"known in '{section}': {', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    values = {name: check_type(value, hints[name], f"{section}.{name}") for name, value in data.items()}
    try:
        obj = cls(**values)
    except TypeError as err:  # a required field is missing
        raise ConfigError(f"section '{section}': {err}") from None
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate()
    return obj
