"""``python -m analysis compare RUN_A RUN_B ...``: several runs of one space side by side (ASHA against FIFO, the
same sweep on two machines or two code versions), in one table and one report.

Configurations are matched by label. Each run's column is the mean ± 95 % CI over the seeds of its trials that
trained to the end (the value the run's own table ranks: test where the runs have it, else validation); each later
run gets a difference column, ``run − RUN_A`` paired by seed over the seeds both trained to the end, with its CI and
paired t-test p-value where two or more seeds pair up.
"""

from __future__ import annotations

import html
import os

import pandas as pd
import plotly.graph_objects as go

from analysis import stats
from analysis.figures import TEMPLATE
from analysis.format import MISSING, TextTable, fmt_estimate, fmt_p, to_csv, to_markdown
from analysis.load import load_run, load_space, manifest_value, read_manifest
from analysis.rows import value_column
from analysis.tables import short, split_of
from analysis.units import labelled
from restore_core.errors import UserError
from restore_core.io import write_text_atomic

SEP = "::"  # run name and label in the combined frame


def run_names(run_dirs: list[str]) -> list[str]:
    """A short distinct name per run: its folder name, with its parent's where two share one."""
    names = [os.path.basename(os.path.normpath(d)) for d in run_dirs]
    if len(set(names)) < len(names):
        names = [os.path.join(*os.path.normpath(d).split(os.sep)[-2:]) for d in run_dirs]
    if len(set(names)) < len(names):
        names = [f"{name} ({i + 1})" for i, name in enumerate(names)]
    return names


def compare_runs(run_dirs: list[str]) -> tuple[TextTable, pd.DataFrame, go.Figure]:
    """The comparison table (text and numbers) and its figure.

    Raises:
        UserError: fewer than two runs, or runs of different spaces (each run's own read errors as for one run).
    """
    if len(run_dirs) < 2:
        raise UserError(f"compare needs two or more run directories; got {len(run_dirs)}")
    manifests = [read_manifest(d) for d in run_dirs]
    spaces = {m["space"] for m in manifests}
    if len(spaces) > 1:
        named = ", ".join(f"{d} ({m['space']})" for d, m in zip(run_dirs, manifests))
        raise UserError(f"compare matches configurations of one space, but these runs are of {len(spaces)}: {named}")
    space = load_space(manifests[0])
    metric = manifest_value(manifests[0], space, "metric")
    names = run_names(run_dirs)
    frames = [load_run(d) for d in run_dirs]
    columns = {value_column(f, metric) for f in frames if not f.empty}
    column = columns.pop() if len(columns) == 1 else f"best/{metric}"  # test only where every run has it
    combined = pd.concat([f.assign(run=name, label=name + SEP + f["label"]) for name, f in zip(names, frames)
                          if not f.empty], ignore_index=True)
    finished = combined[combined["status"] == "completed"]
    labels = list(dict.fromkeys(label for f in frames if not f.empty for label in f["label"]))
    header = ["configuration", *[f"{n}" for n in names], *[f"{n} − {names[0]}" for n in names[1:]], "p"]
    rows, numbers = [], []
    for label in labels:
        cells, record = [label], {"label": label}
        for name in names:
            est = stats.estimate(stats.per_seed(finished, name + SEP + label, column))
            cells.append(fmt_estimate(est.mean, est.ci, est.n) if est.n else MISSING)
            record.update({f"{name}/mean": est.mean, f"{name}/ci": est.ci, f"{name}/n": est.n})
        p_values = []
        for name in names[1:]:
            diff = stats.paired_difference(finished, name + SEP + label, names[0] + SEP + label, column)
            cells.append(fmt_estimate(diff["mean"], diff["ci"], diff["n"]) if diff["n"] else MISSING)
            record.update({f"{name}-{names[0]}/mean": diff["mean"], f"{name}-{names[0]}/ci": diff["ci"],
                           f"{name}-{names[0]}/n": diff["n"], f"{name}-{names[0]}/p": diff["p"]})
            p_values.append(fmt_p(diff["p"]))
        cells.append(", ".join(p_values))
        rows.append(cells)
        numbers.append(record)
    notes = [f"{metric} ({column}): mean ± 95 % CI over the seeds of each run's trials that trained to the end "
             "(n = seeds); differences are paired by seed, over the seeds both runs trained to the end; p: paired "
             "t-test, for each later run against the first.",
             "Runs: " + "; ".join(f"{n} = {d} ({m.get('search')}, {m.get('scheduler')}, "
                                  f"{(m.get('git') or {}).get('commit') or 'commit unknown'})"
                                  for n, d, m in zip(names, run_dirs, manifests))]
    # the runs are the columns, so the metric's split, unit and direction head the table instead
    what = labelled(short(metric), metric, (split_of(column),), manifest_value(manifests[0], space, "mode"))
    table = TextTable(header, rows, notes=notes, title=f"{space.name}, {what}: {' vs '.join(names)}")
    return table, pd.DataFrame(numbers), _figure(numbers, names, metric)


def _figure(numbers: list[dict], names: list[str], metric: str) -> go.Figure:
    figure = go.Figure()
    for name in names:
        figure.add_trace(go.Bar(
            name=name, x=[r["label"] for r in numbers], y=[r[f"{name}/mean"] for r in numbers],
            error_y={"type": "data", "array": [r[f"{name}/ci"] for r in numbers], "visible": True}))
    figure.update_layout(template=TEMPLATE, barmode="group", yaxis_title=metric, xaxis_title="configuration",
                         title=f"{metric} by configuration and run (mean ± 95 % CI over seeds)")
    return figure


def write_comparison(run_dirs: list[str], out_dir: str) -> list[str]:
    """Write ``compare.md``, ``compare.csv`` and ``compare.html`` into ``out_dir``; returns their paths."""
    table, numbers, figure = compare_runs(run_dirs)
    markdown = to_markdown(table)
    html = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>" + table.title + "</title></head><body>"
            f"<h1>{table.title}</h1>" + _html_table(table) + figure.to_html(full_html=False, include_plotlyjs=True)
            + "".join(f"<p>{note}</p>" for note in table.notes) + "</body></html>")
    files = {"compare.md": markdown, "compare.csv": to_csv(numbers), "compare.html": html}
    paths = []
    for name, text in files.items():
        path = os.path.join(out_dir, name)
        write_text_atomic(path, text)
        paths.append(path)
    return paths


def _html_table(table: TextTable) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in table.rows)
    return f"<table border='1'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
