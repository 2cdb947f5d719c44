"""Parameter importances of an Optuna sweep: the trials are rebuilt into an Optuna study (one study trial per Ray
trial, its value the trial's best metric) and passed to ``optuna.importance.get_param_importances``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis import stats

MIN_TRIALS = 2


def distribution(param, values: pd.Series | None = None):
    """The Optuna distribution of a space parameter, matching the Ray domain it was sampled from; a numeric range
    widened to the run's ``values`` (a run made before the space's range changed keeps every trial)."""
    # lazy: Optuna takes a second to import, and only a sampled run's importances need it
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution  # lazy: see above

    if param.kind == "choice":
        return CategoricalDistribution(list(param.choices) if param.choices else list(param.grid))
    low, high = param.low, param.high
    observed = pd.to_numeric(values, errors="coerce").dropna() if values is not None else pd.Series(dtype=float)
    if not observed.empty:
        low, high = min(low, observed.min()), max(high, observed.max())
    if param.kind == "int":
        return IntDistribution(int(low), int(high))
    return FloatDistribution(float(low), float(high), log=param.kind == "loguniform")


def build_study(frame: pd.DataFrame, space, metric: str, mode: str):
    """An in-memory study holding one completed trial per counted Ray trial with a finite metric."""
    import optuna  # lazy: as in distribution()
    from optuna.distributions import CategoricalDistribution  # lazy: as in distribution()

    distributions = {p.key: distribution(p, frame[f"param/{p.key}"]) for p in space.params if f"param/{p.key}" in frame}
    if "param/row" in frame and space.rows:
        distributions["row"] = CategoricalDistribution([r.label for r in space.rows])
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize" if mode == "min" else "maximize")
    for _, row in stats.counted(frame).iterrows():
        value = pd.to_numeric(row.get(f"best/{metric}"), errors="coerce")
        if value is None or not math.isfinite(value):
            continue
        params = {k: row[f"param/{k}"] for k in distributions if pd.notna(row.get(f"param/{k}"))}
        used = {k: distributions[k] for k in params}
        try:
            study.add_trial(optuna.trial.create_trial(params=params, distributions=used, value=float(value)))
        except ValueError:  # a choice the space no longer has (the space changed after the run)
            continue
    return study, list(distributions)


def param_importances(frame: pd.DataFrame, space, metric: str, mode: str) -> tuple[dict[str, float], str]:
    """({parameter: importance}, how it was computed). Empty with the reason when it cannot be computed."""
    if frame.empty:
        return {}, "no trials"
    study, names = build_study(frame, space, metric, mode)
    completed = len(study.trials)
    if completed < MIN_TRIALS or not names:
        return {}, f"needs at least {MIN_TRIALS} completed trials with a finite {metric} (have {completed})"
    import optuna  # lazy: as in distribution()

    try:
        importances = optuna.importance.get_param_importances(study)
        return dict(importances), f"optuna.importance.get_param_importances (default evaluator), {completed} trials"
    except (RuntimeError, ValueError, ZeroDivisionError) as err:
        fallback = variance_share(frame, names, metric)
        return fallback, f"Optuna's evaluator failed ({err}); share of variance explained per parameter instead"


def variance_share(frame: pd.DataFrame, names: list[str], metric: str) -> dict[str, float]:
    """Correlation ratio η² of the metric on each parameter's values (quartiles of numeric ones): the share of the
    metric's variance that the parameter's groups explain, normalised to sum to 1."""
    rows = stats.counted(frame)
    y = pd.to_numeric(rows[f"best/{metric}"], errors="coerce")
    rows, y = rows[np.isfinite(y)], y[np.isfinite(y)]  # a trial without a finite value is in no group
    out = {}
    for name in names:
        x = rows[f"param/{name}"]
        numeric = pd.to_numeric(x, errors="coerce")
        groups = pd.qcut(numeric, 4, duplicates="drop") if numeric.notna().all() and numeric.nunique() > 4 else x
        total = ((y - y.mean()) ** 2).sum()
        between = y.groupby(groups.map(str)).agg(lambda g: len(g) * (g.mean() - y.mean()) ** 2).sum()
        out[name] = float(between / total) if total > 0 else 0.0
    norm = sum(out.values())
    return {k: v / norm for k, v in sorted(out.items(), key=lambda kv: -kv[1])} if norm > 0 else out


def importance_figure(importances: dict[str, float], how: str):
    """Horizontal bars of the importances; when there are none, an empty figure whose title says why."""
    if not importances:
        fig = go.Figure()
        fig.update_layout(title=f"Parameter importances: {how}", template="plotly_white", height=160)
        return fig
    names = list(importances)[::-1]
    fig = go.Figure(go.Bar(x=[importances[n] for n in names], y=names, orientation="h"))
    fig.update_layout(title=f"Parameter importances ({how})", template="plotly_white",
                      height=140 + 40 * len(names), xaxis_title="importance (sums to 1)")
    return fig
