"""The best configuration and the one command that reruns each configuration of a run's table.

``best.json``: the configuration the ranking selects (the table's rank 1), its complete config and seed (the
row's best trial), its value, and the command that reruns it. ``reproduce/<label>.json``: one file per
configuration with its sampled values (what ``sweeps/run.py --config FILE`` runs, with ``--seeds N``), and
``reproduce.md`` the command of every row. Each records the run's git commit and the data's fingerprint (the SHA-256
of the prepared data arrays, which the sweep records in its manifest), so a rerun can be checked against both.
"""

from __future__ import annotations

import json
import math
import re
import shlex
from typing import Any

import pandas as pd

from analysis.rows import Row, ranked, value_column
from analysis.verdict import RUN_ONLY, command_without
from search_spaces.space import SEED_KEY, TRIAL_INDEX_KEY

REPRODUCE_DIR = "reproduce"
UNSAFE = re.compile(r"[^\w.=@%+,-]+")
# options that name, continue or search a run: the rerun of one configuration sets its own
_DROPPED = {**RUN_ONLY, "--search": True, "--num-samples": True, "--search-seed": True, "--scheduler": True,
            "--config": True, "--asha-grace": True, "--asha-reduction": True, "--asha-quorum": True,
            "--asha-recheck": False, "--no-asha-recheck": False, "--asha-noise": True, "--mlflow": True}


def file_name(label: str) -> str:
    """``reproduce/<label>.json`` with the label made a safe file name."""
    return f"{REPRODUCE_DIR}/{UNSAFE.sub('_', label).strip('_')[:100] or 'config'}.json"


def sampled_values(trials: pd.DataFrame) -> dict[str, Any]:
    """The values a configuration's trials were sampled with (``param/<key>`` of ``load_run``), without the seed."""
    first = trials.iloc[0]
    values = {}
    for column, value in first.items():
        if not str(column).startswith("param/"):
            continue
        key = str(column)[len("param/"):]
        if key in (SEED_KEY, TRIAL_INDEX_KEY) or (not isinstance(value, str) and pd.isna(value)):
            continue
        values[key] = _json_value(value)
    return values


def _json_value(value: Any) -> Any:
    """A frame cell as the JSON value params.json held (lists and mappings are kept as their JSON text)."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if hasattr(value, "item"):
        return value.item()
    return value


def rerun_command(manifest: dict, path: str, seeds: int) -> str:
    """The run's command with its search replaced by the one configuration of ``path``, its seeds and FIFO."""
    kept = command_without(manifest, _DROPPED)
    return shlex.join([*kept, "--config", path, "--seeds", str(seeds), "--scheduler", "fifo"])


def reproduction_files(result, run_dir_shown: str | None = None) -> dict[str, str]:
    """``best.json``, ``reproduce.md`` and one ``reproduce/<label>.json`` per configuration, by file name."""
    frame, manifest = result.frame, result.manifest
    if frame.empty:
        return {}
    rows = result.rows
    column = value_column(frame, result.metric)
    shown = run_dir_shown if run_dir_shown is not None else result.run_dir
    recorded = {"commit": (manifest.get("git") or {}).get("commit"), "dirty": (manifest.get("git") or {}).get("dirty"),
                "data_fingerprint": manifest.get("data_fingerprint")}
    files: dict[str, str] = {}
    lines = ["| label | steps | seeds | command |", "| --- | --- | --- | --- |"]
    commands: dict[str, str] = {}
    for label in dict.fromkeys(frame["label"]):
        trials = frame[frame["label"] == label]
        seeds = sorted(int(s) for s in trials["seed"])
        name = file_name(label)
        files[name] = json.dumps({"space": manifest["space"], "label": label, "params": sampled_values(trials),
                                  "seeds": seeds, **recorded}, indent=2, sort_keys=True) + "\n"
        commands[label] = rerun_command(manifest, f"{shown.rstrip('/')}/{name}", len(seeds))
    for row in rows:
        lines.append(f"| {row.label} | {row.reach()} | {len(row.trials)} | `{commands[row.label]}` |")
    provenance = f"commit {recorded['commit'] or 'unknown'}, data {recorded['data_fingerprint'] or 'unknown'}"
    files["reproduce.md"] = (f"Rerun one configuration of the table (every trial of it trained to the end, FIFO; "
                             f"{provenance}):\n\n" + "\n".join(lines) + "\n")
    best = _best(rows, column, result)
    if best is not None:
        files["best.json"] = json.dumps({**best, "command": commands[best["label"]], **recorded}, indent=2,
                                        sort_keys=True) + "\n"
    return files


def _best(rows: list[Row], column: str, result) -> dict[str, Any] | None:
    """The selected configuration (rank 1), with its best trial's seed and complete config."""
    top = ranked(rows)
    if not top:
        return None
    row = top[0]
    values = pd.to_numeric(row.counted[column], errors="coerce")
    values = values[values.map(lambda v: math.isfinite(v))]
    if values.empty:
        return None
    lower = result.mode_of(result.metric) == "min"
    trial = row.counted.loc[values.idxmin() if lower else values.idxmax()]
    params = {**sampled_values(row.counted), SEED_KEY: int(trial["seed"])}
    config = result.space.resolve(result.manifest["base_config"], params)
    estimate = row.estimate(column)
    return {"label": row.label, "steps": row.steps, "metric": result.metric, "value_column": column,
            "mean": _finite(estimate.mean), "seeds": sorted(int(s) for s in row.counted["seed"]),
            "seed": int(trial["seed"]), "trial_id": str(trial["trial_id"]), "trial_value": float(trial[column]),
            "params": {k: v for k, v in params.items() if k != SEED_KEY}, "config": config}


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None

