"""Fairness audit and governance: who a model flags and who it misses, by group.

The audit uses Fairlearn's ``MetricFrame`` for every group metric and a
vectorised bootstrap for their confidence intervals; small groups are shown
as "too few to say", never as a confident number.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names below, imported only when used (Fairlearn is slow to load)
    from ._approval import ApprovalError, ApprovalRecord, approve, read_approvals, require_champion
    from ._audit import OVERALL, AuditResult, AuditSettings, audit, point_estimates
    from ._bias import DetectionResult, bias_detection_experiment
    from ._data import (
        NOT_RECORDED,
        STANDARD_ATTRIBUTES,
        AuditData,
        attribute_label,
        flags_from_rule,
        prepare_audit_data,
    )
    from ._metrics import METRIC_FUNCTIONS, METRIC_INFO, METRICS
    from ._plots import calibration_by_group, capacity_curve, metric_bars
    from ._report import ReportInputs, plain_disparities, render_ethics_report
    from ._run import AuditOutput, audit_run, audit_scores_file, settings_from_config
    from ._simulate import simulate_scores
    from ._threshold import capacity_curves, equal_miss_rate_thresholds, per_group_thresholds

_WHERE = {
    "ApprovalError": "_approval",
    "ApprovalRecord": "_approval",
    "AuditData": "_data",
    "AuditOutput": "_run",
    "AuditResult": "_audit",
    "AuditSettings": "_audit",
    "DetectionResult": "_bias",
    "METRICS": "_metrics",
    "METRIC_FUNCTIONS": "_metrics",
    "METRIC_INFO": "_metrics",
    "NOT_RECORDED": "_data",
    "OVERALL": "_audit",
    "ReportInputs": "_report",
    "STANDARD_ATTRIBUTES": "_data",
    "approve": "_approval",
    "attribute_label": "_data",
    "audit": "_audit",
    "audit_run": "_run",
    "audit_scores_file": "_run",
    "bias_detection_experiment": "_bias",
    "calibration_by_group": "_plots",
    "capacity_curve": "_plots",
    "capacity_curves": "_threshold",
    "equal_miss_rate_thresholds": "_threshold",
    "flags_from_rule": "_data",
    "metric_bars": "_plots",
    "per_group_thresholds": "_threshold",
    "plain_disparities": "_report",
    "point_estimates": "_audit",
    "prepare_audit_data": "_data",
    "read_approvals": "_approval",
    "render_ethics_report": "_report",
    "require_champion": "_approval",
    "settings_from_config": "_run",
    "simulate_scores": "_simulate",
}

__all__ = [
    "ApprovalError",
    "ApprovalRecord",
    "AuditOutput",
    "DetectionResult",
    "ReportInputs",
    "calibration_by_group",
    "capacity_curve",
    "metric_bars",
    "plain_disparities",
    "render_ethics_report",
    "bias_detection_experiment",
    "approve",
    "audit_run",
    "audit_scores_file",
    "capacity_curves",
    "equal_miss_rate_thresholds",
    "per_group_thresholds",
    "read_approvals",
    "require_champion",
    "settings_from_config",
    "NOT_RECORDED",
    "OVERALL",
    "STANDARD_ATTRIBUTES",
    "METRICS",
    "METRIC_FUNCTIONS",
    "METRIC_INFO",
    "AuditData",
    "AuditResult",
    "AuditSettings",
    "attribute_label",
    "audit",
    "flags_from_rule",
    "point_estimates",
    "prepare_audit_data",
    "simulate_scores",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use (PEP 562)."""
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    globals()[name] = value
    return value
