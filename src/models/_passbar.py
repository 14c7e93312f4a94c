"""The pre-registered pass bar: stated in the pipeline file before training.

A model below the bar is recorded as failed, is never registered as a
candidate, and its report says so in the first line. Precision and recall at
capacity are judged on the **worst case** of ties at the cut-off, so a rule
score cannot pass on a lucky sort order.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["PassBarError", "BarCheck", "PassBarResult", "check_pass_bar", "check_bar_reachable"]

UNREACHABLE_PRECISION = (
    "pass_bar.min_precision_at_capacity = {bar}: impossible on this data: with {k} flags a "
    "month and on average {pos:.1f} escalations a month in the training period the best "
    "possible precision is {best:.3f}; lower the bar or raise capacity.flags_per_month"
)
UNREACHABLE_RECALL = (
    "pass_bar.min_recall_at_capacity = {bar}: impossible on this data: with {k} flags a "
    "month and on average {pos:.1f} escalations a month in the training period the best "
    "possible recall is {best:.3f}; lower the bar or raise capacity.flags_per_month"
)


class PassBarError(ValueError):
    """The pass bar cannot be met whatever the model (checked before training)."""


@dataclass(frozen=True)
class BarCheck:
    """One line of the pass bar: the metric, its value, the bar and the verdict."""

    metric: str
    description: str
    value: float | None
    threshold: float
    direction: str  # ">=" or "<="
    passed: bool


@dataclass(frozen=True)
class PassBarResult:
    """All the bar's checks and the overall verdict."""

    model: str
    checks: list[BarCheck] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """True only if every check passed."""
        return all(c.passed for c in self.checks)

    def headline(self) -> str:
        """One line: PASSED or FAILED, and which checks failed."""
        if self.passed:
            n = len(self.checks)
            return f"PASSED the pre-registered bar: {self.model} meets all {n} checks"
        failed = "; ".join(
            f"{c.description} {_fmt(c.value)} (bar {c.direction} {c.threshold:g})"
            for c in self.checks if not c.passed
        )
        return f"FAILED the pre-registered bar: {self.model} is not registered: {failed}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"model": self.model, "passed": self.passed, "headline": self.headline(),
                "checks": [asdict(c) for c in self.checks]}


def _fmt(v: float | None) -> str:
    return "undefined" if v is None else f"{v:.3f}"


def _value(metrics: dict, model: str, key: str) -> float | None:
    entry = metrics["models"][model].get(key)
    return None if entry is None else entry["value"]


def check_pass_bar(bar: Any, metrics: dict, model: str) -> PassBarResult:
    """Judge a model's final-period metrics against the pass bar.

    Parameters
    ----------
    bar : PassBarConfig
        The ``pass_bar`` section (``None`` fields are not checked).
    metrics : dict
        Output of :func:`~earlywarning.models.evaluate_models`.
    model : str
        The candidate's name in ``metrics["models"]``.

    Returns
    -------
    PassBarResult
    """
    specs: list[tuple[str, str, float | None, str, float | None]] = [
        ("precision_at_capacity_worst", "precision at capacity (worst case of ties)",
         bar.min_precision_at_capacity, ">=", None),
        ("recall_at_capacity_worst", "recall at capacity (worst case of ties)",
         bar.min_recall_at_capacity, ">=", None),
        ("ece", "expected calibration error", bar.max_calibration_error, "<=", None),
        ("roc_auc", "ROC-AUC", bar.min_roc_auc, ">=", None),
    ]
    checks = []
    for key, desc, threshold, direction, _ in specs:
        if threshold is None:
            continue
        checks.append(_check(key, desc, _value(metrics, model, key), threshold, direction))
    if bar.min_pr_auc_lift_over_base_rate is not None:
        pr = _value(metrics, model, "pr_auc")
        lift = None if pr is None else pr / metrics["base_rate"]
        checks.append(_check("pr_auc_over_base_rate", "PR-AUC over the base rate", lift,
                             bar.min_pr_auc_lift_over_base_rate, ">="))
    if bar.must_beat_rule_baseline:
        # Judged over the whole ranking: precision at capacity rests on a few dozen
        # flags in the test period, too few to tell two models apart reliably.
        ref = metrics.get("reference")
        lift = metrics["lift_over_reference"].get(model, {}).get("pr_auc")
        value = None if lift is None or ref is None else lift["value"]
        checks.append(_check("pr_auc_lift_over_rule", "PR-AUC over the rule baseline's",
                             value, 1.0, ">"))
    return PassBarResult(model=model, checks=checks)


def _check(metric: str, desc: str, value: float | None, threshold: float,
           direction: str) -> BarCheck:
    if value is None or not math.isfinite(value):
        ok = False
    elif direction == ">=":
        ok = value >= threshold
    elif direction == ">":
        ok = value > threshold
    else:
        ok = value <= threshold
    return BarCheck(metric, desc, value, threshold, direction, bool(ok))


def check_bar_reachable(bar: Any, flags_per_month: int, positives_per_month: float) -> None:
    """Raise :class:`PassBarError` if no model could meet the bar on this data.

    With ``k`` flags and ``P`` escalations a month, precision can be at most
    ``P / k`` and recall at most ``k / P``.

    Parameters
    ----------
    bar : PassBarConfig
    flags_per_month : int
        Flags per month for the cohort.
    positives_per_month : float
        Mean positives per as-of month for the whole cohort.
    """
    k, pos = flags_per_month, positives_per_month
    best_precision = min(1.0, pos / k) if k else 0.0
    best_recall = min(1.0, k / pos) if pos else 0.0
    if bar.min_precision_at_capacity is not None and bar.min_precision_at_capacity > best_precision:
        raise PassBarError(UNREACHABLE_PRECISION.format(
            bar=bar.min_precision_at_capacity, k=k, pos=pos, best=best_precision))
    if bar.min_recall_at_capacity is not None and bar.min_recall_at_capacity > best_recall:
        raise PassBarError(UNREACHABLE_RECALL.format(
            bar=bar.min_recall_at_capacity, k=k, pos=pos, best=best_recall))
