"""The comparison tables of a run: per configuration (with classical baselines as rows), declared pairs, every
variant against the baseline, and published against measured numbers. Each builder returns the formatted
:class:`TextTable` (for Markdown, LaTeX and the report) and a numeric frame (for CSV)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from analysis import stats
from analysis.format import MISSING, TextTable, fmt_count, fmt_estimate, fmt_number, fmt_p
from analysis.load import COST_KEYS
from analysis.objectives import describe, pareto_rows
from analysis.rows import Row, build_rows, ranked, reports_test, value_column
from analysis.units import cost_header, labelled

BASELINE = {True: re.compile(r"^test/baseline/([^/]+)/(.+)$"),
            False: re.compile(r"^(?:best|last)/(?:val/)?baseline/([^/]+)/(.+)$")}


def short(metric: str) -> str:
    """Column header of a metric: ``val/psnr`` -> ``psnr``; other prefixes stay."""
    return metric[4:] if metric.startswith("val/") else metric


def table_metrics(frame: pd.DataFrame, metric: str) -> list[str]:
    """The metrics of the main table: the space's metric, SSIM, the other validation metrics, then the reference
    (input vs target) and delta metrics (each reported by :func:`~analysis.rows.value_column`)."""
    found = [c[5:] for c in frame.columns if c.startswith("best/val/") and "/baseline/" not in c]
    primary = [m for m in found if "/ref_" not in m and "/delta_" not in m]
    ordered = [metric, "val/psnr", "val/ssim", *primary]
    ordered += [m for m in found if "/ref_" in m] + [m for m in found if "/delta_" in m]
    return [m for m in dict.fromkeys(ordered) if f"best/{m}" in frame]


def main_metrics(frame: pd.DataFrame, metric: str) -> list[str]:
    """The metrics compared between configurations (pairs, baseline): the space's metric and SSIM."""
    return [m for m in dict.fromkeys([metric, "val/ssim"]) if f"best/{m}" in frame]


def split_of(column: str) -> str:
    """The split a column's numbers come from: ``test`` or ``val``."""
    return "test" if column.startswith("test/") else "val"


def header(metric: str, column: str, mode: str | None = None, prefix: str = "") -> str:
    """``psnr (test, dB) ↑``: the metric, the split its number comes from, its unit and which way is better.

    Args:
        metric: the metric, e.g. ``val/psnr``.
        column: the frame column the numbers come from (``test/...`` or ``best/val/...``).
        mode: the space's ``min``/``max`` where ``metric`` is the space's metric.
        prefix: put before the name, e.g. ``Δ `` for a difference (which is better the same way).
    """
    return labelled(prefix + short(metric).removeprefix("test/"), metric, (split_of(column),), mode)


def baseline_values(frame: pd.DataFrame, test: bool) -> dict[str, dict[str, pd.Series]]:
    """Classical baselines a task reports (``test/baseline/<name>/<metric>``, or on validation
    ``val/baseline/<name>/<metric>``), as {name: {metric: values per seed}} (on validation, the last report)."""
    found: dict[str, dict[str, str]] = {}
    for column in frame.columns:
        match = BASELINE[test].match(column)
        if match and (test or column.startswith("last/") or match.group(2) not in found.get(match.group(1), {})):
            found.setdefault(match.group(1), {})[match.group(2)] = column
    rows = stats.counted(frame)
    return {name: {m: stats.seed_means(rows, c) for m, c in columns.items()} for name, columns in found.items()}


def _baseline_metric(metrics: Sequence[str], name: str) -> str | None:
    """The table column a baseline metric belongs to: ``psnr`` -> ``val/psnr``."""
    for metric in metrics:
        if metric.rsplit("/", 1)[-1] == name or metric == name:
            return metric
    return None


def values_note(metric: str, test: bool) -> str:
    where = ("the test value of the checkpoint each trial selected on validation (its best " + metric + ")" if test
             else "the validation value of the checkpoint each trial selected (its best " + metric + "): no trial of "
             "this run was evaluated on test, and the value that chose a checkpoint overstates it (python -m "
             "analysis evaluates them where the run's data is)")
    return (f"Cells: {where}; mean ± 95 % CI half-width (t distribution) over seeds, n = seeds counted (trials of "
            "one seed averaged first; crashed and diverged trials are not counted; n=1 has no interval). "
            "Validation values are in results.csv.")


