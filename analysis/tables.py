"""Results files of a run: ``results.csv`` (one row per trial) and ``table.md`` (one row per configuration)."""

from __future__ import annotations

import os

import pandas as pd

from analysis.load import load_run, read_manifest
from restore_core.io import write_text_atomic


def summary_table(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Mean over seeds of the best value of the main metrics, per configuration label."""
    columns = [c for c in frame.columns if c.startswith("best/val/") or c.startswith("last/cost/")]
    grouped = frame.groupby("label", sort=False)
    table = grouped[columns].mean(numeric_only=True)
    table.insert(0, "n", grouped.size())
    table["status"] = grouped["status"].agg(lambda s: ", ".join(f"{k} {v}" for k, v in s.value_counts().items()))
    key = f"best/{metric}"
    if key in table:
        table = table.sort_values(key, ascending=False)
    return table.reset_index()


def to_markdown(table: pd.DataFrame) -> str:
    def fmt(value):
        if isinstance(value, float):
            return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
        return str(value)

    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def write_outputs(run_dir: str) -> pd.DataFrame:
    """(Re)write ``results.csv`` and ``table.md`` of a run directory; returns the per-configuration table."""
    manifest = read_manifest(run_dir)
    frame = load_run(run_dir)
    write_text_atomic(os.path.join(run_dir, "results.csv"), frame.to_csv(index=False))
    table = summary_table(frame, manifest["metric"]) if not frame.empty else frame
    write_text_atomic(os.path.join(run_dir, "table.md"), to_markdown(table))
    return table
