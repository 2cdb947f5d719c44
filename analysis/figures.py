"""Plotly figures of a sweep, in the order the Deep Learning Tuning Playbook reads one: the metric against each
varied parameter (with the infeasible trials marked), isolation plots of the scientific parameters, learning
curves, parallel coordinates, ablation bars with confidence intervals, and quality against cost."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from analysis import stats
from analysis.format import fmt_estimate
from analysis.load import INFEASIBLE, lower_is_better
from analysis.tables import short

PALETTE = qualitative.Plotly + qualitative.D3 + qualitative.Alphabet
TEMPLATE = "plotly_white"


def colours(labels) -> dict[str, str]:
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(dict.fromkeys(labels))}


def as_text(values: pd.Series) -> pd.Series:
    """Readable category names: a key a trial's config does not set reads "(unset)", whole floats lose ".0"."""
    def text(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "(unset)"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)

    return pd.Series([text(v) for v in values], index=values.index, dtype=object)


def varied_columns(frame: pd.DataFrame, nuisance=("train.seed", "train.threads")) -> list[str]:
    """Config keys whose value differs between trials (the seed and thread count aside)."""
    out = []
    for column in frame.columns:
        if column.startswith("config/") and column[7:] not in nuisance:
            if as_text(frame[column]).nunique() > 1:
                out.append(column)
    return out


