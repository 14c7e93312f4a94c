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


class _SpyLogistic:
    """A logistic regression that remembers the rows (column ``row``) it fits and scores."""

    def __new__(cls):
        from sklearn.linear_model import LogisticRegression

        class Spy(LogisticRegression):
            log: list = []

            def fit(self, X, y, sample_weight=None):
                self.fitted_rows_ = np.asarray(X["row"])
                return super().fit(X[["a"]], y)

            def predict_proba(self, X):
                Spy.log.append((self.fitted_rows_, np.asarray(X["row"])))
                return super().predict_proba(X[["a"]])

        Spy.log = []
        return Spy()


def _families_world(n_families=400, dates=8, seed=0):
    rng = np.random.default_rng(seed)
    fam = np.repeat([f"F{i:04d}" for i in range(n_families)], dates)
    as_of = np.tile(pd.date_range("2021-01-01", periods=dates, freq="MS"), n_families)
    a = rng.normal(size=len(fam))
    y = (rng.random(len(fam)) < 1 / (1 + np.exp(-(-1.0 + a)))).astype(int)
    X = pd.DataFrame({"a": a, "row": np.arange(len(fam))})
    return X, y, as_of, fam


def test_calibration_rows_are_scored_by_models_that_never_saw_their_family():
    from earlywarning.models._calibration import family_folds

    X, y, as_of, fam = _families_world()
    spy = _SpyLogistic()
    model = TemporalCalibratedClassifier(spy, method="isotonic", fraction=0.25,
                                         family_folds=4).fit(X, y, as_of=as_of, groups=fam)
    assert model.calibration_rows_.startswith("later dates, scored by models")
    later = calibration_slice(y, as_of, 0.25)
    fold = family_folds(fam, 4)
    scored = np.zeros(len(y), dtype=int)
    for fitted, rows in type(spy).log:
        assert not later[fitted].any()  # no model learns from the calibrating dates
        assert later[rows].all()
        assert not set(fold[rows]) & set(fold[fitted])  # nor from the families it scores
        scored[rows] += 1
    np.testing.assert_array_equal(scored, later.astype(int))  # each scored once
    # the returned model learns from the earlier dates of every family
    np.testing.assert_array_equal(np.sort(model.estimator_.fitted_rows_), np.flatnonzero(~later))
    # a family is in one fold, whatever the row order, and the folds are about even
    by_family = pd.Series(fold).groupby(fam).agg(["min", "max"])
    assert (by_family["min"] == by_family["max"]).all()
    assert by_family["min"].value_counts().min() > 60
    np.testing.assert_array_equal(fold, family_folds(fam[::-1], 4)[::-1])


def test_without_families_or_with_a_fold_lacking_an_outcome_the_later_dates_calibrate():
    X, y, as_of, fam = _families_world()
    model = TemporalCalibratedClassifier(_SpyLogistic(), method="sigmoid").fit(
        X, y, as_of=as_of)
    assert model.calibration_rows_ == "later dates"
    y_rare = np.zeros_like(y)
    y_rare[fam == "F0000"] = 1  # the only positives: one family, so one fold has none
    model = TemporalCalibratedClassifier(_SpyLogistic(), method="sigmoid").fit(
        X, y_rare, as_of=as_of, groups=fam)
    assert model.calibration_rows_ == "later dates"
