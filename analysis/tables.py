"""The comparison tables of a run: per configuration (with classical baselines as rows), declared pairs, every
variant against the baseline, and published against measured numbers. Each builder returns the formatted
:class:`TextTable` (for Markdown, LaTeX and the report) and a numeric frame (for CSV)."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from analysis import stats
from analysis.format import MISSING, TextTable, fmt_count, fmt_estimate, fmt_number, fmt_p
from analysis.load import COST_KEYS, lower_is_better

COST_HEADERS = {"cost/params": "params", "cost/macs": "MACs", "cost/latency_ms": "latency (ms)"}
BASELINE = re.compile(r"^(?:best|last)/baseline/([^/]+)/(.+)$")
STATS_NOTE = ("mean ± 95 % CI half-width (t distribution) over seeds of each trial's best evaluation; n = seeds "
              "counted (trials of one seed averaged first; crashed and diverged trials are not counted); "
              "infeasible = error, NaN or collapsed trials.")


def short(metric: str) -> str:
    """Column header of a metric: ``val/psnr`` -> ``psnr``; other prefixes stay."""
    return metric[4:] if metric.startswith("val/") else metric


def table_metrics(frame: pd.DataFrame, metric: str) -> list[str]:
    """The metrics of the main table: the space's metric, SSIM, the other validation metrics, test-set summaries,
    then the reference (input vs target) and delta metrics."""
    found = [c[5:] for c in frame.columns if c.startswith("best/val/")]
    primary = [m for m in found if "/ref_" not in m and "/delta_" not in m]
    # test-set summaries such as test/auc (not the per-rule counts test/<rule>/<name>, which have their own table)
    tests = [c[5:] for c in frame.columns if c.startswith("best/test/") and c.count("/") == 2]
    ordered = [metric, "val/psnr", "val/ssim", *primary, *tests]
    ordered += [m for m in found if "/ref_" in m] + [m for m in found if "/delta_" in m]
    return [m for m in dict.fromkeys(ordered) if f"best/{m}" in frame]


def main_metrics(frame: pd.DataFrame, metric: str) -> list[str]:
    """The metrics compared between configurations (pairs, baseline): the space's metric and SSIM."""
    return [m for m in dict.fromkeys([metric, "val/ssim"]) if f"best/{m}" in frame]


def order_labels(summary: pd.DataFrame, metric: str, mode: str, labels: list[str]) -> list[str]:
    """Configuration labels, best mean first; configurations without a value last, in their first-seen order."""
    rows = summary[summary["metric"] == f"best/{metric}"].set_index("label")["mean"]
    ranked = rows.dropna().sort_values(ascending=lower_is_better(metric, mode), kind="stable").index.tolist()
    return ranked + [label for label in labels if label not in ranked]


def baseline_values(frame: pd.DataFrame) -> dict[str, dict[str, pd.Series]]:
    """``baseline/<name>/<metric>`` reports, as {name: {metric: values per seed}} (the last report, else the best)."""
    found: dict[str, dict[str, str]] = {}
    for column in frame.columns:
        match = BASELINE.match(column)
        if match and (column.startswith("last/") or match.group(2) not in found.get(match.group(1), {})):
            found.setdefault(match.group(1), {})[match.group(2)] = column
    rows = stats.counted(frame)
    return {name: {m: stats.seed_means(rows, c) for m, c in columns.items()} for name, columns in found.items()}


def _baseline_metric(metrics: Sequence[str], name: str) -> str | None:
    """The table column a baseline metric belongs to: ``psnr`` -> ``val/psnr``."""
    for metric in metrics:
        if metric.rsplit("/", 1)[-1] == name or metric == name:
            return metric
    return None


