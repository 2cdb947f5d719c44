"""Everything the analysis writes into a run directory, from one :class:`Analysis` of it.

    results.csv, curves.csv                       one row per trial / per trial and evaluation
    table.md|csv|tex                              one row per configuration (and per classical baseline)
    pairs.md|csv|tex                              the pairs the space declares (a − b per seed)
    vs_baseline.md|csv|tex                        every configuration minus the baseline, per seed
    reported_vs_measured.md|csv|tex               published numbers beside the measured ones
    boundary.csv                                  where the best value of each searched range lies
    thresholds.md                                 the anomaly task's per-trial threshold table (when reported)
    report.html                                   the interactive report (works offline)

The files of one analysis are one set: every one is rendered, and every target checked, before the first is written
(bad input, or a folder in a file's place, writes nothing), and a file of the formats asked for that this analysis
does not write (``vs_baseline.*`` once there is no baseline) is removed, so that nothing left from an earlier analysis
reads as current.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import pandas as pd
from plotly.offline import get_plotlyjs

from analysis import stats, tables
from analysis.evaluate_test import evaluate_run_on_test
from analysis.format import to_csv, to_latex, to_markdown
from analysis.load import load_run, load_space, manifest_value, read_manifest
from analysis.objectives import check_reported, run_objectives
from analysis.remote import is_uri, local_run
from analysis.report import PLOTLYJS, render_report
from analysis.reproduce import reproduction_files
from analysis.result import Analysis
from analysis.rows import value_column
from analysis.units import unit
from analysis.verdict import verdict_difference, write_verdict
from restore_core.errors import DataError, UserError
from restore_core.io import write_text_atomic
from restore_core.tasks.anomaly_tables import threshold_table

FORMATS = ("md", "csv", "tex", "html")
TABLES = ("table", "pairs", "vs_baseline", "reported_vs_measured")  # each written as .md, .csv and .tex
DIFFERENCE_COLUMNS = ["kind", "a", "b", "metric", "mean", "std", "n", "ci", "low", "high", "p", "seeds", "note"]
PLOTLY_FILE = "plotly.min.js"  # what a report written with plotlyjs="directory" loads from its folder


def analyse(run_dir: str, baseline: str | None = None) -> Analysis:
    """Read ``run_dir`` and build its tables. An explicit ``baseline`` must be a label of the run (else
    :class:`UserError` listing the known labels); the space's baseline is used when the run has it."""
    manifest = read_manifest(run_dir)
    space = load_space(manifest)
    frame = load_run(run_dir)
    metric, mode = manifest_value(manifest, space, "metric"), manifest_value(manifest, space, "mode")
    if baseline is not None:
        stats.check_baseline(frame, baseline)
    else:
        declared = manifest_value(manifest, space, "baseline")
        baseline = declared if declared in set(frame.get("label", [])) else None
    column = value_column(frame, metric)
    # Only a sampled search has ranges to widen: a grid run's values are the study's rows, not a searched range.
    searched = manifest_value(manifest, space, "search") != "grid"
    boundary = stats.boundary_flags(tables.completed_trials(frame), space.params if searched else (), metric, mode,
                                    column=column)
    result = Analysis(run_dir, manifest, space, frame, metric, mode, baseline, boundary,
                      objectives=run_objectives(manifest, metric, mode))
    check_reported(os.path.join(run_dir, "manifest.json"), frame, result.objectives)
    # every paired comparison shown (the verdict's, the declared pairs, every configuration vs the baseline) is one
    # family per metric for Holm's correction
    compared = [value_column(frame, m) for m in tables.main_metrics(frame, metric)]
    rows = result.rows
    verdict_pair = verdict_difference(frame, rows, column)
    shown = {"verdict": pd.DataFrame([verdict_pair] if verdict_pair else [], columns=DIFFERENCE_COLUMNS)}
    if result.pairs and not frame.empty:
        shown["pairs"] = stats.pair_differences(frame, result.pairs, compared)
    if baseline is not None:
        shown["vs_baseline"] = stats.versus_baseline(frame, baseline, compared)
    corrected, family = stats.correct_family([mark_steps(frame, table) for table in shown.values()])
    shown = dict(zip(shown, corrected))
    verdict_row = shown["verdict"].iloc[0].to_dict() if not shown["verdict"].empty else None
    result.verdict = write_verdict(rows, column, verdict_row, verdict_row["p_holm"] if verdict_row else float("nan"),
                                   family.get(column, 0), manifest, f" {unit(metric)}" if unit(metric) else "")
    result.tables["table"] = tables.main_table(frame, metric, mode, baseline, boundary, result.verdict,
                                               result.objectives, rows=rows)
    if "pairs" in shown:
        result.tables["pairs"] = tables.pairs_table(shown["pairs"])
    if "vs_baseline" in shown:
        result.tables["vs_baseline"] = tables.baseline_table(shown["vs_baseline"], baseline)
    if "test/best_f1/tp" in frame:  # the anomaly task's thresholds, one block per trial as seed 004 printed them
        result.extra_markdown["thresholds"] = threshold_table(frame)
    reported = space.reported_for(manifest.get("profile"))
    if reported and not frame.empty:
        result.tables["reported_vs_measured"] = tables.reported_table(frame, reported, result.mode_of)
    return result


