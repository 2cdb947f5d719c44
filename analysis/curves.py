"""Learning curves per configuration: at each evaluated step, the mean over seeds with a band of one sample
standard deviation (the seeds' spread; none where one seed reached that step), the top-k ranked configurations
drawn strong and the rest faded, so that a sweep of many configurations still reads."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import hex_to_rgb
from plotly.subplots import make_subplots

from analysis.figures import TEMPLATE, colours
from analysis.units import labelled

TOP_K = 3  # configurations highlighted: enough to see the leaders' order, few enough to stand out from the rest
FADED = 0.25  # opacity of the configurations outside the top k: visible for context, not competing for the eye
LEGEND_ROWS_PX = 22  # height of one row of the horizontal legend under the plot, which grows rather than scrolls


def curve_bands(curves: pd.DataFrame, key: str) -> pd.DataFrame:
    """Per configuration and step: ``mean``, ``std`` (sample, NaN where n = 1) and ``n`` over seeds of ``key``.

    Trials that share a seed at a step are averaged first (as in the tables), so a seed counts once; non-finite
    values (a diverged trial) are left out."""
    if curves.empty or key not in curves:
        return pd.DataFrame(columns=["label", "step", "mean", "std", "n"])
    values = pd.to_numeric(curves[key], errors="coerce")
    values = values.where(np.isfinite(values.to_numpy(dtype=float)))
    per_seed = (curves.assign(value=values).dropna(subset=["value", "step"])
                .groupby(["label", "step", "seed"], sort=False)["value"].mean())
    grouped = per_seed.groupby(level=["label", "step"], sort=False)
    out = pd.DataFrame({"mean": grouped.mean(), "std": grouped.std(ddof=1), "n": grouped.size()}).reset_index()
    return out.sort_values(["label", "step"], kind="stable").reset_index(drop=True)


def _rgba(colour: str, alpha: float) -> str:
    red, green, blue = hex_to_rgb(colour)
    return f"rgba({red}, {green}, {blue}, {alpha})"


def learning_curves(curves: pd.DataFrame, metric: str, mode: str | None = None, top: list[str] | tuple = (),
                    top_k: int = TOP_K) -> go.Figure | None:
    """The metric (and the training loss, where reported) against steps, one line per configuration.

    Args:
        curves: :func:`analysis.load.load_curves`.
        metric: the space's validation metric.
        mode: the space's ``min``/``max`` (the arrow in the panel's title).
        top: the configurations best first (the ranked rows' labels); the first ``top_k`` are highlighted.
        top_k: how many to highlight.
    """
    if curves.empty or metric not in curves:
        return None
    panels = [metric] + (["train/loss"] if "train/loss" in curves else [])
    labels = list(dict.fromkeys(curves["label"]))
    leaders = list(dict.fromkeys(top))[:top_k]
    order = leaders + [label for label in labels if label not in leaders]  # legend: the leaders first, best first
    colour = colours(order)
    titles = [labelled(key, key, mode=mode if key == metric else None) for key in panels]
    fig = make_subplots(rows=1, cols=len(panels), subplot_titles=titles)
    for col, key in enumerate(panels, start=1):
        bands = curve_bands(curves, key)
        for label in order:
            line = bands[bands["label"] == label]
            if line.empty:
                continue
            lead = label in leaders
            alpha = 1.0 if lead or not leaders else FADED  # with none ranked, none is faded
            name = f"#{leaders.index(label) + 1} {label}" if lead else str(label)
            spread = line[line["n"] >= 2]
            if not spread.empty:  # the band: mean ± one standard deviation over the seeds at each step
                fig.add_trace(go.Scatter(
                    x=[*spread["step"], *spread["step"][::-1]],
                    y=[*(spread["mean"] + spread["std"]), *(spread["mean"] - spread["std"])[::-1]],
                    fill="toself", fillcolor=_rgba(colour[label], 0.2 * alpha), line={"width": 0},
                    hoverinfo="skip", legendgroup=str(label), showlegend=False, name=f"{name} ± sd"), row=1, col=col)
            hover = [f"{label}: {m:.4g}" + (f" ± {s:.2g} (sd, n={n})" if n >= 2 else " (n=1)")
                     for m, s, n in zip(line["mean"], line["std"], line["n"])]
            fig.add_trace(go.Scatter(
                x=line["step"], y=line["mean"], mode="lines+markers", name=name, legendgroup=str(label),
                showlegend=col == 1, opacity=alpha, line={"color": colour[label], "width": 3 if lead else 1.5},
                marker={"size": 6 if lead else 4}, hovertext=hover, hoverinfo="text+x"), row=1, col=col)
    fig.update_xaxes(title_text="step")
    legend_rows = math.ceil(len(order) / 3)
    fig.update_layout(
        title=f"Learning curves: mean over seeds, band ± 1 sd (none for n = 1); top {len(leaders)} ranked in bold",
        template=TEMPLATE, height=420 + LEGEND_ROWS_PX * legend_rows,
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0})
    return fig
