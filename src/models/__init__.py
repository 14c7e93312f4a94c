"""earlywarning.models: temporal splits, models, calibration, honest evaluation, tracking.

The public names, by stage:

* splits — :class:`RollingOriginSplitter` (time + family), :func:`check_no_leakage`;
* models — :class:`LightGBMRiskClassifier`, :class:`ScaledLogisticRegression`,
  :class:`PointsRuleClassifier`, :class:`PrevalenceClassifier`, calibrated by
  :class:`TemporalCalibratedClassifier`;
* evaluation — :func:`evaluate_models`, :func:`capacity_counts`;
* pass bar — :func:`check_pass_bar`, :func:`check_bar_reachable`;
* the whole run — :func:`train_pipeline`, :func:`evaluate_run`,
  :func:`run_ablation`, :func:`write_report`.
"""

from ._calibration import TemporalCalibratedClassifier, calibration_slice
from ._estimators import (
    LightGBMRiskClassifier,
    PointsRuleClassifier,
    PrevalenceClassifier,
    ScaledLogisticRegression,
)
from ._evaluation import (
    EvaluationError,
    ModelScores,
    average_precision,
    calibration_points,
    capacity_counts,
    evaluate_models,
    expected_calibration_error,
    roc_auc,
)
from ._passbar import (
    BarCheck,
    PassBarError,
    PassBarResult,
    check_bar_reachable,
    check_pass_bar,
)
from ._splits import (
    RollingOriginSplitter,
    SplitError,
    TemporalFold,
    assign_family_side,
    check_no_leakage,
)

__all__ = [
    "BarCheck",
    "EvaluationError",
    "LightGBMRiskClassifier",
    "ModelScores",
    "PassBarError",
    "PassBarResult",
    "PointsRuleClassifier",
    "PrevalenceClassifier",
    "RollingOriginSplitter",
    "ScaledLogisticRegression",
    "SplitError",
    "TemporalCalibratedClassifier",
    "TemporalFold",
    "assign_family_side",
    "average_precision",
    "calibration_points",
    "calibration_slice",
    "capacity_counts",
    "check_bar_reachable",
    "check_no_leakage",
    "check_pass_bar",
    "evaluate_models",
    "expected_calibration_error",
    "roc_auc",
]