def main_table(frame: pd.DataFrame, metric: str, mode: str, baseline: str | None = None,
               boundary: pd.DataFrame | None = None) -> tuple[TextTable, pd.DataFrame]:
    """One row per configuration (best first) and one per classical baseline."""
    metrics = table_metrics(frame, metric)
    summary = stats.summarize(frame, [f"best/{m}" for m in metrics])
    cells = summary.set_index(["label", "metric"])
    infeasible = stats.infeasible_share(frame).set_index("label")
    costs = [k for k in COST_KEYS if k in frame and frame[k].notna().any()]
    columns = ["configuration", *[short(m) for m in metrics], *[COST_HEADERS[k] for k in costs], "infeasible",
               "status"]
    rows, numeric = [], []
    labels = list(dict.fromkeys(frame["label"])) if not frame.empty else []
    for label in order_labels(summary, metric, mode, labels):
        group = frame[frame["label"] == label]
        row, record = [str(label)], {"kind": "configuration", "label": label}
        for m in metrics:
            est = cells.loc[(label, f"best/{m}")] if (label, f"best/{m}") in cells.index else None
            row.append(fmt_estimate(est["mean"], est["ci"], int(est["n"])) if est is not None else MISSING)
            for part in ("mean", "ci", "std", "n"):
                record[f"{m}/{part}"] = est[part] if est is not None else None
        for key in costs:
            value = pd.to_numeric(group[key], errors="coerce").mean()
            row.append(fmt_number(value) if key == "cost/latency_ms" else fmt_count(value))
            record[key] = value
        share = infeasible.loc[label]
        row += [f"{int(share['infeasible'])}/{int(share['trials'])}", _status_counts(group["status"])]
        record.update({"trials": int(share["trials"]), "infeasible": int(share["infeasible"])})
        rows.append(row)
        numeric.append(record)
    for name, values in baseline_values(frame).items():
        row, record = [f"baseline: {name}"], {"kind": "baseline", "label": f"baseline: {name}"}
        by_metric = {_baseline_metric(metrics, m): v for m, v in values.items()}
        for m in metrics:
            est = stats.estimate(by_metric[m]) if m in by_metric else None
            row.append(fmt_estimate(est.mean, est.ci, est.n) if est else MISSING)
            for part in ("mean", "ci", "std", "n"):
                record[f"{m}/{part}"] = getattr(est, part) if est else None
        rows.append(row + [MISSING] * (len(costs) + 2))
        numeric.append(record)
    notes = [STATS_NOTE]
    if baseline:
        notes.append(f"baseline configuration: {baseline}")
    for flag in (boundary if boundary is not None else pd.DataFrame()).itertuples():
        if flag.flag:
            side = "lower" if flag.position < 0.5 else "upper"
            notes.append(f"boundary: the best {flag.param} = {flag.best:.3g} lies in the {side} 10 % of its range "
                         f"[{flag.low:g}, {flag.high:g}]; widen the range before trusting this optimum.")
    return TextTable(columns, rows, notes), _counts_as_int(pd.DataFrame(numeric))


def _counts_as_int(frame: pd.DataFrame) -> pd.DataFrame:
    """Counts stay whole numbers in the CSV even where a row has none (``Int64`` holds missing values)."""
    for column in frame.columns:
        if column.endswith("/n") or column in ("trials", "infeasible"):
            frame[column] = pd.to_numeric(frame[column]).round().astype("Int64")
    return frame


def _status_counts(status: pd.Series) -> str:
    return ", ".join(f"{k} {v}" for k, v in status.value_counts(sort=False).items())


def difference_table(diffs: pd.DataFrame, title: str, note: str) -> tuple[TextTable, pd.DataFrame]:
    """Paired differences: one row per pair, a difference and a p-value column per metric."""
    metrics = list(dict.fromkeys(diffs["metric"])) if not diffs.empty else []
    columns = ["kind", "comparison"]
    for metric in metrics:
        columns += [f"Δ {short(metric.removeprefix('best/'))}", "p"]
    rows = []
    for (kind, a, b), group in diffs.groupby(["kind", "a", "b"], sort=False):
        row = [str(kind), f"{a} − {b}"]
        for metric in metrics:
            hit = group[group["metric"] == metric].iloc[0]
            row += [fmt_estimate(hit["mean"], hit["ci"], int(hit["n"])), fmt_p(hit["p"])]
        rows.append(row)
    numeric = diffs.assign(metric=diffs["metric"].str.removeprefix("best/"),
                           seeds=diffs["seeds"].map(lambda s: " ".join(map(str, s))))
    return TextTable(columns, rows, [note], title), numeric


