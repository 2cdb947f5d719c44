"""Quality against cost, with the Pareto front where the costs can carry one: MACs and parameters are counted, so
a front on them is drawn; latency is measured, and a front on it is drawn only where configurations differ by more
than their measurements spread. Otherwise the figure says why the front is left out."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from analysis.figures import TEMPLATE, error_bars
from analysis.load import lower_is_better
from analysis.objectives import describe, nondominated
from analysis.tables import short


def pareto_front(cost: np.ndarray, quality: np.ndarray, lower_quality_better: bool) -> np.ndarray:
    """Indices of the points no other point beats on both cost (lower) and quality, by increasing cost."""
    front = np.flatnonzero(nondominated(np.column_stack([cost, quality]), [True, lower_quality_better]))
    return front[np.argsort(cost[front], kind="stable")]


def latency_spread(frame: pd.DataFrame, labels) -> pd.Series:
    """Per configuration, how far its trials' latency measurements spread (max − min); NaN with one trial."""
    latency = pd.to_numeric(frame.get("cost/latency_ms"), errors="coerce")
    spread = latency.groupby(frame["label"]).agg(lambda v: v.max() - v.min() if v.count() > 1 else math.nan)
    return spread.reindex(list(labels))


def front_rule(rows: pd.DataFrame, frame: pd.DataFrame) -> tuple[str | None, str]:
    """(cost column, why): MACs where they differ between configurations (counted, not measured); latency only
    where configurations differ by more than the spread of its measurements; else no front, and why."""
    if "cost/macs" in rows and rows["cost/macs"].notna().all() and rows["cost/macs"].round(6).nunique() > 1:
        return "cost/macs", ""
    if "cost/latency_ms" not in rows or not rows["cost/latency_ms"].notna().all():
        return None, "no cost was measured"
    if "cost/macs" in rows and rows["cost/macs"].nunique() == 1 and (
            "cost/params" not in rows or rows["cost/params"].nunique() == 1):
        return None, ("every configuration is the same network (same MACs and parameters): their latencies differ "
                      "by measurement noise only, so no Pareto front is drawn")
    spread = latency_spread(frame, rows["label"]).to_numpy(float)
    latency = rows["cost/latency_ms"].to_numpy(float)
    gaps = np.diff(np.sort(latency))
    if np.isnan(spread).all() or (gaps.size and gaps.min() <= np.nanmax(spread)):
        return None, ("the configurations' latencies are closer together than their measurements spread (or were "
                      "measured once): no Pareto front is drawn on latency")
    return "cost/latency_ms", ""


def quality_vs_cost(table: pd.DataFrame, value: str, mode: str, frame: pd.DataFrame | None = None) -> go.Figure | None:
    mean = f"{value}/mean"
    if table.empty or mean not in table:
        return None
    ranked = table["rank"].notna() if "rank" in table else table["kind"] == "configuration"
    rows = table[(table["kind"] == "configuration") & table[mean].notna() & ranked]
    if rows.empty:
        return None
    cost_key, why = front_rule(rows, frame if frame is not None else pd.DataFrame())
    axis = cost_key or ("cost/latency_ms" if "cost/latency_ms" in rows and rows["cost/latency_ms"].notna().all()
                        else None)
    if axis is None:
        return None
    x, y = rows[axis].to_numpy(float), rows[mean].to_numpy(float)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x, y=y, mode="markers", name="configurations", text=rows["label"],
                             error_y=error_bars(rows[f"{value}/ci"].astype(float), rows[f"{value}/n"].astype(float)),
                             marker={"size": 10}))
    name = {"cost/macs": "MACs", "cost/latency_ms": "latency (ms)"}[axis]
    title = f"{short(value)} vs {name}"
    if cost_key:
        front = pareto_front(x, y, lower_is_better(value, mode))
        fig.add_trace(go.Scatter(x=x[front], y=y[front], mode="lines+markers", name="Pareto front",
                                 line={"shape": "hv", "color": "#d62728"}, text=rows["label"].to_numpy()[front]))
        title += " with the Pareto front"
    else:
        title += f"<br><sup>{why}</sup>"
    fig.update_layout(title=title, template=TEMPLATE, height=420, xaxis_title=name, yaxis_title=short(value))
    return fig


def objectives_front(table: pd.DataFrame, objectives: list[tuple[str, str]]) -> go.Figure | None:
    """The measured Pareto front of a multi-objective run: each ranked configuration at its first two objectives'
    values (the first on y), those on the front of all the objectives (the table's ``pareto`` column) in red, joined
    where there are two objectives."""
    if len(objectives) < 2 or table.empty or "pareto" not in table:
        return None
    rows = table[(table["kind"] == "configuration") & table["pareto"].notna()]
    (y_metric, y_mode), (x_metric, x_mode) = objectives[0], objectives[1]
    columns = [_objective_column(table, m) for m in (x_metric, y_metric)]
    if rows.empty or None in columns:
        return None
    x, y = rows[columns[0]].to_numpy(float), rows[columns[1]].to_numpy(float)
    front = rows["pareto"].astype(bool).to_numpy()
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=x[~front], y=y[~front], mode="markers", name="dominated", marker={"size": 9,
                             "color": "#7f7f7f"}, text=rows["label"].to_numpy()[~front]))
    order = np.argsort(x[front], kind="stable")
    fig.add_trace(go.Scatter(x=x[front][order], y=y[front][order], mode="lines+markers" if len(objectives) == 2
                             else "markers", name="Pareto front", marker={"size": 11, "color": "#d62728"},
                             line={"shape": "hv" if (x_mode == "min") == (y_mode == "max") else "vh"},
                             text=rows["label"].to_numpy()[front][order]))
    title = f"Pareto front of {describe(objectives)}"
    if len(objectives) > 2:
        title += "<br><sup>the front is of every objective; the axes show the first two</sup>"
    fig.update_layout(title=title, template=TEMPLATE, height=440, xaxis_title=f"{short(x_metric)} ({x_mode})",
                      yaxis_title=f"{short(y_metric)} ({y_mode})")
    return fig


def _objective_column(table: pd.DataFrame, metric: str) -> str | None:
    """The per-configuration table's column of an objective: a cost's own, a metric's mean (test or validation)."""
    for column in (metric, f"test/{metric.split('/', 1)[-1]}/mean", f"best/{metric}/mean"):
        if column in table and table[column].notna().any():
            return column
    return None
