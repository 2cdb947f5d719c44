"""The anomaly study's threshold table: per trial, one block of four rows (one per threshold rule) with the
threshold chosen on validation and the confusion counts and rates it gives on test, as seed 004 printed it.

It reads the flat metrics of the test evaluation of each trial's selected checkpoint (``test/<rule>/<name>``, in
``test.json``) from a run's tidy frame (``analysis.load_run``: columns ``test/<rule>/tp`` ...), so it needs nothing
but pandas.
"""

from __future__ import annotations

import math

import pandas as pd

# Metric name of each rule -> how the study's tables name it.
RULES = {"best_f1": "best F1", "tpr95": "TPR ≥ 95 %", "tnr95": "TNR ≥ 95 %", "mean": "mean of the two"}
COUNTS = ("tp", "fp", "tn", "fn")
RATES = ("tpr", "tnr", "f1")
WEIGHTS_COLUMN = "config/task.perceptual_weights"


def threshold_table(frame: pd.DataFrame) -> str:
    """Markdown table of every trial's thresholds and test confusion counts.

    Args:
        frame: one row per trial with ``label``, optionally ``seed`` and ``config/task.perceptual_weights``, and the
            columns ``test/<rule>/{threshold,tp,fp,tn,fn,tpr,tnr,f1}`` for the rules best_f1, tpr95, tnr95 and mean,
            and ``test/auc``: the test evaluation of the trial's selected checkpoint.

    Returns:
        A Markdown table with columns trial, seed, weights, AUC, rule, threshold, TP, FP, TN, FN, TPR, TNR, F1; the
        first row of each block names the trial, the other three leave those cells empty. Trials without the
        columns (failed before their first evaluation, or not evaluated on test) get one row that says so.
    """
    header = ["trial", "seed", "weights", "test AUC", "rule", "threshold", "TP", "FP", "TN", "FN", "TPR", "TNR", "F1"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    sort_keys = [c for c in ("label", "seed") if c in frame.columns]
    ordered = frame.sort_values(sort_keys, kind="stable") if sort_keys else frame
    for _, trial in ordered.iterrows():
        first = [_text(trial.get("label")), _integer(trial.get("seed")), _text(trial.get(WEIGHTS_COLUMN)),
                 _number(trial.get("test/auc"))]
        if _missing(trial.get("test/best_f1/tp")):
            status = _text(trial.get("status")) or "unknown"
            lines.append("| " + " | ".join(first + [f"not evaluated on test ({status})"] + [""] * 8) + " |")
            continue
        for i, (rule, name) in enumerate(RULES.items()):
            key = f"test/{rule}"
            cells = [_number(trial.get(f"{key}/threshold"))]
            cells += [_integer(trial.get(f"{key}/{c}")) for c in COUNTS]
            cells += [_number(trial.get(f"{key}/{r}")) for r in RATES]
            lines.append("| " + " | ".join((first if i == 0 else [""] * 4) + [name] + cells) + " |")
    return "\n".join(lines) + "\n"


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _text(value) -> str:
    return "" if _missing(value) else str(value)


def _number(value) -> str:
    return "" if _missing(value) else f"{float(value):.4g}"


def _integer(value) -> str:
    return "" if _missing(value) else str(int(value))
