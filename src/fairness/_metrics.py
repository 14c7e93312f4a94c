"""The audited metrics: Fairlearn/scikit-learn functions for ``MetricFrame``.

Each metric returns ``nan`` when it is undefined for a group (no children with
the outcome, nobody flagged...), never a silent zero; the audit then shows a
"too few to say" status. Calibration within group is a custom metric.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import sklearn.metrics as skm
from fairlearn.metrics import mean_prediction, selection_rate

Needs = Literal["group", "positives", "negatives", "flagged", "both"]


@dataclass(frozen=True)
class MetricInfo:
    """Description of one audited metric.

    Parameters
    ----------
    key : str
        Column name in the results.
    label : str
        Short name for tables.
    plain : str
        What it means, for a lay reader ("of children flagged, ...").
    needs : {"group", "positives", "negatives", "flagged", "both"}
        Which count must reach the minimum for the number to be shown.
    worse : {"higher", "lower", "either"}
        Which direction harms the group, for plain-words summaries.
    """

    key: str
    label: str
    plain: str
    needs: Needs
    worse: Literal["higher", "lower", "either"]


METRICS: tuple[MetricInfo, ...] = (
    MetricInfo("selection_rate", "Flag rate", "share of children flagged", "group", "either"),
    MetricInfo("false_positive_rate", "False positive rate",
               "share of children who did not escalate but were flagged", "negatives", "higher"),
    MetricInfo("false_negative_rate", "False negative rate (missed)",
               "share of children who escalated but were not flagged", "positives", "higher"),
    MetricInfo("precision", "Precision",
               "share of flagged children who went on to escalate", "flagged", "lower"),
    MetricInfo("recall", "Recall", "share of children who escalated that were flagged",
               "positives", "lower"),
    MetricInfo("auc", "AUC", "how well scores rank children who escalated above those who "
               "did not (0.5 = chance)", "both", "lower"),
    MetricInfo("base_rate", "Base rate", "share of children who went on to escalate",
               "group", "either"),
    MetricInfo("mean_predicted", "Mean predicted risk", "average risk the model gave",
               "group", "either"),
    MetricInfo("calibration_gap", "Calibration gap",
               "average predicted risk minus the observed rate (0 = well calibrated; "
               "above 0 = risk over-stated)", "positives", "either"),
    MetricInfo("ece", "Calibration error (ECE)",
               "average distance between predicted and observed risk across score bands",
               "positives", "higher"),
)
METRIC_INFO = {m.key: m for m in METRICS}
METRIC_KEYS = tuple(m.key for m in METRICS)


def _has(y_true: np.ndarray, value: int, sample_weight: np.ndarray) -> bool:
    return bool(np.asarray(sample_weight)[np.asarray(y_true) == value].sum() > 0)


def flag_rate(y_true, y_pred, *, sample_weight) -> float:  # noqa: ANN001 - MetricFrame
    """Share of children flagged (Fairlearn ``selection_rate``)."""
    return float(selection_rate(y_true, y_pred, pos_label=1, sample_weight=sample_weight))


def _rate_among(y_true: np.ndarray, y_pred: np.ndarray, weight: np.ndarray) -> float:
    """Fairlearn ``selection_rate`` of the flags among the rows ``weight`` selects."""
    if not np.asarray(weight).sum() > 0:
        return float("nan")
    return float(selection_rate(y_true, y_pred, pos_label=1, sample_weight=weight))


# The error rates below are Fairlearn's selection rate of the flags within the
# children with (or without) the outcome, or within the flagged: the textbook
# definitions, and far faster per group than scikit-learn's validated metrics.
def fpr(y_true, y_pred, *, sample_weight) -> float:  # noqa: ANN001
    """Return the false positive rate: flag rate among children without the outcome."""
    return _rate_among(y_true, y_pred, sample_weight * (np.asarray(y_true) == 0))


def fnr(y_true, y_pred, *, sample_weight) -> float:  # noqa: ANN001
    """Return the false negative rate: share not flagged among children with the outcome."""
    return 1.0 - _rate_among(y_true, y_pred, sample_weight * (np.asarray(y_true) == 1))


def precision(y_true, y_pred, *, sample_weight) -> float:  # noqa: ANN001
    """Return the precision: outcome rate among flagged children (``nan`` if none)."""
    return _rate_among(y_pred, y_true, sample_weight * (np.asarray(y_pred) == 1))


def recall(y_true, y_pred, *, sample_weight) -> float:  # noqa: ANN001
    """Return the recall: flag rate among children with the outcome (``nan`` if none)."""
    return _rate_among(y_true, y_pred, sample_weight * (np.asarray(y_true) == 1))


def auc(y_true, y_pred, *, score, sample_weight) -> float:  # noqa: ANN001
    """Area under the ROC curve of the score, ``nan`` without both outcomes."""
    if not (_has(y_true, 0, sample_weight) and _has(y_true, 1, sample_weight)):
        return float("nan")
    return float(skm.roc_auc_score(y_true, score, sample_weight=sample_weight))


def base_rate(y_true, y_pred, *, sample_weight) -> float:  # noqa: ANN001
    """Observed outcome rate (Fairlearn ``mean_prediction`` of the outcomes)."""
    return float(mean_prediction(y_true, y_true, sample_weight=sample_weight))


def mean_predicted(y_true, y_pred, *, score, sample_weight) -> float:  # noqa: ANN001
    """Mean predicted risk (Fairlearn ``mean_prediction`` of the scores)."""
    return float(mean_prediction(y_true, score, sample_weight=sample_weight))


def calibration_gap(y_true, y_pred, *, score, sample_weight) -> float:  # noqa: ANN001
    """Mean predicted risk minus observed rate within the group.

    Positive values mean the model over-states the group's risk.
    """
    return float(np.average(score, weights=sample_weight)
                 - np.average(y_true, weights=sample_weight))


def ece(y_true, y_pred, *, score, bins, sample_weight) -> float:  # noqa: ANN001
    """Return the expected calibration error within the group over shared score bands.

    ``sum_b (n_b / n) * |mean score_b - observed rate_b|``, which equals
    ``sum_b |sum score_b - sum outcome_b| / n``. The bands (``bins``) are the
    same for every group (deciles of all audited scores), so groups are
    compared on the same footing.
    """
    w = np.asarray(sample_weight, dtype="float64")
    b = np.asarray(bins)
    n_bins = int(b.max()) + 1 if len(b) else 0
    s = np.bincount(b, weights=w * np.asarray(score, dtype="float64"), minlength=n_bins)
    o = np.bincount(b, weights=w * np.asarray(y_true, dtype="float64"), minlength=n_bins)
    return float(np.abs(s - o).sum() / w.sum())


METRIC_FUNCTIONS = {
    "selection_rate": flag_rate,
    "false_positive_rate": fpr,
    "false_negative_rate": fnr,
    "precision": precision,
    "recall": recall,
    "auc": auc,
    "base_rate": base_rate,
    "mean_predicted": mean_predicted,
    "calibration_gap": calibration_gap,
    "ece": ece,
}
"""Metric functions for ``MetricFrame``; every one takes ``sample_weight``
(the audit passes rows compressed into weighted cells)."""

SCORE_METRICS = ("auc", "mean_predicted", "calibration_gap", "ece")

PROPORTIONS = {
    "selection_rate": ("n_flagged", "n"),
    "false_positive_rate": ("fp", "n_negative"),
    "false_negative_rate": ("fn", "n_positive"),
    "precision": ("tp", "n_flagged"),
    "recall": ("tp", "n_positive"),
    "base_rate": ("n_positive", "n"),
}
"""Metrics that are a count over a count: (numerator, denominator)."""


def metrics_from_sums(
    counts: np.ndarray, score_sums: np.ndarray
) -> dict[str, np.ndarray]:
    """Compute every metric from cell counts, vectorised over leading axes.

    This is the bootstrap's fast path: the same definitions as
    :data:`METRIC_FUNCTIONS`, evaluated on summed cells instead of rows.

    Parameters
    ----------
    counts : ndarray, shape (..., 2, 2, n_fine_bins)
        Number of rows per (flagged, outcome, fine score bin); fine bins are
        ordered by score and nested in the coarse ECE bins.
    score_sums : ndarray, shape (..., n_coarse_bins, 2)
        Sum of scores and sum of outcomes per coarse score bin.

    Returns
    -------
    dict of str to ndarray
        Each metric with shape ``counts.shape[:-3]``, plus ``n``,
        ``n_positive``, ``n_negative`` and ``n_flagged``. AUC counts ties
        within a fine bin as half, so it approximates the exact AUC.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        by_cell = counts.sum(axis=-1)  # (..., flag, label)
        tn, fn = by_cell[..., 0, 0], by_cell[..., 0, 1]
        fp, tp = by_cell[..., 1, 0], by_cell[..., 1, 1]
        n = tn + fn + fp + tp
        pos, neg, flagged = tp + fn, tn + fp, tp + fp
        pos_bins = counts[..., 1, :].sum(axis=-2)
        neg_bins = counts[..., 0, :].sum(axis=-2)
        neg_below = np.cumsum(neg_bins, axis=-1) - neg_bins
        auc_value = (pos_bins * (neg_below + 0.5 * neg_bins)).sum(axis=-1) / (pos * neg)
        s_sum = score_sums[..., 0].sum(axis=-1)
        mean_pred = s_sum / n
        rate = pos / n
        out = {
            "selection_rate": flagged / n,
            "false_positive_rate": fp / neg,
            "false_negative_rate": fn / pos,
            "precision": tp / flagged,
            "recall": tp / pos,
            "auc": auc_value,
            "base_rate": rate,
            "mean_predicted": mean_pred,
            "calibration_gap": mean_pred - rate,
            "ece": np.abs(score_sums[..., 0] - score_sums[..., 1]).sum(axis=-1) / n,
        }
    out.update(n=n, n_positive=pos, n_negative=neg, n_flagged=flagged, tp=tp, fp=fp, fn=fn)
    return out