def axis_values(values: pd.Series) -> tuple[pd.Series, bool, bool]:
    """(x values, numeric?, log axis?): numbers spanning more than two decades go on a log axis."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        positive = numeric[numeric > 0]
        log = len(positive) == len(numeric) and positive.max() / positive.min() > 100
        return numeric, True, bool(log)
    return as_text(values), False, False


def _y_for_missing(values: pd.Series) -> float:
    finite = values[np.isfinite(values)]
    if finite.empty:
        return 0.0
    span = float(finite.max() - finite.min()) or 1.0
    return float(finite.min() - 0.08 * span)


def metric_vs_parameter(frame: pd.DataFrame, column: str, value: str) -> go.Figure:
    """One point per trial of its reported ``value`` (``test/psnr``); trials that did not train to the end are grey
    open circles (their value is from the step they stopped at), infeasible ones red crosses (at the bottom when they
    have no value)."""
    y = pd.to_numeric(frame.get(value), errors="coerce").astype(float)
    x, _, log = axis_values(frame[column])
    bad = frame["status"].isin(INFEASIBLE) | ~np.isfinite(y)
    budget = pd.to_numeric(frame.get("budget", pd.Series(1.0, index=frame.index)), errors="coerce")
    short_of_budget = ~bad & (budget < 1)
    fig = go.Figure()
    hover = (frame["label"].astype(str) + " (seed " + frame["seed"].astype(str) + "): " + frame["status"] + " at step "
             + frame.get("steps", pd.Series(0, index=frame.index)).astype(str))
    done = ~bad & ~short_of_budget
    fig.add_trace(go.Scatter(x=x[done], y=y[done], mode="markers", name="trained to the end", text=hover[done],
                             marker={"size": 9, "color": "#1f77b4", "opacity": 0.8}))
    if short_of_budget.any():
        fig.add_trace(go.Scatter(x=x[short_of_budget], y=y[short_of_budget], mode="markers", name="stopped early",
                                 text=hover[short_of_budget],
                                 marker={"size": 9, "color": "#7f7f7f", "symbol": "circle-open"}))
    if bad.any():
        y_bad = y[bad].where(np.isfinite(y[bad]), _y_for_missing(y))
        fig.add_trace(go.Scatter(x=x[bad], y=y_bad, mode="markers", name="infeasible", text=hover[bad],
                                 marker={"size": 11, "color": "#d62728", "symbol": "x"}))
    fig.update_layout(title=f"{short(value)} vs {column[7:]}", template=TEMPLATE, height=360,
                      xaxis_title=column[7:], yaxis_title=short(value))
    if log:
        fig.update_xaxes(type="log")
    return fig


def error_bars(cis, ns) -> dict:
    """Plotly error bars of 95 % CI half-widths, drawn only where n ≥ 2: a single seed has no interval, and a bar of
    zero width would claim one."""
    array = [float(ci) if n is not None and n == n and int(n) >= 2 and np.isfinite(ci) else None
             for ci, n in zip(cis, ns)]
    return {"type": "data", "array": array, "visible": any(v is not None for v in array)}


def estimate_text(mean: float, ci: float, n: int) -> str:
    """Hover text of a mean: ``24.45 ± 1.50 (n=3)``, ``24.45 (n=1)``; never ``± 0`` for one seed."""
    return fmt_estimate(mean, ci, n)


def isolation(frame: pd.DataFrame, columns: list[str], value: str, mode: str) -> go.Figure | None:
    """For each value of each scientific parameter, the best configuration's mean ± CI over the trials that trained
    to the end (the nuisance parameters, here the seed and any other searched value, are optimised away)."""
    if not columns:
        return None
    fig = make_subplots(rows=1, cols=len(columns), subplot_titles=[c[7:] for c in columns])
    finished = completed(frame)
    summary = stats.summarize(finished, [value]).set_index("label")
    lower = lower_is_better(value, mode)
    for i, column in enumerate(columns, start=1):
        xs, means, cis, ns, names = [], [], [], [], []
        by_value = finished.groupby(as_text(finished[column]), sort=False)["label"]
        for setting, labels in by_value:
            candidates = summary.loc[summary.index.intersection(labels.unique())].dropna(subset=["mean"])
            if candidates.empty:
                continue
            best = candidates["mean"].idxmin() if lower else candidates["mean"].idxmax()
            xs.append(setting)
            means.append(candidates.at[best, "mean"])
            cis.append(candidates.at[best, "ci"])
            ns.append(candidates.at[best, "n"])
            names.append(f"{best}: {estimate_text(means[-1], cis[-1], int(ns[-1]))}")
        x, numeric, log = axis_values(pd.Series(xs, dtype=object))
        order = np.argsort(x.to_numpy()) if numeric else np.arange(len(xs))
        # categories have no order between them: no connecting line
        line = "markers+lines" if numeric else "markers"
        fig.add_trace(go.Scatter(x=x.iloc[order], y=np.array(means)[order], mode=line,
                                 marker={"size": 9, "color": "#1f77b4"}, line={"color": "#1f77b4"},
                                 error_y=error_bars(np.array(cis, float)[order], np.array(ns, float)[order]),
                                 text=np.array(names, dtype=object)[order], name=column[7:], showlegend=False),
                      row=1, col=i)
        if log:
            fig.update_xaxes(type="log", row=1, col=i)
    fig.update_layout(title=f"Isolation: best {short(value)} per scientific value (mean ± 95 % CI where n ≥ 2; "
                            "trials trained to the end)", template=TEMPLATE, height=380)
    return fig


def completed(frame: pd.DataFrame) -> pd.DataFrame:
    """The trials that trained their whole budget."""
    if "budget" not in frame:
        return frame
    return frame[pd.to_numeric(frame["budget"], errors="coerce") >= 1]


def parallel_coordinates(frame: pd.DataFrame, columns: list[str], value: str) -> go.Figure | None:
    if not columns or value not in frame:
        return None
    rows = frame[np.isfinite(pd.to_numeric(frame[value], errors="coerce").astype(float))]
    if rows.empty:
        return None
    dimensions = []
    for column in columns:
        x, numeric, log = axis_values(rows[column])
        if numeric:
            values = np.log10(x) if log else x
            dimensions.append({"label": ("log10 " if log else "") + column[7:], "values": values})
        else:
            names = list(dict.fromkeys(x))
            dimensions.append({"label": column[7:], "values": [names.index(v) for v in x],
                               "tickvals": list(range(len(names))), "ticktext": [_clip(n) for n in names]})
    values = rows[value].astype(float)
    dimensions.append({"label": short(value), "values": values})
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line={"color": values, "colorscale": "Viridis",
                                                              "showscale": True}))
    fig.update_layout(title="Parallel coordinates (one line per trial)", template=TEMPLATE, height=420)
    return fig


def ablation_bars(table: pd.DataFrame, value: str, baseline: str | None) -> go.Figure | None:
    """Bars of the ranked rows' means (the main table's numbers; rows that did not train to the end are left out)
    with 95 % CI error bars where n ≥ 2, and classical baselines."""
    mean, ci, n = f"{value}/mean", f"{value}/ci", f"{value}/n"
    if table.empty or mean not in table:
        return None
    ranked = table["rank"].notna() if "rank" in table else pd.Series(True, index=table.index)
    rows = table[table[mean].notna() & (ranked | (table["kind"] == "baseline"))]
    if rows.empty:
        return None
    colour = ["#7f7f7f" if kind == "baseline" else "#ff7f0e" if label == baseline else "#1f77b4"
              for kind, label in zip(rows["kind"], rows["label"])]
    counts = rows[n].astype(float)
    fig = go.Figure(go.Bar(x=[_clip(str(v), 40) for v in rows["label"]], y=rows[mean], marker_color=colour,
                           error_y=error_bars(rows[ci].astype(float), counts),
                           hovertext=[f"{label}: {estimate_text(m, c, int(k) if k == k else 0)}"
                                      for label, m, c, k in zip(rows["label"], rows[mean], rows[ci], counts)]))
    half = pd.Series([v or 0.0 for v in error_bars(rows[ci].astype(float), counts)["array"]], index=rows.index)
    low, high = float((rows[mean] - half).min()), float((rows[mean] + half).max())
    pad = 0.1 * (high - low or abs(high) or 1.0)
    single = " (n=1: no interval)" if (counts < 2).all() else ""
    fig.update_layout(title=f"{short(value)} of the ranked configurations (mean ± 95 % CI{single}; orange: baseline, "
                            "grey: classical)", template=TEMPLATE, height=420, yaxis_range=[low - pad, high + pad],
                      yaxis_title=short(value))
    return fig


def _clip(text: object, width: int = 28) -> str:
    text = "—" if text is None or (isinstance(text, float) and text != text) else str(text)
    return text if len(text) <= width else text[: width - 1] + "…"
