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


def metric_vs_parameter(frame: pd.DataFrame, column: str, metric: str) -> go.Figure:
    """One point per trial; infeasible trials are red crosses (at the bottom when they have no value)."""
    y = pd.to_numeric(frame.get(f"best/{metric}"), errors="coerce").astype(float)
    x, _, log = axis_values(frame[column])
    bad = frame["status"].isin(INFEASIBLE) | ~np.isfinite(y)
    fig = go.Figure()
    hover = frame["label"].astype(str) + " (seed " + frame["seed"].astype(str) + "): " + frame["status"]
    fig.add_trace(go.Scatter(x=x[~bad], y=y[~bad], mode="markers", name="trials", text=hover[~bad],
                             marker={"size": 9, "color": "#1f77b4", "opacity": 0.8}))
    if bad.any():
        y_bad = y[bad].where(np.isfinite(y[bad]), _y_for_missing(y))
        fig.add_trace(go.Scatter(x=x[bad], y=y_bad, mode="markers", name="infeasible", text=hover[bad],
                                 marker={"size": 11, "color": "#d62728", "symbol": "x"}))
    fig.update_layout(title=f"{short(metric)} vs {column[7:]}", template=TEMPLATE, height=360,
                      xaxis_title=column[7:], yaxis_title=f"best {short(metric)}")
    if log:
        fig.update_xaxes(type="log")
    return fig


def isolation(frame: pd.DataFrame, columns: list[str], metric: str, mode: str) -> go.Figure | None:
    """For each value of each scientific parameter, the best configuration's mean ± CI (the nuisance parameters,
    here the seed and any other searched value, are optimised away)."""
    if not columns:
        return None
    fig = make_subplots(rows=1, cols=len(columns), subplot_titles=[c[7:] for c in columns])
    summary = stats.summarize(frame, [f"best/{metric}"]).set_index("label")
    lower = lower_is_better(metric, mode)
    for i, column in enumerate(columns, start=1):
        xs, means, cis, names = [], [], [], []
        by_value = frame.groupby(as_text(frame[column]), sort=False)["label"]
        for value, labels in by_value:
            candidates = summary.loc[summary.index.intersection(labels.unique())].dropna(subset=["mean"])
            if candidates.empty:
                continue
            best = candidates["mean"].idxmin() if lower else candidates["mean"].idxmax()
            xs.append(value)
            means.append(candidates.at[best, "mean"])
            cis.append(candidates.at[best, "ci"])
            names.append(best)
        x, numeric, log = axis_values(pd.Series(xs, dtype=object))
        order = np.argsort(x.to_numpy()) if numeric else np.arange(len(xs))
        # categories have no order between them: no connecting line
        mode = "markers+lines" if numeric else "markers"
        fig.add_trace(go.Scatter(x=x.iloc[order], y=np.array(means)[order], mode=mode,
                                 marker={"size": 9, "color": "#1f77b4"}, line={"color": "#1f77b4"},
                                 error_y={"type": "data", "array": np.nan_to_num(np.array(cis, float)[order])},
                                 text=np.array(names, dtype=object)[order], name=column[7:], showlegend=False),
                      row=1, col=i)
        if log:
            fig.update_xaxes(type="log", row=1, col=i)
    fig.update_layout(title=f"Isolation: best {short(metric)} per scientific value (mean ± 95 % CI)",
                      template=TEMPLATE, height=380)
    return fig


def learning_curves(curves: pd.DataFrame, metric: str) -> go.Figure | None:
    if curves.empty or metric not in curves:
        return None
    panels = [metric] + (["train/loss"] if "train/loss" in curves else [])
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=panels)
    colour = colours(curves["label"])
    shown: set[str] = set()
    for (trial, label, seed), trial_rows in curves.groupby(["trial_id", "label", "seed"], sort=False):
        trial_rows = trial_rows.sort_values("step")
        for col, key in enumerate(panels, start=1):
            fig.add_trace(go.Scatter(x=trial_rows["step"], y=trial_rows[key], mode="lines+markers",
                                     line={"color": colour[label]}, legendgroup=str(label), name=str(label),
                                     showlegend=label not in shown, hovertext=f"{label} (seed {seed}, {trial})"),
                          row=1, col=col)
            shown.add(label)
    fig.update_xaxes(title_text="step")
    fig.update_layout(title="Learning curves (every trial)", template=TEMPLATE, height=420)
    return fig