PAIR_NOTE = ("a − b per seed (seeds both have), mean ± 95 % CI half-width (t distribution); p: paired t-test "
             "(scipy.stats.ttest_rel), — where fewer than two seeds match (a single one shows its difference, n=1).")


def pairs_table(frame: pd.DataFrame, pairs: Sequence, metric: str) -> tuple[TextTable, pd.DataFrame]:
    metrics = [f"best/{m}" for m in main_metrics(frame, metric)]
    return difference_table(stats.pair_differences(frame, pairs, metrics), "Declared pairs", PAIR_NOTE)


def baseline_table(frame: pd.DataFrame, baseline: str, metric: str) -> tuple[TextTable, pd.DataFrame]:
    metrics = [f"best/{m}" for m in main_metrics(frame, metric)]
    diffs = stats.versus_baseline(frame, baseline, metrics)
    return difference_table(diffs, f"Every configuration vs the baseline '{baseline}'", PAIR_NOTE)


def reported_table(frame: pd.DataFrame, reported: dict[str, dict[str, float]], mode_of) -> tuple[TextTable,
                                                                                                  pd.DataFrame]:
    """Published numbers beside the measured means, with ranks and Spearman's rank correlation per metric.

    ``mode_of(metric)`` returns "max" or "min" (ranks are 1 = best)."""
    metrics = list(dict.fromkeys(m for values in reported.values() for m in values))
    summary = stats.summarize(frame, [f"best/{m}" for m in metrics]).set_index(["label", "metric"]).sort_index()
    labels = list(reported)
    numeric = pd.DataFrame({"label": labels})
    columns, notes = ["configuration"], []
    for metric in metrics:
        name = short(metric)
        rep = pd.Series([reported[label].get(metric, float("nan")) for label in labels], dtype=float)
        meas = [summary.loc[(label, f"best/{metric}")] if (label, f"best/{metric}") in summary.index else None
                for label in labels]
        mean = pd.Series([m["mean"] if m is not None else float("nan") for m in meas], dtype=float)
        ascending = mode_of(metric) == "min"
        numeric[f"{name}/reported"], numeric[f"{name}/measured"] = rep, mean
        numeric[f"{name}/measured_ci"] = [m["ci"] if m is not None else None for m in meas]
        both = rep.notna() & mean.notna()  # rank among the rows Spearman's ρ compares
        numeric[f"{name}/rank_reported"] = rep.where(both).rank(ascending=ascending, method="min")
        numeric[f"{name}/rank_measured"] = mean.where(both).rank(ascending=ascending, method="min")
        columns += [f"{name} reported", f"{name} measured", "rank rep.", "rank meas."]
        rho, p, n = stats.spearman(rep.tolist(), mean.tolist())
        notes.append(f"Spearman rank correlation of the {name} orderings: ρ = {fmt_number(rho, 2)} "
                     f"(p = {fmt_p(p)}, n = {n})")
    rows = []
    for i, label in enumerate(labels):
        row = [str(label)]
        for metric in metrics:
            name = short(metric)
            n = summary.loc[(label, f"best/{metric}"), "n"] if (label, f"best/{metric}") in summary.index else 0
            row += [fmt_number(numeric.at[i, f"{name}/reported"]),
                    fmt_estimate(numeric.at[i, f"{name}/measured"], numeric.at[i, f"{name}/measured_ci"], int(n)),
                    _rank(numeric.at[i, f"{name}/rank_reported"]), _rank(numeric.at[i, f"{name}/rank_measured"])]
        rows.append(row)
    notes.append("Ranks (1 = best) are among the configurations with both numbers, the ones ρ compares.")
    notes.append("Published numbers come from the study's own data and recipe; compare the orderings, not the values.")
    return TextTable(columns, rows, notes, "Published vs measured"), numeric


def _rank(value) -> str:
    return MISSING if pd.isna(value) else str(int(value))
