"""Calibration on a later slice of training time makes "risk 18%" mean 18 in 100."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from earlywarning.models import (
    LightGBMRiskClassifier,
    TemporalCalibratedClassifier,
    calibration_slice,
    expected_calibration_error,
)


def test_worked_example_calibrates_on_the_last_quarter_of_dates():
    dates = pd.date_range("2020-01-01", "2021-12-01", freq="MS")  # 24 monthly dates
    as_of = np.repeat(dates, 3)
    mask = calibration_slice(np.zeros(len(as_of)), as_of, 0.25)
    cal_dates = sorted(set(as_of[mask]))
    assert cal_dates[0] == pd.Timestamp("2021-07-01")
    assert cal_dates[-1] == pd.Timestamp("2021-12-01")
    assert len(cal_dates) == 6
    assert max(as_of[~mask]) == pd.Timestamp("2021-06-01")


def test_one_as_of_date_cannot_be_split_in_time():
    with pytest.raises(ValueError, match="needs at least two"):
        calibration_slice(np.zeros(5), np.repeat(pd.Timestamp("2021-01-01"), 5), 0.25)


def _overconfident_world(n=40_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    p = 1 / (1 + np.exp(-(-3.0 + 1.5 * x[:, 0])))
    y = (rng.random(n) < p).astype(int)
    as_of = np.repeat(pd.date_range("2020-01-01", periods=20, freq="MS"), n // 20)
    return pd.DataFrame(x, columns=["a", "b", "c"]), y, as_of, p


def test_calibrated_risk_matches_observed_rates():
    X, y, as_of, _ = _overconfident_world()
    # deep trees with few samples per leaf overfit: raw probabilities are too extreme
    base = LightGBMRiskClassifier(n_estimators=200, num_leaves=63, min_child_samples=5,
                                  learning_rate=0.2)
    Xt, yt, _, _ = _overconfident_world(seed=1)
    raw = base.fit(X[as_of < pd.Timestamp("2021-04-01")],
                   y[as_of < pd.Timestamp("2021-04-01")]).predict_proba(Xt)[:, 1]
    cal = TemporalCalibratedClassifier(base, method="isotonic", fraction=0.25).fit(
        X, y, as_of=as_of)
    risk = cal.predict_proba(Xt)[:, 1]
    assert expected_calibration_error(yt, risk) < 0.5 * expected_calibration_error(yt, raw)
    assert expected_calibration_error(yt, risk) < 0.01
    # "18 in 100": among children given 10-30% risk, the observed rate is close to the mean risk
    band = (risk > 0.1) & (risk < 0.3)
    assert abs(yt[band].mean() - risk[band].mean()) < 0.03


def test_sigmoid_calibration_keeps_the_ranking():
    X, y, as_of, _ = _overconfident_world(n=8000)
    cal = TemporalCalibratedClassifier(LightGBMRiskClassifier(n_estimators=30), "sigmoid").fit(
        X, y, as_of=as_of)
    risk = cal.predict_proba(X)[:, 1]
    rank = cal.ranking_score(X)
    order = np.argsort(rank)
    assert np.all(np.diff(risk[order]) >= -1e-12)


def test_model_never_sees_the_calibration_dates():
    X, y, as_of, _ = _overconfident_world(n=8000)
    cal = TemporalCalibratedClassifier(LightGBMRiskClassifier(n_estimators=10), fraction=0.25)
    cal.fit(X, y, as_of=as_of)
    early = as_of < pd.Timestamp("2021-04-01")  # the first 15 of 20 dates
    alone = LightGBMRiskClassifier(n_estimators=10).fit(X[early], y[early])
    assert np.array_equal(alone.predict_proba(X), cal.estimator_.predict_proba(X))


def test_unknown_method_names_the_config_key():
    X, y, as_of, _ = _overconfident_world(n=2000)
    with pytest.raises(ValueError, match=r"model.calibration.method = 'beta'"):
        TemporalCalibratedClassifier(LightGBMRiskClassifier(), method="beta").fit(X, y)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid", "none"])
def test_risk_and_rank_equal_the_separate_methods(method):
    from earlywarning.models import PointsRuleClassifier

    X, y, as_of, _ = _overconfident_world(n=4000)
    X = X.assign(a=np.floor(np.abs(X["a"]) * 2))  # counts, so the rule ties
    for base in (LightGBMRiskClassifier(n_estimators=20), PointsRuleClassifier()):
        model = TemporalCalibratedClassifier(base, method=method).fit(X, y, as_of=as_of)
        risk, rank = model.risk_and_rank(X)
        assert np.array_equal(risk, model.predict_proba(X)[:, 1])
        assert np.array_equal(rank, model.ranking_score(X))
