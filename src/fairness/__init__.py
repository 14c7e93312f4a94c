"""Fairness audit and governance: who a model flags and who it misses, by group.

The audit uses Fairlearn's ``MetricFrame`` for every group metric and a
vectorised bootstrap for their confidence intervals; small groups are shown
as "too few to say", never as a confident number.
"""

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