def mark_steps(frame: pd.DataFrame, diffs: pd.DataFrame) -> pd.DataFrame:
    """Add ``at_step``: the step both sides stopped at, where a comparison is of trials that did not complete."""
    finished = tables.completed_trials(frame)
    at_step = []
    for a, b, seeds in zip(diffs["a"], diffs["b"], diffs["seeds"]):
        rows = frame[frame["label"].isin([a, b]) & frame["seed"].isin(list(seeds))]
        stopped = len(seeds) and not rows.index.isin(finished.index).all()
        at_step.append(int(pd.to_numeric(rows["steps"]).max()) if stopped and "steps" in rows else None)
    return diffs.assign(at_step=at_step)


def write_outputs(run_dir: str, baseline: str | None = None, formats: Iterable[str] = FORMATS,
                  evaluate: bool = True, plotlyjs: str = "inline") -> pd.DataFrame:
    """(Re)write every results file of a run directory; returns the per-configuration table (numbers).

    Every file is rendered, and every target checked, before the first is written, so bad input (a corrupt trial
    file, an unknown baseline, a folder in a file's place) leaves the folder as it was. A file of ``formats`` that
    this analysis does not write (``vs_baseline.*`` once there is no baseline) is removed; files of the other formats
    are left as they are.

    Args:
        run_dir: ``runs/<space>/<name>``, finished, partial or resumed, or its URI in object storage.
        baseline: the configuration label the others are compared with (default: the space's baseline).
        formats: any of ``md``, ``csv``, ``tex`` (the tables) and ``html`` (the report). ``results.csv`` and
            ``curves.csv`` are always written.
        evaluate: first evaluate on test the trials whose selected checkpoint has not been
            (:func:`~analysis.evaluate_test.evaluate_run_on_test`; once the run has been read without error). Not
            for a run in object storage, whose checkpoints are not fetched.
        plotlyjs: ``inline`` (report.html works alone, offline) or ``directory`` (report.html loads plotly.min.js,
            written once beside it: a folder of reports holds one copy of plotly.js).
    """
    if is_uri(run_dir):  # a run in object storage: its records read from there, and its files written back there
        with local_run(run_dir, write_back=True, events=True) as local:
            # without the trials' checkpoints, which are not fetched: the test evaluation needs a copy of the run
            return write_outputs(local, baseline, formats, evaluate=False, plotlyjs=plotlyjs)
    formats = tuple(formats)
    if plotlyjs not in PLOTLYJS:
        raise UserError(f"unknown --plotlyjs '{plotlyjs}'; known: {', '.join(PLOTLYJS)}")
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise UserError(f"unknown format '{unknown[0]}'; known: {', '.join(FORMATS)}")
    if not formats:
        raise UserError(f"no format given; known: {', '.join(FORMATS)}")
    result = analyse(run_dir, baseline)
    if evaluate:
        if evaluate_run_on_test(run_dir).evaluated:
            result = analyse(run_dir, baseline)
    files = render(result, formats, plotlyjs)
    check_targets(run_dir, files)
    for name, text in files.items():
        write_text_atomic(os.path.join(run_dir, name), text)
    for name in sorted(output_names(formats) - set(files)):
        if os.path.isfile(os.path.join(run_dir, name)):
            os.unlink(os.path.join(run_dir, name))
    return result.tables["table"][1]


def check_targets(run_dir: str, names: Iterable[str]) -> None:
    """Refuse, before the first file is written, what would stop a write half way through the set: a folder in a
    file's place, or a run directory this process may not write into."""
    for name in sorted(names):
        path = os.path.join(run_dir, name)
        if os.path.isdir(path) and not os.path.islink(path):  # a link is replaced, not followed
            raise DataError(f"{path} is a folder, where the analysis writes its {name} file; move or rename the "
                            "folder (nothing was written)")
    if not os.access(run_dir, os.W_OK | os.X_OK):
        raise DataError(f"cannot write into {run_dir} (permission denied); the analysis writes its files there "
                        "(nothing was written)")


def render(result: Analysis, formats: tuple[str, ...], plotlyjs: str = "inline") -> dict[str, str]:
    """Every file of ``formats`` (plus results.csv and curves.csv) that ``result`` has, by file name."""
    files = {"results.csv": result.frame.to_csv(index=False), "curves.csv": result.curves.to_csv(index=False)}
    for name, (text_table, numeric) in result.tables.items():
        if "md" in formats:
            files[f"{name}.md"] = to_markdown(text_table)
        if "csv" in formats:
            files[f"{name}.csv"] = to_csv(numeric)
        if "tex" in formats:
            files[f"{name}.tex"] = to_latex(text_table)
    for name, text in result.extra_markdown.items():
        if "md" in formats:
            files[f"{name}.md"] = text
    if "csv" in formats and not result.boundary.empty:
        files["boundary.csv"] = to_csv(result.boundary)
    if "html" in formats:
        files["report.html"] = render_report(result, plotlyjs)
        if plotlyjs == "directory":
            files[PLOTLY_FILE] = get_plotlyjs()
    files.update(reproduction_files(result))  # best.json and the rerun of every row, whatever the formats
    return files


def output_names(formats: tuple[str, ...]) -> set[str]:
    """Every file an analysis may write in ``formats``: what it does not write this time is not current."""
    names = {"results.csv", "curves.csv", "best.json", "reproduce.md"}  # written whatever the formats
    for fmt in formats:
        names.update(["report.html"] if fmt == "html" else [f"{table}.{fmt}" for table in TABLES])
    if "md" in formats:
        names.add("thresholds.md")
    if "csv" in formats:
        names.add("boundary.csv")
    return names