def rank_note(rows: list[Row]) -> str:
    top = ranked(rows)
    if not top:
        return "rank: none; no configuration trained to the end, so none is ranked."
    return (f"rank: among the rows completed at {top[0].steps} steps only; a row stopped earlier reads "
            "'stopped at step S: X at that step' (its selected checkpoint is from step S or before) and is not ranked.")


def main_table(frame: pd.DataFrame, metric: str, mode: str, baseline: str | None = None,
               boundary: pd.DataFrame | None = None, verdict: str = "",
               objectives: Sequence[tuple[str, str]] = (),
               rows: list[Row] | None = None) -> tuple[TextTable, pd.DataFrame]:
    """One row per configuration and number of steps trained (ranked rows first), and one per classical baseline;
    with two or more ``objectives``, a ``Pareto`` column marks the ranked rows on their front. ``rows``: the
    frame's rows when the caller has built them already."""
    rows = build_rows(frame, metric, mode) if rows is None else rows
    multi = len(objectives) > 1
    front = {id(row) for row in pareto_rows(rows, frame, objectives)}
    test = reports_test(frame, metric)
    metrics = table_metrics(frame, metric)
    columns_of = {m: value_column(frame, m) for m in metrics}
    costs = [k for k in COST_KEYS if k in frame and frame[k].notna().any()]
    headers = [header(m, columns_of[m], mode if m == metric else None) for m in metrics]
    columns = ["rank", *(["Pareto"] if multi else []), "configuration", "trained", *headers,
               *[cost_header(k) for k in costs], "degraded", "infeasible", "status"]
    cells, numeric = [], []
    for row in rows:
        line = [str(row.rank) if row.rank else MISSING, str(row.label), row.reach()]
        record = {"kind": "configuration", "rank": row.rank, "label": row.label, "steps": row.steps,
                  "completed": row.completed}
        if multi:  # only ranked rows are compared: others trained to another number of steps
            on_front = None if row.rank is None else id(row) in front
            line.insert(1, MISSING if on_front is None else "✓" if on_front else "")
            record["pareto"] = on_front
        for m in metrics:
            est = row.estimate(columns_of[m])
            text = fmt_estimate(est.mean, est.ci, est.n)
            if m == metric and not row.completed and est.n:
                text = f"{row.reach()}: {text} at that step"
            line.append(text)
            for part in ("mean", "ci", "std", "n"):
                record[f"{columns_of[m]}/{part}"] = getattr(est, part) if est.n else None
        for key in costs:
            value = pd.to_numeric(row.trials[key], errors="coerce").mean()
            line.append(fmt_number(value) if key == "cost/latency_ms" else fmt_count(value))
            record[key] = value
        trials, infeasible, degraded = row.counts()
        line += [f"{degraded}/{trials}", f"{infeasible}/{trials}", _status_counts(row.trials["status"])]
        record.update({"trials": trials, "infeasible": infeasible, "degraded": degraded})
        cells.append(line)
        numeric.append(record)
    for name, values in baseline_values(frame, test).items():
        line, record = [MISSING, f"baseline: {name}", ""], {"kind": "baseline", "label": f"baseline: {name}"}
        line[1:1] = [MISSING] if multi else []
        by_metric = {_baseline_metric(metrics, m): v for m, v in values.items()}
        for m in metrics:
            est = stats.estimate(by_metric[m]) if m in by_metric else None
            line.append(fmt_estimate(est.mean, est.ci, est.n) if est else MISSING)
            for part in ("mean", "ci", "std", "n"):
                record[f"{columns_of[m]}/{part}"] = getattr(est, part) if est else None
        cells.append(line + [MISSING] * (len(costs) + 3))
        numeric.append(record)
    notes = [values_note(metric, test), rank_note(rows), *([pareto_note(rows, objectives)] if multi else []),
             *degraded_notes(frame, metric),
             "infeasible = error, NaN or collapsed trials."]
    if baseline:
        notes.append(f"baseline configuration: {baseline}")
    for flag in (boundary if boundary is not None else pd.DataFrame()).itertuples():
        if flag.flag:
            side = "lower" if flag.position < 0.5 else "upper"
            notes.append(f"boundary: the best {flag.param} = {flag.best:.3g} lies in the {side} 10 % of its range "
                         f"[{flag.low:g}, {flag.high:g}]; widen the range before trusting this optimum.")
    intro = [verdict] if verdict else []
    return TextTable(columns, cells, notes, intro=intro), _counts_as_int(pd.DataFrame(numeric))


