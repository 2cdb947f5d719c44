import math

import numpy as np
import pytest

from restore_core.metrics import confusion_at, roc_auc, select_thresholds

# 20 normal samples scored 1..20 and 20 anomalous ones scored 15..34 (the two classes overlap on 15..20).
SCORES = np.concatenate([np.arange(1, 21), np.arange(15, 35)]).astype(float)
LABELS = np.array([0] * 20 + [1] * 20)


def test_select_thresholds_on_overlapping_classes():
    thresholds = select_thresholds(SCORES, LABELS)
    assert thresholds == {
        # t <= 15 finds all 20 anomalies with 21 - t false alarms: F1 = 40 / (40 + 21 - t), best at t = 15
        # (40/46); above 15, F1 = 2(35 - t) / (2(35 - t) + 6) is lower (38/44 at 16).
        "best_f1": 15.0,
        # TPR >= 0.95 means at least 19 of 20 anomalies at or above t: anomalies 16..34.
        "tpr95": 16.0,
        # TNR >= 0.95 means at least 19 of 20 normals strictly below t: normals 1..19, so t = 20.
        "tnr95": 20.0,
        "mean_tpr_tnr": 18.0,
    }


@pytest.mark.parametrize(
    ("threshold", "tp", "fp", "tn", "fn"),
    [(15.0, 20, 6, 14, 0), (16.0, 19, 5, 15, 1), (20.0, 15, 1, 19, 5), (18.0, 17, 3, 17, 3), (16.5, 18, 4, 16, 2)],
)
def test_confusion_at_known_counts(threshold, tp, fp, tn, fn):
    result = confusion_at(SCORES, LABELS, threshold)
    assert (result["TP"], result["FP"], result["TN"], result["FN"]) == (tp, fp, tn, fn)
    assert result["threshold"] == threshold
    assert result["TPR"] == pytest.approx(tp / 20)
    assert result["TNR"] == pytest.approx(tn / 20)
    assert result["F1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert all(type(result[key]) is int for key in ("TP", "FP", "TN", "FN"))
    assert all(type(result[key]) is float for key in ("threshold", "TPR", "TNR", "F1"))


def test_score_equal_to_threshold_is_anomalous():
    assert confusion_at([0.5], [1], 0.5)["TP"] == 1
    assert confusion_at([0.5], [0], 0.5)["FP"] == 1
    assert confusion_at([0.5], [1], np.nextafter(0.5, 1.0))["FN"] == 1


def test_tnr95_above_every_score_flags_nothing():
    # The top score is a normal sample: TNR 1 needs a threshold above it.
    scores, labels = [0.1, 0.2, 0.9, 0.5], [0, 0, 0, 1]
    thresholds = select_thresholds(scores, labels)
    assert thresholds["tnr95"] > 0.9 and thresholds["tnr95"] == np.nextafter(0.9, 1.0)
    assert thresholds["tpr95"] == 0.5
    assert thresholds["best_f1"] == 0.5  # TP 1, FP 1: F1 2/3, better than 0.2 (1/2) or above 0.5 (0)
    result = confusion_at(scores, labels, thresholds["tnr95"])
    assert (result["TP"], result["FP"], result["TN"], result["FN"]) == (0, 0, 3, 1)
    assert result["F1"] == 0.0


def test_single_class_confusion_gives_nan_rate():
    result = confusion_at([0.1, 0.7], [0, 0], 0.5)
    assert math.isnan(result["TPR"]) and result["TNR"] == 0.5


@pytest.mark.parametrize(
    ("scores", "labels", "expected"),
    [
        ([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], 1.0),
        ([0.1, 0.2, 0.8, 0.9], [1, 1, 0, 0], 0.0),
        ([0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1], 0.5),
        ([1.0, 1.0, 2.0, 2.0], [0, 1, 0, 1], 0.5),
        ([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], 0.75),
        # Anomalies 0.5, 0.7 against normals 0.5, 0.2, 0.1: wins 2 + 3, one tie worth 0.5, over 6 pairs.
        ([0.5, 0.7, 0.5, 0.2, 0.1], [1, 1, 0, 0, 0], 5.5 / 6),
    ],
)
def test_roc_auc_known_values(scores, labels, expected):
    assert roc_auc(np.array(scores), np.array(labels)) == pytest.approx(expected, abs=1e-12)


def test_roc_auc_of_overlapping_classes_counts_pairs():
    # Pairs (anomaly a in 15..34, normal n in 1..20) with a < n: 15 of them, ties a == n: 6.
    expected = (400 - 15 - 0.5 * 6) / 400
    assert roc_auc(SCORES, LABELS) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("scores", "labels", "match"),
    [
        ([0.1, 0.2], [1, 1], "both"),
        ([0.1, float("nan")], [0, 1], "finite"),
        ([0.1, 0.2], [0, 2], "labels"),
        ([0.1], [0, 1], "equal length"),
    ],
)
def test_bad_input_rejected(scores, labels, match):
    with pytest.raises(ValueError, match=match):
        select_thresholds(scores, labels)
