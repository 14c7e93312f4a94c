"""earlywarning.models: temporal splits, models, calibration, honest evaluation, tracking.

The public names, by stage:

* splits — :class:`RollingOriginSplitter` (time + family), :func:`check_no_leakage`;
* models — :class:`LightGBMRiskClassifier`, :class:`ScaledLogisticRegression`,
  :class:`PointsRuleClassifier`, :class:`PrevalenceClassifier`, calibrated by
  :class:`TemporalCalibratedClassifier`;
* evaluation — :func:`evaluate_models`, :func:`capacity_counts`;
* pass bar — :func:`check_pass_bar`, :func:`check_bar_reachable`;
* the whole run — :func:`train_pipeline`, :func:`evaluate_run`,
  :func:`run_ablation`, :func:`write_report` (imported on first use: they pull
  in MLflow and matplotlib);
* explained flags — :func:`score` / :func:`preview` (flags with risk, band,
  reasons and provenance), ``earlywarning.models.explain`` (SHAP reasons for
  and against),
  :func:`explanation_fidelity` (reasons against the synthetic LA's true drivers).
"""

import importlib
import os

# OpenMP threads that wait by spinning (the libgomp default) starve each other on a
# shared or busy machine: a 50,000 × 100 LightGBM fit took 313 s on two threads
# instead of 12 s. Passive waiting must be chosen before LightGBM or scikit-learn
# load the OpenMP runtime, so it is set here, before they are imported; an
# explicit OMP_WAIT_POLICY in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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

_LAZY = {
    "train_pipeline": "_training",
    "evaluate_run": "_rerun",
    "latest_run_dir": "_rerun",
    "build_estimator": "_training",
    "RunResult": "_training",
    "run_ablation": "_ablation",
    "AblationError": "_ablation",
    "write_report": "_report",
    "pr_curve_png": "_plots",
    "calibration_png": "_plots",
    "capacity_over_time_png": "_plots",
    "ablation_png": "_plots",
    "load_feature_table": "_features_io",
    "FeatureTable": "_features_io",
    "FeatureTableError": "_features_io",
    "TrackingError": "_tracking",
    "resolve_tracking_uri": "_tracking",
    "registered_model_name": "_tracking",
    "FeatureDictionary": "explain",
    "ReasonSettings": "explain",
    "score": "scoring",
    "preview": "scoring",
    "risk_band": "scoring",
    "ScoringError": "scoring",
    "ScoringResult": "scoring",
    "explanation_fidelity": "fidelity",
    "fidelity_for_run": "fidelity",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FeatureDictionary",
    "ReasonSettings",
    "ScoringError",
    "ScoringResult",
    "explanation_fidelity",
    "fidelity_for_run",
    "preview",
    "risk_band",
    "score",
    "AblationError",
    "FeatureTable",
    "FeatureTableError",
    "RunResult",
    "TrackingError",
    "build_estimator",
    "evaluate_run",
    "latest_run_dir",
    "load_feature_table",
    "registered_model_name",
    "resolve_tracking_uri",
    "run_ablation",
    "train_pipeline",
    "write_report",
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
