"""Anomaly-score thresholds chosen on validation and the confusion counts they give (seed study 004).

Scores: higher means more anomalous. Labels: 1 (or True) = anomalous, 0 = normal. A sample is predicted
anomalous when ``score >= threshold`` (``>=``, so a threshold equal to a sample's score flags that sample).
"""

from __future__ import annotations

import numpy as np

TARGET_RATE = 0.95


def _as_arrays(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape or scores.size == 0:
        raise ValueError(
            f"scores and labels must be non-empty and of equal length, got {scores.size} and {labels.size}"
        )
    if not np.all(np.isfinite(scores)):
        raise ValueError("anomaly scores must be finite (found NaN or inf)")
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError(f"labels must be 0 (normal) or 1 (anomalous), got values {np.unique(labels).tolist()}")
    return scores, labels.astype(bool)


def _require_both_classes(labels: np.ndarray) -> None:
    if labels.all() or not labels.any():
        raise ValueError("need both normal (0) and anomalous (1) samples, got only one class")


def _counts(scores: np.ndarray, labels: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, ...]:
    """TP, FP, TN, FN for every threshold at once (``score >= threshold`` is anomalous)."""
    positives = np.sort(scores[labels])
    negatives = np.sort(scores[~labels])
    # searchsorted(side="left") counts the scores strictly below each threshold: those are predicted normal.
    fn = np.searchsorted(positives, thresholds, side="left")
    tn = np.searchsorted(negatives, thresholds, side="left")
    return positives.size - fn, negatives.size - tn, tn, fn


def _f1(tp, fp, fn):
    tp, fp, fn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, fn))
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(denominator), where=denominator > 0)


def select_thresholds(scores, labels) -> dict[str, float]:
    """Thresholds of seed study 004, chosen on validation scores.

    Candidates are the distinct scores plus one value just above the largest (which flags nothing), so every
    distinct prediction is reachable and each threshold is a value seen in the data.

    Args:
        scores: Anomaly scores, shape (n,), higher = more anomalous.
        labels: 1 for anomalous, 0 for normal, shape (n,); both classes must occur.

    Returns:
        ``best_f1``: the candidate with the highest F1 (ties: the highest such threshold, i.e. fewest alarms);
        ``tpr95``: the highest threshold that keeps TPR >= 0.95;
        ``tnr95``: the lowest threshold that keeps TNR >= 0.95;
        ``mean_tpr_tnr``: the mean of ``tpr95`` and ``tnr95`` (the study's "TNR TPR AVG").
    """
    scores, labels = _as_arrays(scores, labels)
    _require_both_classes(labels)
    candidates = np.append(np.unique(scores), np.nextafter(scores.max(), np.inf))  # ascending
    tp, fp, tn, fn = _counts(scores, labels, candidates)
    tpr = tp / labels.sum()
    tnr = tn / (~labels).sum()

    f1 = _f1(tp, fp, fn)
    best_f1 = candidates[np.flatnonzero(f1 == f1.max())[-1]]
    # TPR falls and TNR rises with the threshold; the lowest candidate has TPR 1, the top one TNR 1.
    tpr95 = candidates[np.flatnonzero(tpr >= TARGET_RATE)[-1]]
    tnr95 = candidates[np.flatnonzero(tnr >= TARGET_RATE)[0]]
    return {
        "best_f1": float(best_f1),
        "tpr95": float(tpr95),
        "tnr95": float(tnr95),
        "mean_tpr_tnr": float((tpr95 + tnr95) / 2),
    }


def confusion_at(scores, labels, threshold: float) -> dict:
    """Confusion counts and rates when ``score >= threshold`` is predicted anomalous.

    Args:
        scores: Anomaly scores, shape (n,), higher = more anomalous.
        labels: 1 for anomalous, 0 for normal, shape (n,).
        threshold: Decision threshold (inclusive).

    Returns:
        ``threshold`` (float), ``TP``, ``FP``, ``TN``, ``FN`` (int), ``TPR`` = TP/(TP+FN), ``TNR`` = TN/(TN+FP)
        (float, NaN when that class is absent), ``F1`` = 2TP/(2TP+FP+FN) (float, 0 when there is nothing to find
        and nothing flagged).
    """
    scores, labels = _as_arrays(scores, labels)
    tp, fp, tn, fn = (int(v[0]) for v in _counts(scores, labels, np.array([float(threshold)])))
    return {
        "threshold": float(threshold),
        "TP": tp,
        "FP": fp,
        "TN": tn,
        "FN": fn,
        "TPR": tp / (tp + fn) if tp + fn else float("nan"),
        "TNR": tn / (tn + fp) if tn + fp else float("nan"),
        "F1": float(_f1(tp, fp, fn)),
    }


def roc_auc(scores, labels) -> float:
    """Area under the ROC curve by the rank (Mann-Whitney U) definition.

    AUC = P(score of a random anomalous sample > score of a random normal one) + 0.5·P(equal scores):
    (sum of the anomalous samples' average ranks − P(P+1)/2) / (P·N).

    Args:
        scores: Anomaly scores, shape (n,), higher = more anomalous.
        labels: 1 for anomalous, 0 for normal, shape (n,); both classes must occur.

    Returns:
        AUC in [0, 1]; 0.5 for uninformative scores, 1 when every anomalous sample outscores every normal one.
    """
    scores, labels = _as_arrays(scores, labels)
    _require_both_classes(labels)
    from scipy.stats import rankdata  # heavy: scipy.stats, which only this ranking needs

    ranks = rankdata(scores)  # ties get their average rank, which counts a tie as half a win
    n_pos = int(labels.sum())
    n_neg = labels.size - n_pos
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
