"""Read a run directory (finished, partial or resumed) into tidy frames.

Layout read: ``<run_dir>/manifest.json`` and one folder per trial with Ray's ``params.json`` (the sampled values),
``result.json`` (one JSON object per evaluation), our ``status.json`` (written when the trial ended) and Ray's
``error.txt`` for failed trials. A trial without ``status.json`` never ended (the driver died first); a resumed trial
reports again from its last checkpoint, and its reports replace the earlier life's from that step on.

What a live or interrupted sweep leaves is read as such: a trial without ``result.json`` never reported, and a report
line cut short (being written, or cut by a killed driver) is skipped. Anything else that is not what the sweep writes
(a file that is not UTF-8 JSON of the expected shape, a folder in a file's place, a manifest value or a config the
sweep would not have written, a trial folder without its params.json) is a :class:`DataError` naming the file, so
that no table is rewritten from a misread trial.
"""

from __future__ import annotations

import functools
import json
import math
import os
from typing import Any

import pandas as pd

from analysis.manifest import (  # noqa: F401  (read from here too)
    MANIFEST_FORMAT,
    check_config,
    load_space,
    manifest_value,
    read_manifest,
)
from analysis.rundir import NODE_KEY, read_status
from restore_core.config import flatten
from restore_core.errors import DataError, UserError
from restore_core.io import json_excerpt, read_bytes, read_json_object, read_text
from restore_core.run_files import degradation, read_test, select_report
from restore_core.schema import validate_config
from search_spaces.space import ROW_KEY, SEED_KEY, TRIAL_INDEX_KEY

PARAMS_FORMAT = "a trial's params.json is the JSON object of its sampled values, as Ray writes it"
RESULT_FORMAT = "a trial's result.json holds one JSON report per line, as Ray writes it"

MIN_IS_BETTER = ("loss", "error", "mae", "gcmse", "lpips", "latency", "macs", "params", "time/")
COST_KEYS = ("cost/params", "cost/macs", "cost/latency_ms")
INFEASIBLE = ("error", "nan", "collapsed")
BASE_COLUMNS = ["trial_id", "label", "seed", "status", "reason", "steps", "budget", "degraded", "degraded_note",
                "node_id"]

def trial_dirs(run_dir: str) -> list[str]:
    """The trial folders of a run: those with a ``params.json``, which Ray writes when the trial starts.

    A folder with reports (``result.json``) but no ``params.json`` is a DataError: the trial ran, its configuration
    is unknown, and leaving it out would drop its results from the tables. A folder with only ``error.txt`` and
    ``status.json`` is what Ray leaves for a trial that failed before it started (its actor could not be created):
    it has nothing to tabulate and is left out, as any other folder without ``params.json``.
    """
    folders = []
    for name in sorted(os.listdir(run_dir)):
        folder = os.path.join(run_dir, name)
        if os.path.lexists(os.path.join(folder, "params.json")):
            folders.append(folder)
        elif os.path.lexists(os.path.join(folder, "result.json")):
            raise DataError(f"{folder} has result.json but no params.json; {PARAMS_FORMAT} (restore it, or move the "
                            "folder out of the run directory to leave the trial out)")
    return folders


def read_results(trial_dir: str) -> list[dict[str, Any]]:
    """Every report of a trial, one per step. A line cut short is skipped: the trial is writing it, or a killed driver
    cut it (and a resumed one appended its reports after it). A line that is not a report at all is a DataError."""
    path = os.path.join(trial_dir, "result.json")
    # A resumed trial reports again from its last checkpoint: a step at or below one already read starts a new life,
    # which replaces every report of the earlier one from that step on (even those it has not reached again).
    by_step: dict[int, dict] = {}
    for number, line in enumerate((read_text(path, RESULT_FORMAT) or "").split("\n"), start=1):
        line = line.strip()
        if not line:
            continue
        if not line.startswith("{"):  # every report, even one cut short, starts as a JSON object
            raise DataError(f"{path} line {number} is not a JSON report; {RESULT_FORMAT}")
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        step = _step(row.get("step", len(by_step)), path, number)
        if by_step and step <= next(reversed(by_step)):
            by_step = {s: report for s, report in by_step.items() if s < step}
        by_step[step] = row
    return list(by_step.values())


