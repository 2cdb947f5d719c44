"""A run as an Optuna study in a journal file, which ``optuna-dashboard <file>`` opens.

Optuna-searched runs keep their live study in ``<run_dir>/optuna.journal`` (the sweep's sampler writes it as it
goes); ``python -m analysis RUN --optuna`` writes ``optuna-results.journal`` for any run (grid, random or Optuna),
one Optuna trial per trial of the run, from its files. Both use Optuna's journal file storage: an append-only log
that locks with a lock file beside it, which holds up on NFS where SQLite's locking does not.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from typing import Any

from analysis.load import (
    error_line,
    load_space,
    lower_is_better,
    manifest_value,
    read_manifest,
    read_results,
    read_trial,
    trial_dirs,
    trial_status,
)
from analysis.objectives import run_objectives
from analysis.rundir import read_status
from restore_core.run_files import select_report

LIVE_JOURNAL = "optuna.journal"
EXPORT_JOURNAL = "optuna-results.journal"


def journal_storage(path: str):
    """Optuna's journal file storage at ``path``, with a lock file that works on shared filesystems (``open`` with
    ``O_EXCL`` rather than a symlink, which some network filesystems refuse)."""
    from optuna.storages import JournalStorage  # deferred: Optuna takes a second to import
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock  # deferred: Optuna

    return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))


def export_study(run_dir: str) -> str:
    """Write the run's trials as an Optuna study to ``<run_dir>/optuna-results.journal`` (replacing an earlier
    export) and return its path. Each trial of the run is one Optuna trial: its label, sampled values and seed as
    params, its metric at every evaluation as intermediate values (by training step), its best value as the value;
    failed, diverged and collapsed trials are FAIL, trials stopped early PRUNED, unfinished ones RUNNING. A run with
    several objectives (``--objective``) is a multi-objective study: the first objective's best value, and each other
    objective's value at that evaluation (a cost: as the trial last reported it), in the run's directions."""
    import optuna  # deferred: Optuna takes a second to import, only --optuna needs it

    manifest = read_manifest(run_dir)
    space = load_space(manifest)
    metric, mode = manifest_value(manifest, space, "metric"), manifest_value(manifest, space, "mode")
    objectives = run_objectives(manifest, metric, mode)
    minimize = lower_is_better(metric, mode)
    trials = _trial_records(run_dir, manifest, space, metric, minimize, [m for m, _ in objectives[1:]])
    path = os.path.join(run_dir, EXPORT_JOURNAL)
    partial = path + ".partial"
    for stale in (partial, partial + ".lock"):
        if os.path.exists(stale):
            os.remove(stale)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions = ["minimize" if lower_is_better(m, d) else "maximize" for m, d in objectives]
    study = optuna.create_study(storage=journal_storage(partial), study_name=os.path.basename(run_dir.rstrip("/")),
                                directions=directions)
    study.set_user_attr("space", manifest["space"])
    study.set_user_attr("metric", metric)
    if len(objectives) > 1:
        with warnings.catch_warnings():  # experimental since Optuna 3.2 and unchanged since; the dashboard reads it
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names([m for m, _ in objectives])
    study.set_user_attr("run_dir", os.path.abspath(run_dir))
    distributions = _distributions(trials)
    for record in trials:
        study.add_trial(optuna.trial.create_trial(
            state=record["state"], values=record["values"], params=record["params"],
            distributions={key: distributions[key] for key in record["params"]},
            intermediate_values=record["intermediate"], user_attrs=record["attrs"]))
    os.replace(partial, path)  # a reader never sees half a study
    if os.path.exists(partial + ".lock"):
        os.remove(partial + ".lock")
    return path


def _trial_records(run_dir: str, manifest: dict[str, Any], space, metric: str, minimize: bool,
                   others: list[str]) -> list[dict]:
    """Per trial folder: params, intermediate values, values (the metric's, then each of ``others``) and Optuna
    state."""
    from optuna.trial import TrialState  # deferred: Optuna

    read = [(folder, *read_trial(space, manifest, folder), read_results(folder)) for folder in trial_dirs(run_dir)]
    labels = space.labels([params for _, params, _, _ in read])
    records = []
    for (folder, params, config, results), label in zip(read, labels):
        status, reason = trial_status(results, read_status(folder), error_line(folder))
        values = {int(r["step"]): float(r[metric]) for r in results
                  if "step" in r and isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric])}
        value = (min if minimize else max)(values.values()) if values else None
        selected = select_report([r for r in results if "step" in r], metric, minimize)
        scored = [value, *(_value_at(results, other, selected) for other in others)] if values else [None]
        state = {"completed": TrialState.COMPLETE, "stopped early": TrialState.PRUNED,
                 "unfinished": TrialState.RUNNING}.get(status, TrialState.FAIL)
        if state == TrialState.COMPLETE and any(v is None for v in scored):
            state = TrialState.FAIL
        sampled = {key: value for key, value in params.items() if not key.startswith("__")}
        sampled["label"] = label
        sampled["seed"] = config.get("train", {}).get("seed", 0)
        records.append({
            "params": sampled,
            "intermediate": values,
            # Optuna keeps a value only for completed trials; a pruned trial's best shows as its last intermediate
            "values": scored if state == TrialState.COMPLETE else None,
            "state": state,
            "attrs": {"trial_id": os.path.basename(folder), "status": status, "reason": reason,
                      "steps": int(results[-1].get("step", 0)) if results else 0},
        })
    return records


def _value_at(results: list[dict], metric: str, selected: dict) -> float | None:
    """``metric`` in the ``selected`` report (the evaluation whose checkpoint the trial kept, by the first
    objective), else in the last report that has it (a cost the trial reports once)."""
    found = [r for r in (selected, *reversed(results)) if isinstance(r.get(metric), (int, float))
             and math.isfinite(r[metric])]
    return float(found[0][metric]) if found else None


def _distributions(records: list[dict]) -> dict[str, Any]:
    """One Optuna distribution per param over the values the run has: a float range for sampled numbers, the
    values seen as categories otherwise (grid rows, labels, seeds, choices)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution  # deferred: Optuna

    seen: dict[str, list] = {}
    for record in records:
        for key, value in record["params"].items():
            seen.setdefault(key, [])
            if value not in seen[key]:
                seen[key].append(value)
    distributions = {}
    for key, values in seen.items():
        numbers = all(isinstance(v, float) for v in values)
        if numbers and key != "seed" and len(values) > 1:
            low, high = min(values), max(values)
            log = low > 0 and high / low > 100  # a rate over decades reads best on a log axis
            distributions[key] = FloatDistribution(low, high, log=log)
        else:
            distributions[key] = CategoricalDistribution([_categorical(v) for v in values])
    for record in records:  # categorical values must be primitives Optuna stores (lists become their JSON text)
        record["params"] = {k: v if isinstance(distributions[k], FloatDistribution) else _categorical(v)
                            for k, v in record["params"].items()}
    return distributions


def _categorical(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str)) else json.dumps(value)
