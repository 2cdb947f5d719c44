"""Read a run directory (finished, partial or resumed) into tidy frames.

Layout read: ``<run_dir>/manifest.json`` and one folder per trial with Ray's ``params.json`` (the sampled values),
``result.json`` (one JSON object per evaluation), our ``status.json`` (written when the trial ended) and Ray's
``error.txt`` for failed trials. A trial without ``status.json`` never ended (the driver died first); a resumed trial
repeats the reports after its last checkpoint, so the latest report of each step wins.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import pandas as pd

from restore_core.config import flatten
from restore_core.errors import UserError

MIN_IS_BETTER = ("loss", "gcmse", "lpips", "latency", "macs", "params", "time/")
COST_KEYS = ("cost/params", "cost/macs", "cost/latency_ms")
INFEASIBLE = ("error", "nan", "collapsed")
BASE_COLUMNS = ["trial_id", "label", "seed", "status", "reason", "steps"]


def read_manifest(run_dir: str) -> dict[str, Any]:
    path = os.path.join(run_dir, "manifest.json")
    if not os.path.isfile(path):
        raise UserError(f"{run_dir} is not a run directory (no manifest.json); run directories are runs/<space>/<name>")
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise UserError(f"{path} is not valid JSON ({err.msg} at line {err.lineno})") from None


def load_space(manifest: dict[str, Any]):
    """The search space a run was made from (its registry lists the known names when it is gone)."""
    import search_spaces

    return search_spaces.get_space(manifest["space"])


def trial_dirs(run_dir: str) -> list[str]:
    return sorted(
        os.path.join(run_dir, d) for d in os.listdir(run_dir)
        if os.path.isfile(os.path.join(run_dir, d, "params.json"))
    )


def read_results(trial_dir: str) -> list[dict[str, Any]]:
    """Every report of a trial, one per step; a line cut short by a killed driver is skipped."""
    path = os.path.join(trial_dir, "result.json")
    rows = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(row, dict):
                    rows.append(row)
    # A resumed trial repeats reports after its last checkpoint: keep the latest report of each step.
    by_step: dict[int, dict] = {}
    for row in rows:
        by_step[int(row.get("step", len(by_step)))] = row
    return [by_step[s] for s in sorted(by_step)]


def _read_json(path: str) -> dict[str, Any] | None:
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError:  # written atomically by us, but Ray's files may be cut by a killed driver
        return None


def _error_line(trial_dir: str) -> str | None:
    path = os.path.join(trial_dir, "error.txt")
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as handle:
        lines = [line.strip() for line in handle if line.strip()]
    return lines[-1] if lines else "error"


def lower_is_better(metric: str, mode: str | None = None) -> bool:
    return mode == "min" if mode else any(tag in metric for tag in MIN_IS_BETTER)


def better(metric: str, a: float, b: float, mode: str | None = None) -> bool:
    """Is ``a`` better than ``b`` for ``metric`` (NaN is never better)?"""
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return False
    if b is None or (isinstance(b, float) and math.isnan(b)):
        return True
    return a < b if lower_is_better(metric, mode) else a > b


def trial_status(results: list[dict], status: dict | None, error: str | None) -> tuple[str, str]:
    """(status, reason): completed, stopped early, nan, collapsed, error or unfinished."""
    last = results[-1].get("stop_reason") if results else None
    recovered = status is not None and status.get("status") == "terminated"  # a retry after an error succeeded
    if (error and not recovered) or (status and status.get("status") == "error"):
        return "error", (status or {}).get("error") or error or "error"
    if last in ("nan", "collapsed"):
        return last, "loss became NaN or inf" if last == "nan" else "outputs identical for every input"
    if last == "completed":
        return "completed", "trained to the end"
    if status and status.get("status") == "terminated":
        return "stopped early", f"stopped by the scheduler at step {results[-1].get('step') if results else 0}"
    return "unfinished", "the sweep ended before this trial did"


def load_run(run_dir: str) -> pd.DataFrame:
    """One row per trial: trial id, label, seed, status and reason, steps, the trial's full config
    (``config/<key>``), its sampled values (``param/<key>``), every numeric metric at the best evaluation
    (``best/<metric>``, best by the space's metric) and at the last one (``last/<metric>``), and the model's cost
    (``cost/params``, ``cost/macs``, ``cost/latency_ms``)."""
    manifest = read_manifest(run_dir)
    space = load_space(manifest)
    metric, mode = manifest.get("metric", space.metric), manifest.get("mode", space.mode)
    rows = []
    for folder in trial_dirs(run_dir):
        params = _read_json(os.path.join(folder, "params.json")) or {}
        results = read_results(folder)
        status, reason = trial_status(results, _read_json(os.path.join(folder, "status.json")), _error_line(folder))
        config = space.resolve(manifest["base_config"], params)
        row: dict[str, Any] = {
            "trial_id": os.path.basename(folder),
            "label": space.label(params),
            "seed": config.get("train", {}).get("seed", 0),
            "status": status,
            "reason": reason,
            "steps": results[-1].get("step", 0) if results else 0,
        }
        row.update({f"config/{k}": _cell(v) for k, v in flatten(config).items()})
        row.update({f"param/{k}": _cell(v) for k, v in params.items()})
        best = None
        for result in results:
            if best is None or better(metric, result.get(metric), best.get(metric), mode):
                best = result
        for prefix, result in (("best", best), ("last", results[-1] if results else None)):
            for key, value in (result or {}).items():
                if _is_metric(key, value):
                    row[f"{prefix}/{key}"] = value
        for key in COST_KEYS:  # the model's cost is measured once and repeated in every report
            row[key] = next((r[key] for r in reversed(results) if _is_metric(key, r.get(key))), math.nan)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=[*BASE_COLUMNS, *COST_KEYS])
    return frame


def load_curves(run_dir: str) -> pd.DataFrame:
    """Learning curves: one row per trial and evaluation, with every numeric metric."""
    manifest = read_manifest(run_dir)
    space = load_space(manifest)
    rows = []
    for folder in trial_dirs(run_dir):
        params = _read_json(os.path.join(folder, "params.json")) or {}
        seed = space.resolve(manifest["base_config"], params).get("train", {}).get("seed", 0)
        for result in read_results(folder):
            row = {"trial_id": os.path.basename(folder), "label": space.label(params), "seed": seed}
            row.update({k: v for k, v in result.items() if _is_metric(k, v)})
            rows.append(row)
    frame = pd.DataFrame(rows)
    return frame if not frame.empty else pd.DataFrame(columns=["trial_id", "label", "seed", "step"])


def _is_metric(key: str, value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return "/" in key or key in ("step", "lr", "progress")


def _cell(value: Any) -> Any:
    return json.dumps(value) if isinstance(value, (list, dict)) else value
