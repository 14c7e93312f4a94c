"""The estimators follow scikit-learn's contract and behave as documented."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from earlywarning.models import (
    LightGBMRiskClassifier,
    PointsRuleClassifier,
    PrevalenceClassifier,
    ScaledLogisticRegression,
    TemporalCalibratedClassifier,
)
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

SMALL_LGBM = LightGBMRiskClassifier(n_estimators=20, min_child_samples=2, num_leaves=7)


@parametrize_with_checks([
    SMALL_LGBM,
    ScaledLogisticRegression(),
    PointsRuleClassifier(),
    PrevalenceClassifier(),
    TemporalCalibratedClassifier(ScaledLogisticRegression(), method="sigmoid"),
])
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


def _data(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "police_da_parent_count_365d": rng.poisson(0.3, n).astype(float),
        "csc_referral_count_365d": rng.poisson(0.2, n).astype(float),
        "noise_365d": rng.normal(size=n),
    })
    logit = -3 + 1.2 * X["police_da_parent_count_365d"] + 0.8 * X["csc_referral_count_365d"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_rule_points_follow_the_declared_table():
    X, y = _data()
    rule = PointsRuleClassifier(points={"police_da_*": 2, "csc_referral_count_365d": 1},
                                cap=3).fit(X, y)
    row = pd.DataFrame({"police_da_parent_count_365d": [5.0], "csc_referral_count_365d": [1.0],
                        "noise_365d": [9.0]})
    # police capped at 3 → 3×2 = 6, plus 1 referral → 7; noise not in the table
    assert rule.ranking_score(row)[0] == 7.0


def test_rule_risk_is_monotone_in_points():
    X, y = _data()
    rule = PointsRuleClassifier(points={"police_da_*": 1, "csc_*": 1}).fit(X, y)
    pts = rule.ranking_score(X)
    risk = rule.predict_proba(X)[:, 1]
    order = np.argsort(pts)
    assert np.all(np.diff(risk[order]) >= -1e-12)


def test_rule_pattern_matching_nothing_is_a_clear_error():
    X, y = _data()
    with pytest.raises(ValueError, match=r"pattern 'housing_\*' matches no feature column"):
        PointsRuleClassifier(points={"housing_*": 1}).fit(X, y)


def test_prevalence_predicts_the_training_base_rate():
    X, y = _data()
    model = PrevalenceClassifier().fit(X, y)
    assert np.allclose(model.predict_proba(X)[:, 1], y.mean())


def test_one_class_training_data_is_a_clear_error():
    X, _ = _data(200)
    with pytest.raises(ValueError, match="only one class"):
        LightGBMRiskClassifier().fit(X, np.zeros(len(X), dtype=int))


def test_lightgbm_is_deterministic_for_a_seed():
    X, y = _data()
    a = clone(SMALL_LGBM).fit(X, y).predict_proba(X)
    b = clone(SMALL_LGBM).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)


def test_lightgbm_learns_the_signal_and_keeps_feature_names():
    X, y = _data()
    model = LightGBMRiskClassifier(n_estimators=100).fit(X, y)
    assert list(model.feature_names_in_) == list(X.columns)
    from earlywarning.models import roc_auc
    assert roc_auc(y, model.predict_proba(X)[:, 1]) > 0.7
    contrib = model.pred_contrib(X.head(5))
    assert contrib.shape == (5, 4)
    raw = model.booster_.predict(X.head(5).to_numpy(np.float32), raw_score=True)
    assert np.allclose(contrib.sum(axis=1), raw, atol=1e-5)


def test_lightgbm_fitted_to_probabilities_recovers_them_and_leaves_the_classifier_alone():
    rng = np.random.default_rng(3)
    X = pd.DataFrame({"a": rng.normal(size=6000), "b": rng.normal(size=6000)})
    p = 1 / (1 + np.exp(-(-2.0 + 1.5 * X["a"])))  # "b" carries nothing
    est = LightGBMRiskClassifier(n_estimators=150)
    booster = est.fit_to_probability(X, p)
    fitted = booster.predict(X.to_numpy(np.float32))
    assert fitted.min() >= 0 and fitted.max() <= 1  # probabilities, not log-odds
    assert np.abs(fitted - p).mean() < 0.02
    gain = booster.booster_.feature_importance("gain")
    assert gain[0] > 20 * gain[1]
    again = est.fit_to_probability(X, p).predict(X.to_numpy(np.float32))
    assert np.array_equal(fitted, again)  # deterministic for a seed
    assert not hasattr(est, "booster_")  # the classifier itself is not fitted
    with pytest.raises(ValueError, match="missing values"):
        est.fit_to_probability(X, np.where(X["a"] > 2, np.nan, p))


def test_logistic_handles_missing_values():
    X, y = _data()
    X.loc[X.index[:100], "noise_365d"] = np.nan
    proba = ScaledLogisticRegression().fit(X, y).predict_proba(X)
    assert np.isfinite(proba).all()