def _step(value: Any, path: str, number: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise DataError(f"{path} line {number}: step {json.dumps(value)} is not a whole number; {RESULT_FORMAT}")
    return int(value)


def read_trial(space, manifest: dict[str, Any], trial_dir: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A trial's sampled values (params.json) and the full config they resolve to."""
    path = os.path.join(trial_dir, "params.json")
    params = read_json_object(path, PARAMS_FORMAT) or {}
    known = (ROW_KEY, SEED_KEY, TRIAL_INDEX_KEY, *(p.key for p in space.params))
    unknown = [key for key in params if key not in known]
    if unknown:  # e.g. a run of a space that has since dropped or renamed a parameter: its value would be ignored
        records = ([ROW_KEY] if space.rows else []) + [p.key for p in space.params] + [SEED_KEY]
        raise DataError(f"{path}: {json_excerpt(unknown[0], 80)} is not a parameter of space '{space.name}', so its "
                        f"value would be ignored; a trial of it records {', '.join(records)}")
    try:
        config = space.resolve(manifest["base_config"], params)
        _check_once(config)
    except UserError as err:  # e.g. a row the space no longer has, or a sampled value of the wrong type
        raise DataError(f"{path}: {err}") from None
    return params, config


def _check_once(config: dict[str, Any]) -> None:
    """:func:`check_config`, once per distinct config in this process: one analysis reads every trial three times
    (the test evaluation, the table, the curves), and a grid run repeats one config over its seeds."""
    try:
        text = json.dumps(config, sort_keys=True)
    except (TypeError, ValueError):  # a value JSON cannot hold: check it as it is
        check_config(config)
        return
    _check_text(text)


@functools.lru_cache(maxsize=4096)
def _check_text(text: str) -> None:  # an invalid config raises, and lru_cache keeps only what returned
    check_config(json.loads(text))


def error_line(trial_dir: str) -> str | None:
    data = read_bytes(os.path.join(trial_dir, "error.txt"), "a failed trial's error.txt is Ray's text traceback")
    if data is None:
        return None
    lines = [line.strip() for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "error"


def lower_is_better(metric: str, mode: str | None = None) -> bool:
    return mode == "min" if mode else any(tag in metric for tag in MIN_IS_BETTER)


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
    """One row per trial: trial id, label, seed, status and reason, the steps it trained and their share of its budget
    (``train.steps``), whether it fell from its peak (``degraded``, with ``degraded_note`` "fell from X at step a to
    Y at step b"), the Ray node it last reported from (``node_id``), the trial's full config (``config/<key>``), its
    sampled values (``param/<key>``), every numeric metric at the evaluation that selected its checkpoint
    (``best/<metric>``, best by the space's metric, with ``best/step``) and at the last one (``last/<metric>``), the
    test evaluation of the selected checkpoint (``test/<name>``, with ``test/step``; missing until it has run), and
    the model's cost (``cost/params``, ``cost/macs``, ``cost/latency_ms``)."""
    manifest = read_manifest(run_dir)
    space = load_space(manifest)
    metric, mode = manifest_value(manifest, space, "metric"), manifest_value(manifest, space, "mode")
    lower = lower_is_better(metric, mode)
    trials = [(folder, *read_trial(space, manifest, folder), read_results(folder)) for folder in trial_dirs(run_dir)]
    _check_metric(run_dir, manifest, metric, [results for *_, results in trials])
    rows = []
    labels = space.labels([params for _, params, _, _ in trials])
    for (folder, params, config, results), label in zip(trials, labels):
        status, reason = trial_status(results, read_status(folder), error_line(folder))
        train = validate_config(config, cross_field=False).train  # read_trial checked it: this cannot fail
        steps = results[-1].get("step", 0) if results else 0
        # a crashed or diverged trial is infeasible, not degraded: its fall is its failure
        fell = None if status in ("error", "nan") else degradation(results, metric, lower, train.degrade_tolerance)
        row: dict[str, Any] = {
            "trial_id": os.path.basename(folder),
            "label": label,
            "seed": config.get("train", {}).get("seed", 0),
            "status": status,
            "reason": reason,
            "steps": steps,
            "budget": steps / train.steps,
            "degraded": fell is not None,
            "degraded_note": fell.describe() if fell is not None else "",
            # the Ray node of its last report (a trial retried after its node died: the node it went on on)
            "node_id": results[-1].get(NODE_KEY) if results else None,
        }
        row.update({f"config/{k}": _cell(v) for k, v in flatten(config).items()})
        row.update({f"param/{k}": _cell(v) for k, v in params.items()})
        # the evaluation that selected the checkpoint Ray kept; a trial without a finite value keeps its first
        best = select_report(results, metric, lower) or (results[0] if results else None)
        for prefix, result in (("best", best), ("last", results[-1] if results else None)):
            for key, value in (result or {}).items():
                if _is_metric(key, value):
                    row[f"{prefix}/{key}"] = value
        tested = read_test(folder)
        if tested is not None:  # the test evaluation of the selected checkpoint: test/<name>, and its step
            row["test/step"] = tested["step"]
            row.update({key: value for key, value in tested["metrics"].items() if _is_metric(key, value)})
        for key in COST_KEYS:  # the model's cost is measured once and repeated in every report
            row[key] = next((r[key] for r in reversed(results) if _is_metric(key, r.get(key))), math.nan)
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=[*BASE_COLUMNS, *COST_KEYS])
    return frame


def _check_metric(run_dir: str, manifest: dict[str, Any], metric: str, results: list[list[dict]]) -> None:
    """The run's metric must be one its trials report (when they have reported anything)."""
    reported = {key for reports in results for report in reports for key, value in report.items()
                if _is_metric(key, value)}
    if not reported or metric in reported:
        return
    path = os.path.join(run_dir, "manifest.json")
    known = ", ".join(sorted(key for key in reported if "/" in key) or sorted(reported))
    if "metric" in manifest:
        raise DataError(f"{path}: metric is {json_excerpt(metric, 80)}, which no trial reports; the trials report "
                        f"{known}")
    raise DataError(f"{path} records no metric, and its space's ({json_excerpt(metric, 80)}) is not one the trials "
                    f"report; add \"metric\": one of {known}")


def load_curves(run_dir: str) -> pd.DataFrame:
    """Learning curves: one row per trial and evaluation, with every numeric metric."""
    manifest = read_manifest(run_dir)
    space = load_space(manifest)
    rows = []
    trials = [(folder, *read_trial(space, manifest, folder)) for folder in trial_dirs(run_dir)]
    labels = space.labels([params for _, params, _ in trials])
    for (folder, _, config), label in zip(trials, labels):
        seed = config.get("train", {}).get("seed", 0)
        for result in read_results(folder):
            row = {"trial_id": os.path.basename(folder), "label": label, "seed": seed}
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