def parallel_coordinates(frame: pd.DataFrame, columns: list[str], metric: str) -> go.Figure | None:
    key = f"best/{metric}"
    if not columns or key not in frame:
        return None
    rows = frame[np.isfinite(pd.to_numeric(frame[key], errors="coerce").astype(float))]
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
    values = rows[key].astype(float)
    dimensions.append({"label": short(metric), "values": values})
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line={"color": values, "colorscale": "Viridis",
                                                              "showscale": True}))
    fig.update_layout(title="Parallel coordinates (one line per trial)", template=TEMPLATE, height=420)
    return fig


def ablation_bars(table: pd.DataFrame, metric: str, baseline: str | None) -> go.Figure | None:
    """Bars of the per-configuration means (the main table's numbers) with 95 % CI error bars."""
    mean, ci = f"{metric}/mean", f"{metric}/ci"
    if table.empty or mean not in table:
        return None
    rows = table[table[mean].notna()]
    colour = ["#7f7f7f" if kind == "baseline" else "#ff7f0e" if label == baseline else "#1f77b4"
              for kind, label in zip(rows["kind"], rows["label"])]
    fig = go.Figure(go.Bar(x=[_clip(str(v), 40) for v in rows["label"]], y=rows[mean], marker_color=colour,
                           error_y={"type": "data", "array": rows[ci].fillna(0).astype(float)},
                           hovertext=[f"{label}: n={n}" for label, n in zip(rows["label"], rows[f"{metric}/n"])]))
    low = float((rows[mean] - rows[ci].fillna(0)).min())
    high = float((rows[mean] + rows[ci].fillna(0)).max())
    pad = 0.1 * (high - low or abs(high) or 1.0)
    fig.update_layout(title=f"{short(metric)} per configuration (mean ± 95 % CI; orange: baseline, grey: classical)",
                      template=TEMPLATE, height=420, yaxis_range=[low - pad, high + pad],
                      yaxis_title=short(metric))
    return fig


def pareto_front(cost: np.ndarray, quality: np.ndarray, lower_quality_better: bool) -> np.ndarray:
    """Indices of the points no other point beats on both cost (lower) and quality, by increasing cost."""
    order = np.lexsort((quality if lower_quality_better else -quality, cost))
    front, best = [], math.inf
    for i in order:
        value = quality[i] if lower_quality_better else -quality[i]
        if value < best:
            front.append(i)
            best = value
    return np.array(front, dtype=int)


def quality_vs_cost(table: pd.DataFrame, metric: str, mode: str) -> go.Figure | None:
    mean = f"{metric}/mean"
    if table.empty or mean not in table:
        return None
    rows = table[(table["kind"] == "configuration") & table[mean].notna()]
    cost_key = next((k for k in ("cost/macs", "cost/latency_ms")
                     if k in rows and rows[k].notna().all() and rows[k].round(6).nunique() > 1), None)
    cost_key = cost_key or next((k for k in ("cost/latency_ms", "cost/macs") if k in rows and rows[k].notna().all()),
                                None)
    if cost_key is None or rows.empty:
        return None
    x, y = rows[cost_key].to_numpy(float), rows[mean].to_numpy(float)
    front = pareto_front(x, y, lower_is_better(metric, mode))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name="configurations", text=rows["label"],
                             error_y={"type": "data", "array": rows[f"{metric}/ci"].fillna(0).astype(float)},
                             marker={"size": 10}))
    fig.add_trace(go.Scatter(x=x[front], y=y[front], mode="lines+markers", name="Pareto front",
                             line={"shape": "hv", "color": "#d62728"}, text=rows["label"].to_numpy()[front]))
    name = {"cost/macs": "MACs", "cost/latency_ms": "latency (ms)"}[cost_key]
    same_macs = cost_key == "cost/latency_ms" and "cost/macs" in rows and rows["cost/macs"].nunique() == 1
    title = f"{short(metric)} vs {name} with the Pareto front"
    title += " (every configuration has the same MACs)" if same_macs else ""
    fig.update_layout(title=title, template=TEMPLATE, height=400, xaxis_title=name, yaxis_title=short(metric))
    return fig


def _clip(text: object, width: int = 28) -> str:
    text = "—" if text is None or (isinstance(text, float) and text != text) else str(text)
    return text if len(text) <= width else text[: width - 1] + "…"
