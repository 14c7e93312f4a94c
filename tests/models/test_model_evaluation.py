"""Evaluation metrics: equal to scikit-learn's, honest about ties, with CIs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from earlywarning.models import (
    EvaluationError,
    ModelScores,
    average_precision,
    capacity_counts,
    evaluate_models,
    expected_calibration_error,
    roc_auc,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score

labels_and_scores = st.integers(5, 200).flatmap(lambda n: st.tuples(
    st.lists(st.integers(0, 1), min_size=n, max_size=n),
    st.lists(st.integers(0, 6), min_size=n, max_size=n),  # few values: many ties
))


def test_capacity_tie_worked_example():
    y = np.array([1, 1, 0, 0, 1])
    s = np.array([3.0, 2, 2, 2, 1])
    c = capacity_counts(y, s, 2)
    assert (c["tp_worst"], c["tp_best"]) == (1.0, 2.0)
    assert c["tp_expected"] == pytest.approx(1 + 1 / 3)
    assert c["tied_at_cut"] == 3


def test_all_tied_scores_give_the_full_range():
    y = np.array([1] * 10 + [0] * 90)
    c = capacity_counts(y, np.zeros(100), 20)
    assert c["tp_worst"] == 0 and c["tp_best"] == 10
    assert c["tp_expected"] == pytest.approx(2.0)


@settings(max_examples=60, deadline=None)
@given(data=labels_and_scores, k=st.integers(0, 250), seed=st.integers(0, 1000))
def test_tie_cases_bracket_any_sort_order(data, k, seed):
    y, s = (np.array(v, dtype=float) for v in data)
    c = capacity_counts(y, s, k)
    assert c["tp_worst"] <= c["tp_expected"] + 1e-9 <= c["tp_best"] + 2e-9
    # any concrete tie-break lies between worst and best
    order = np.lexsort((np.random.default_rng(seed).random(len(s)), -s))
    tp = y[order[: min(k, len(s))]].sum()
    assert c["tp_worst"] - 1e-9 <= tp <= c["tp_best"] + 1e-9
    perm = np.random.default_rng(seed).permutation(len(s))
    assert capacity_counts(y[perm], s[perm], k) == c


@settings(max_examples=60, deadline=None)
@given(data=labels_and_scores)
def test_ranking_metrics_equal_scikit_learn(data):
    y, s = (np.array(v) for v in data)
    if y.min() == y.max():
        return
    assert average_precision(y, s.astype(float)) == pytest.approx(
        average_precision_score(y, s))
    assert roc_auc(y, s.astype(float)) == pytest.approx(roc_auc_score(y, s))


def test_ece_is_zero_when_each_bin_matches_its_rate():
    y = np.array([0, 0, 0, 1] * 25 + [0, 1] * 50)
    risk = np.array([0.25] * 100 + [0.5] * 100)
    assert expected_calibration_error(y, risk, 10) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(200, 0.9), 10) > 0.4


def _test_frame(n_fam=400, dates=3, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for d in pd.date_range("2023-01-01", periods=dates, freq="MS"):
        for f in range(n_fam):
            for c in range(2):
                rows.append((f"P{f}_{c}", f"F{f}", d))
    frame = pd.DataFrame(rows, columns=["person_id", "family_id", "as_of"])
    p = rng.beta(1, 12, len(frame))
    frame["label"] = (rng.random(len(frame)) < p).astype(int)
    return frame, p


def _scores(frame, p, seed=1):
    rng = np.random.default_rng(seed)
    noisy = np.clip(p + rng.normal(0, 0.05, len(p)), 0.001, 0.999)
    points = np.round(p * 10)
    return {
        "lightgbm": ModelScores(noisy, noisy),
        "rule": ModelScores(np.full(len(p), frame["label"].mean()), points),
        "oracle": ModelScores(p, p),
    }


def test_evaluate_models_reports_base_rate_lifts_and_oracle_share():
    frame, p = _test_frame()
    caps = {d: 20 for d in frame["as_of"].unique()}
    m = evaluate_models(frame, _scores(frame, p), caps, n_bootstrap=50, seed=3)
    assert m["base_rate"] == pytest.approx(frame["label"].mean())
    assert m["no_skill_pr_auc"] == m["base_rate"]
    lgb = m["models"]["lightgbm"]
    assert lgb["flagged_at_capacity"]["value"] == 60
    for key in ("pr_auc", "precision_at_capacity_expected", "roc_auc", "ece"):
        v = lgb[key]
        assert v["ci_low"] <= v["value"] <= v["ci_high"]
    rule = m["models"]["rule"]
    assert rule["precision_at_capacity_worst"]["value"] <= rule[
        "precision_at_capacity_best"]["value"]
    lift = m["lift_over_reference"]["lightgbm"]["pr_auc"]["value"]
    assert lift == pytest.approx(lgb["pr_auc"]["value"] / rule["pr_auc"]["value"])
    share = m["oracle_share"]["lightgbm"]["pr_auc"]["value"]
    assert share == pytest.approx(lgb["pr_auc"]["value"] / m["models"]["oracle"]["pr_auc"]["value"])
    assert len(m["by_month"]["lightgbm"]) == 3
    assert m["stability"]["lightgbm"]["pr_auc_sd"] is not None


def test_the_recorded_oracle_gets_its_own_share_and_is_no_model():
    frame, p = _test_frame()
    caps = {d: 20 for d in frame["as_of"].unique()}
    scores = _scores(frame, p)
    rng = np.random.default_rng(4)
    blurred = np.clip(p + rng.normal(0, 0.02, len(p)), 0.001, 0.999)
    scores["oracle_recorded"] = ModelScores(blurred, blurred)
    m = evaluate_models(frame, scores, caps, n_bootstrap=20, seed=3,
                        recorded_oracle="oracle_recorded")
    rec = m["oracle_recorded_share"]["lightgbm"]["pr_auc"]["value"]
    assert rec == pytest.approx(m["models"]["lightgbm"]["pr_auc"]["value"]
                                / m["models"]["oracle_recorded"]["pr_auc"]["value"])
    # neither oracle is measured against the other: they are references, not models
    assert "oracle" not in m["oracle_recorded_share"]
    assert "oracle_recorded" not in m["oracle_share"]


def test_evaluation_is_reproducible_for_a_seed():
    frame, p = _test_frame(n_fam=150)
    caps = {d: 10 for d in frame["as_of"].unique()}
    a = evaluate_models(frame, _scores(frame, p), caps, n_bootstrap=20, seed=9)
    b = evaluate_models(frame, _scores(frame, p), caps, n_bootstrap=20, seed=9)
    assert a == b


def test_test_period_without_positives_is_a_clear_error():
    frame, p = _test_frame(n_fam=50)
    frame["label"] = 0
    with pytest.raises(EvaluationError, match=r"test period 2023-01-01, 2023-02-01, "
                                              r"2023-03-01 has no positive labels among 300"):
        evaluate_models(frame, _scores(frame, p), {d: 5 for d in frame["as_of"].unique()})


def test_missing_capacity_for_a_test_date_is_an_error():
    frame, p = _test_frame(n_fam=50)
    with pytest.raises(EvaluationError, match="no capacity given for test dates"):
        evaluate_models(frame, _scores(frame, p), {pd.Timestamp("2023-01-01"): 5})


def test_calibration_points_can_cut_finer_at_the_top():
    from earlywarning.models._evaluation import calibration_points

    risk = (np.arange(1000) + 0.5) / 1000
    y = (np.arange(1000) % 4 == 0).astype(int)
    even = calibration_points(y, risk, n_bins=4)
    assert list(even["n"]) == [250, 250, 250, 250]
    top = calibration_points(y, risk, quantiles=(0.5, 0.9, 0.99))
    assert list(top["n"]) == [500, 400, 90, 10]
    assert top["mean_risk"].is_monotonic_increasing
    np.testing.assert_allclose(top["mean_risk"].iloc[-1], risk[-10:].mean())
    np.testing.assert_allclose((top["observed_rate"] * top["n"]).sum(), y.sum())


def test_the_risk_given_to_the_flags_is_the_mean_risk_of_the_top_k_each_month():
    frame, p = _test_frame()
    caps = {d: 20 for d in frame["as_of"].unique()}
    scores = _scores(frame, p)
    m = evaluate_models(frame, scores, caps, n_bootstrap=20, seed=3)
    risk = scores["lightgbm"].risk
    expected = np.mean([np.sort(risk[(frame["as_of"] == d).to_numpy()])[-20:]
                        for d in caps])
    got = m["models"]["lightgbm"]["mean_risk_at_capacity"]
    assert got["value"] == pytest.approx(expected)
    assert got["ci_low"] <= got["value"] <= got["ci_high"]
    # the oracle is calibrated by construction: its flags' risk matches their outcome rate
    oracle = m["models"]["oracle"]
    assert abs(oracle["mean_risk_at_capacity"]["value"]
               - oracle["precision_at_capacity_expected"]["value"]) < 0.1