def pareto_note(rows: list[Row], objectives: Sequence[tuple[str, str]]) -> str:
    top = ranked(rows)
    among = f"the ranked rows (completed at {top[0].steps} steps)" if top else "the ranked rows (none here)"
    return (f"Pareto: ✓ marks a configuration no other of {among} matches or beats on every objective ("
            f"{describe(objectives)}; each the row's mean: over seeds, or over its trials for a cost); rows not ranked "
            "trained to another number of steps and are not compared.")


def degraded_notes(frame: pd.DataFrame, metric: str) -> list[str]:
    """One line per trial that fell from its peak, and what the flag means."""
    if "degraded" not in frame or not frame["degraded"].fillna(False).astype(bool).any():
        return [f"degraded: a trial whose last {metric} ended more than train.degrade_tolerance below its peak; "
                "none did."]
    lines = [f"degraded: a trial whose last {metric} ended more than train.degrade_tolerance below its peak (the "
             "table reports the peak's checkpoint, and the report shows its last output beside it):"]
    flagged = frame[frame["degraded"].fillna(False).astype(bool)]
    for _, trial in flagged.iterrows():
        lines.append(f"  {trial['label']} (seed {trial['seed']}): {trial['degraded_note']}")
    return lines


def _counts_as_int(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts stay whole numbers in the CSV even where a row has none (``Int64`` holds missing values)."""
    for column in frame.columns:
        if column.endswith("/n") or column in ("trials", "infeasible", "degraded", "rank", "steps"):
            frame[column] = pd.to_numeric(frame[column]).round().astype("Int64")
    return frame


def _status_counts(status: pd.Series) -> str:
    return ", ".join(f"{k} {v}" for k, v in status.value_counts(sort=False).items())


def difference_table(diffs: pd.DataFrame, title: str, note: str) -> tuple[TextTable, pd.DataFrame]:
    """Paired differences: one row per pair, a difference, its p-value and the Holm-corrected one per metric."""
    metrics = list(dict.fromkeys(diffs["metric"])) if not diffs.empty else []
    columns = ["kind", "comparison"]
    for metric in metrics:
        columns += [header(metric.removeprefix("best/"), metric, prefix="Δ "), "p", "p (Holm)"]
    rows = []
    for (kind, a, b), group in diffs.groupby(["kind", "a", "b"], sort=False):
        row = [str(kind), f"{a} − {b}"]
        for metric in metrics:
            hit = group[group["metric"] == metric].iloc[0]
            if hit.get("note"):
                row += [str(hit["note"]), MISSING, MISSING]
                continue
            text = fmt_estimate(hit["mean"], hit["ci"], int(hit["n"]))
            at_step = hit.get("at_step")
            if at_step is not None and not pd.isna(at_step) and text != MISSING:
                text = f"at step {int(at_step)}: {text}"
            row += [text, fmt_p(hit["p"]), fmt_p(hit.get("p_holm", float("nan")))]
        rows.append(row)
    numeric = diffs.assign(metric=diffs["metric"].str.removeprefix("best/"),
                           seeds=diffs["seeds"].map(lambda s: " ".join(map(str, s))))
    return TextTable(columns, rows, [note], title), numeric


PAIR_NOTE = ("a − b per seed, over the seeds both have trained to the same number of steps (a trial stopped at step "
             "100 is not compared with one trained to 1200: 'not comparable'; 'at step S' marks a comparison of "
             "trials that both stopped there); mean ± 95 % CI half-width (t distribution); p: paired t-test "
             "(scipy.stats.ttest_rel), p (Holm): corrected with Holm's method over every comparison of that metric "
             "the analysis shows (the verdict, the declared pairs and every configuration against the baseline); — "
             "where fewer than two seeds match (a single one shows its difference, n=1).")


def pairs_table(diffs: pd.DataFrame) -> tuple[TextTable, pd.DataFrame]:
    return difference_table(diffs, "Declared pairs", PAIR_NOTE)


def baseline_table(diffs: pd.DataFrame, baseline: str) -> tuple[TextTable, pd.DataFrame]:
    return difference_table(diffs, f"Every configuration vs the baseline '{baseline}'", PAIR_NOTE)


def reported_table(frame: pd.DataFrame, reported: dict[str, dict[str, float]], mode_of) -> tuple[TextTable,
                                                                                                  pd.DataFrame]:
    """Published numbers beside the measured means (test values where the run has them, of the trials that trained
    to the end), with ranks and Spearman's rank correlation per metric.

    ``mode_of(metric)`` returns "max" or "min" (ranks are 1 = best)."""
    metrics = list(dict.fromkeys(m for values in reported.values() for m in values))
    column = {m: value_column(frame, m) for m in metrics}
    finished = completed_trials(frame)
    summary = stats.summarize(finished, list(column.values())).set_index(["label", "metric"]).sort_index()
    labels = list(reported)
    numeric = pd.DataFrame({"label": labels})
    columns, notes = ["configuration"], []
    for metric in metrics:
        name = short(metric)
        rep = pd.Series([reported[label].get(metric, float("nan")) for label in labels], dtype=float)
        meas = [summary.loc[(label, column[metric])] if (label, column[metric]) in summary.index else None
                for label in labels]
        mean = pd.Series([m["mean"] if m is not None else float("nan") for m in meas], dtype=float)
        ascending = mode_of(metric) == "min"
        numeric[f"{name}/reported"], numeric[f"{name}/measured"] = rep, mean
        numeric[f"{name}/measured_ci"] = [m["ci"] if m is not None else None for m in meas]
        both = rep.notna() & mean.notna()  # rank among the rows Spearman's ρ compares
        numeric[f"{name}/rank_reported"] = rep.where(both).rank(ascending=ascending, method="min")
        numeric[f"{name}/rank_measured"] = mean.where(both).rank(ascending=ascending, method="min")
        columns += [labelled(f"{name} reported", metric, mode=mode_of(metric)),
                    labelled(f"{name} measured", metric, (split_of(column[metric]),), mode_of(metric)),
                    "rank rep.", "rank meas."]
        rho, p, n = stats.spearman(rep.tolist(), mean.tolist())
        notes.append(f"Spearman rank correlation of the {name} orderings: ρ = {fmt_number(rho, 2)} "
                     f"(p = {fmt_p(p)}, n = {n})")
    rows = []
    for i, label in enumerate(labels):
        row = [str(label)]
        for metric in metrics:
            name = short(metric)
            key = (label, column[metric])
            n = summary.loc[key, "n"] if key in summary.index else 0
            row += [fmt_number(numeric.at[i, f"{name}/reported"]),
                    fmt_estimate(numeric.at[i, f"{name}/measured"], numeric.at[i, f"{name}/measured_ci"], int(n)),
                    _rank(numeric.at[i, f"{name}/rank_reported"]), _rank(numeric.at[i, f"{name}/rank_measured"])]
        rows.append(row)
    notes.append("Ranks (1 = best) are among the configurations with both numbers, the ones ρ compares; measured: the "
                 "trials that trained to the end (a configuration stopped early has none).")
    notes.append("Published numbers come from the study's own data and recipe; compare the orderings, not the values.")
    return TextTable(columns, rows, notes, "Published vs measured"), numeric


def completed_trials(frame: pd.DataFrame) -> pd.DataFrame:
    """The trials that trained their whole budget (``budget`` 1; where a frame has no budget, status completed)."""
    if "budget" in frame:
        return frame[pd.to_numeric(frame["budget"], errors="coerce") >= 1]
    return frame[frame["status"] == "completed"] if "status" in frame else frame


def _rank(value) -> str:
    return MISSING if pd.isna(value) else str(int(value))
