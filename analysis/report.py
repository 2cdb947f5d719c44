"""``report.html``: one self-contained page (plotly.js inline once, images as data URIs) that works offline."""

from __future__ import annotations

import dataclasses
import html
import os
import sys
from collections.abc import Callable
from functools import partial

import plotly.io as pio

from analysis import figures, images, pareto
from analysis.curves import learning_curves
from analysis.format import TextTable, fmt_number, to_html
from analysis.importance import importance_figure, param_importances
from analysis.load import manifest_value
from analysis.objectives import describe
from analysis.result import Analysis
from analysis.rows import ranked, value_column
from analysis.units import labelled

STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1400px; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; white-space: nowrap; }
th { background: #f4f4f4; } .scroll { overflow-x: auto; }
p.note { font-size: 0.85em; color: #555; margin: 2px 0; } .flag { color: #b00; font-weight: bold; }
code { background: #f4f4f4; padding: 1px 4px; }
table.meta td { white-space: pre-wrap; max-width: 1100px; }
p.verdict { font-size: 1.05em; background: #f6f8fa; border-left: 4px solid #1f77b4; padding: 8px 12px; }
nav.toc { font-size: 0.9em; columns: 2; } nav.toc a { color: #1f77b4; text-decoration: none; }
table.sortable th { cursor: pointer; } table.sortable th[data-dir="asc"]::after { content: " \\25B2"; }
table.sortable th[data-dir="desc"]::after { content: " \\25BC"; }
"""
# Sorts a table by the column whose header is clicked (again: the other way): by the number a cell starts with
# ("30.12 ± 0.08 (n=3)" sorts as 30.12), else by its text; empty and "—" cells last. The table records the sort in
# data-sorted ("column:direction").
SORT_SCRIPT = """<script>(function () {
  function key(cell) {
    var text = cell.textContent.trim(), number = parseFloat(text.replace(/,/g, ''));
    return {missing: text === '' || text === '\u2014', number: number, text: text};
  }
  function compare(a, b) {
    if (a.missing || b.missing) { return a.missing - b.missing; }
    if (!isNaN(a.number) && !isNaN(b.number)) { return a.number - b.number; }
    return a.text.localeCompare(b.text);
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('thead th').forEach(function (th, column) {
      th.title = 'sort by this column';
      th.addEventListener('click', function () {
        var dir = th.getAttribute('data-dir') === 'asc' ? 'desc' : 'asc', body = table.tBodies[0];
        table.querySelectorAll('thead th').forEach(function (other) { other.removeAttribute('data-dir'); });
        th.setAttribute('data-dir', dir);
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = key(a.cells[column]), y = key(b.cells[column]);
          if (x.missing || y.missing) { return x.missing - y.missing; }
          return dir === 'asc' ? compare(x, y) : compare(y, x);
        });
        rows.forEach(function (row) { body.appendChild(row); });
        table.setAttribute('data-sorted', column + ':' + dir);
      });
    });
  });
})();</script>"""
PLOTLYJS = ("inline", "directory")  # plotly.js in the page (works offline alone), or one plotly.min.js beside it


def scientific_columns(result: Analysis, varied: list[str]) -> list[str]:
    keys = manifest_value(result.manifest, result.space, "scientific")
    return [c for c in varied if any(c[7:] == k or c[7:].startswith(k + ".") for k in keys)]


def build_figures(result: Analysis) -> list[tuple[str, str, Callable[[], object]]]:
    """(section title, id, figure builder) in the order of the page; a builder returns None without data."""
    frame, metric, mode = result.frame, result.metric, result.mode
    if frame.empty:
        return []
    value = value_column(frame, metric)
    varied = figures.varied_columns(frame)
    table = result.tables["table"][1]
    out: list[tuple[str, str, Callable[[], object]]] = [
        ("Images", "images", lambda: image_figure(result, value)),
    ]
    out += [("Metric vs each varied parameter (one point per trial; grey circles: stopped early; red crosses: "
             "infeasible)" if i == 0 else "", f"param-{i}", partial(figures.metric_vs_parameter, frame, column, value))
            for i, column in enumerate(varied)]
    out += [
        ("Isolation plots", "isolation",
         partial(figures.isolation, frame, scientific_columns(result, varied), value, mode)),
        ("Learning curves (validation)", "curves",
         lambda: learning_curves(result.curves, metric, mode, [row.label for row in ranked(result.rows)])),
        ("Parallel coordinates", "parcoords", partial(figures.parallel_coordinates, frame, varied, value)),
        ("Ablation bars", "ablation", partial(figures.ablation_bars, table, value, result.baseline)),
        ("Quality vs cost", "cost", partial(pareto.quality_vs_cost, table, value, mode, frame)),
    ]
    if len(result.objectives) > 1:  # a multi-objective run: the front of its objectives, as the table marks it
        out.append(("Pareto front of the objectives (ranked configurations; red: Pareto-optimal)", "pareto",
                    partial(pareto.objectives_front, table, result.objectives)))
    if manifest_value(result.manifest, result.space, "search") != "grid":  # sampled ranges; a grid samples none
        out.append(("Parameter importances", "importance",
                    lambda: importance_figure(*param_importances(frame, result.space, metric, mode))))
    return out


def image_figure(result: Analysis, value: str):
    picks = images.pick_trials(result.rows, value, result.baseline)
    tiles, on_test = images.image_tiles(result.run_dir, picks, value)
    return images.image_grid(tiles, on_test)


def header(result: Analysis) -> str:
    m = result.manifest
    git = m.get("git") or {}
    status = result.frame["status"].value_counts().to_dict() if not result.frame.empty else {}
    rows = [
        ("space", f"{m.get('space')}: {manifest_value(m, result.space, 'description')}"),
        ("reproduces", manifest_value(m, result.space, "reproduces")),
        ("how to read it", manifest_value(m, result.space, "reading")),
        ("command", m.get("command", "")),
        ("profile / search / scheduler", f"{m.get('profile')} / {manifest_value(m, result.space, 'search')} / "
                                         f"{manifest_value(m, result.space, 'scheduler')}"),
        ("metric", f"{result.metric} ({result.mode})" if len(result.objectives) < 2 else
         "objectives " + describe(result.objectives) + " (ranked on the first; Pareto-optimal rows marked)"),
        ("trials", f"{len(result.frame)} of {m.get('trials_planned', '?')} planned: "
                   + ", ".join(f"{k} {v}" for k, v in status.items())),
        ("baseline", result.baseline or "none"),
        ("created", m.get("created", "")),
        ("git commit", f"{git.get('commit')}" + (" (uncommitted changes)" if git.get("dirty") else "")),
    ]
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    return f"<table class='meta'>{body}</table>"


def boundary_html(result: Analysis) -> str:
    if result.boundary.empty:
        return "<p class='note'>No continuous parameter of the space varied in this run.</p>"
    rows = [[r.param, f"[{r.low:g}, {r.high:g}]", f"{r.best:.3g}", fmt_number(r.position, 2),
             "at the edge: widen the range" if r.flag else "inside"] for r in result.boundary.itertuples()]
    return to_html(TextTable(["parameter", "range", "best value", "position (0-1)", "check"], rows))


def trials_html(result: Analysis) -> str:
    frame = result.frame
    value, best, last = value_column(frame, result.metric), f"best/{result.metric}", f"last/{result.metric}"
    columns = ["trial_id", "label", "seed", "status", "reason", "steps"]
    rows = [[str(r[c]) for c in columns] + [fmt_number(r.get(value)), f"{fmt_number(r.get(best))} at step "
             f"{r.get('best/step', '—')}", fmt_number(r.get(last)), str(r.get("degraded_note") or "")]
            for _, r in frame.iterrows()]
    heads = [labelled(name, result.metric, mode=result.mode) for name in (value, f"{best} (selected)", last)]
    return to_html(TextTable([*columns, *heads, "degraded"], rows))


def sortable(table_html: str) -> str:
    """A table of the report that sorts by the column whose header is clicked (:data:`SORT_SCRIPT`)."""
    return table_html.replace("<table>", "<table class='sortable'>", 1)


def render_report(result: Analysis, plotlyjs: str = "inline") -> str:
    """The whole page as one string; ``plotlyjs``: ``inline`` (one self-contained file) or ``directory`` (the page
    loads ``plotly.min.js`` from its folder, which :func:`~analysis.outputs.write_outputs` writes once)."""
    name = os.path.basename(os.path.normpath(result.run_dir))
    table = result.tables["table"][0]
    toc: list[tuple[str, str]] = []

    def section(title: str, anchor: str) -> str:
        toc.append((anchor, title.split(" (")[0]))  # the contents list the title without its explanation
        return f"<h2 id='{anchor}'>{html.escape(title)}</h2>"

    parts = [f"<h1>{html.escape(str(result.manifest.get('space')))} / {html.escape(name)}</h1>",
             f"<p class='verdict'>{html.escape(result.verdict)}</p>", header(result), "{toc}",
             section("Results per configuration", "results"), sortable(to_html(dataclasses.replace(table, intro=[]))),
             section("Range checks", "range-checks"), boundary_html(result)]
    first = True
    for title, div_id, build in build_figures(result):
        if title:
            parts.append(section(title, f"sec-{div_id}"))
        try:
            figure = build()
        except Exception as err:  # noqa: BLE001 - one figure the data breaks must not cost the sweep its report
            print(f"warning: report figure '{div_id}' failed: {type(err).__name__}: {err}", file=sys.stderr)
            parts.append(f"<p class='note flag'>This figure failed: {html.escape(f'{type(err).__name__}: {err}')}</p>")
            continue
        if figure is None:
            parts.append("<p class='note'>Not enough data for this figure.</p>")
            continue
        include = (True if plotlyjs == "inline" else "directory") if first else False
        parts.append(pio.to_html(figure, full_html=False, include_plotlyjs=include, div_id=f"fig-{div_id}",
                                 config={"displaylogo": False, "responsive": True}))
        first = False
    for key, title in (("pairs", "Declared pairs"), ("vs_baseline", "Every configuration vs the baseline"),
                       ("reported_vs_measured", "Published vs measured")):
        if key in result.tables:
            parts += [section(title, key.replace("_", "-")), sortable(to_html(result.tables[key][0]))]
    for name, text in result.extra_markdown.items():
        parts += [section(name.capitalize(), f"extra-{name}"), f"<pre>{html.escape(text)}</pre>"]
    parts += [section("Trials", "trials"), sortable(trials_html(result))]
    links = "".join(f"<li><a href='#{anchor}'>{html.escape(title)}</a></li>" for anchor, title in toc)
    parts[parts.index("{toc}")] = f"<nav class='toc'><b>Contents</b><ol>{links}</ol></nav>"
    title = html.escape(f"{result.manifest.get('space')} / {name}: sweep report")
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{title}</title>"
            f"<style>{STYLE}</style></head><body>\n" + "\n".join(parts) + f"\n{SORT_SCRIPT}\n</body></html>\n")

