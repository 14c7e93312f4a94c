"""Explanations: SHAP contributions grouped into plain-English reasons."""

from __future__ import annotations

import re

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from _explain_fixtures import DICTIONARY, FEATURES, make_feature_table, train_model
from earlywarning.models.explain import (
    FeatureDictionary,
    FeatureEntry,
    ReasonSettings,
    explain,
    model_feature_names,
    predict_risk,
    render_meaning,
    shap_contributions,
    underlying_boosters,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression


@pytest.fixture(scope="module")
def table():
    features, truth = make_feature_table(3000, ("2023-01-01",), seed=1)
    return features


@pytest.fixture(scope="module")
def model(table):
    return train_model(table)


@pytest.fixture(scope="module")
def dictionary():
    return FeatureDictionary.from_records(DICTIONARY)


@pytest.fixture(scope="module")
def explained(model, table, dictionary):
    risk = predict_risk(model, table)
    top = table.iloc[np.argsort(-risk)[:300]].reset_index(drop=True)
    return top, explain(model, top, dictionary)


def _number(text: str) -> float:
    if text.lower().startswith("no "):  # a count of zero: "No referrals ..."
        return 0.0
    match = re.search(r"-?\d+(?:\.\d+)?%?", text)
    assert match, text
    s = match.group(0)
    return float(s[:-1]) / 100 if s.endswith("%") else float(s)


def test_contributions_sum_to_the_boosters_raw_score(model, table):
    contrib = shap_contributions(model, table)
    booster = underlying_boosters(model)[0]
    raw = booster.predict(table[FEATURES].to_numpy(np.float32), raw_score=True)
    np.testing.assert_allclose(contrib.sum(axis=1), raw, atol=1e-9)


def test_raw_scores_equal_the_summed_contributions(model, table):
    from earlywarning.models.explain import raw_scores

    np.testing.assert_allclose(raw_scores(model, table),
                               shap_contributions(model, table).sum(axis=1), atol=1e-9)


def test_calibrated_risk_never_falls_as_the_raw_score_rises(model, table):
    raw = shap_contributions(model, table).sum(axis=1).to_numpy()
    risk = predict_risk(model, table)
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(risk[order]) >= -1e-12)


def test_number_in_each_reason_equals_the_cited_feature_value(explained, dictionary):
    rows, exp = explained
    values = rows.set_index("person_id")
    cited = exp.reasons[exp.reasons.direction.isin(["risk", "protective"])
                        & (exp.reasons.feature != "")]
    assert len(cited) > 300
    for r in cited.itertuples():
        parts = r.text.rsplit(" (", 1)[0].split("; ")
        names = r.feature.split(",")
        assert len(parts) == len(names)
        for part, name in zip(parts, names, strict=True):
            value = float(values.loc[r.key, name])
            template = dictionary.entries[name].meaning
            shown = _number(part)
            tol = 0.005 if "%}" in template else 1e-9
            assert shown == pytest.approx(value, abs=tol), (part, name, value)


def test_reason_direction_matches_the_sign_of_its_contribution(explained):
    rows, exp = explained
    contrib = exp.contributions.reset_index(drop=True)
    contrib.index = rows["person_id"]
    for r in exp.reasons.itertuples():
        if r.direction == "risk":
            assert r.contribution > 0 and r.text.endswith("(raises risk)")
        elif r.direction == "protective":
            assert r.contribution < 0 and r.text.endswith("(lowers risk)")
        if r.direction in ("risk", "protective") and r.feature:
            sign = 1 if r.direction == "risk" else -1
            for name in r.feature.split(","):
                assert sign * contrib.loc[r.key, name] > 0


def test_one_reason_per_agency_equal_to_the_agencys_summed_contributions(explained, dictionary):
    rows, exp = explained
    contrib = exp.contributions.reset_index(drop=True)
    contrib.index = rows["person_id"]
    scored = exp.reasons[exp.reasons.direction.isin(["risk", "protective"])]
    assert not scored.duplicated(["key", "agency"]).any()
    police = [n for n in FEATURES if dictionary.entries[n].group == "police"]
    for r in scored[scored.agency == "police"].itertuples():
        assert r.contribution == pytest.approx(contrib.loc[r.key, police].sum())
    assert (scored.agency == "police").sum() > 10


def test_reasons_are_ordered_risk_then_protective_then_missing(explained):
    _, exp = explained
    rank = {"risk": 0, "protective": 1, "missing_data": 2}
    for _, g in exp.reasons.groupby("key"):
        g = g.sort_values("order")
        assert list(g["order"]) == list(range(1, len(g) + 1))
        kinds = [rank[d] for d in g["direction"]]
        assert kinds == sorted(kinds)
        risk = g[g.direction == "risk"]["contribution"].to_numpy()
        assert np.all(np.diff(risk) <= 0)
        assert len(risk) <= 3 and (g.direction == "protective").sum() <= 2


def test_no_coverage_is_a_missing_data_reason_not_a_protective_one(model, table, dictionary):
    rows = table[table.coverage_housing == 0].head(40)
    reasons = explain(model, rows, dictionary).reasons
    housing = reasons[reasons.agency == "housing"]
    assert set(housing.direction) == {"missing_data"}
    assert set(housing.key) == set(rows.person_id)
    assert set(housing.text) == {"No housing data for this family: coverage 0%"}


def test_partial_coverage_is_stated_beside_the_agencys_reason(model, table, dictionary):
    rows = table[np.isclose(table.coverage_housing, 0.3)].head(40)
    reasons = explain(model, rows, dictionary).reasons
    missing = reasons[(reasons.agency == "housing") & (reasons.direction == "missing_data")]
    assert set(missing.key) == set(rows.person_id)
    assert set(missing.text) == {"Partial housing data for this family: coverage 30%"}


def test_reason_counts_follow_the_settings(model, table, dictionary):
    reasons = explain(model, table.head(200), dictionary,
                      settings=ReasonSettings(n_risk=1, n_protective=0)).reasons
    counts = reasons.groupby(["key", "direction"]).size().unstack(fill_value=0)
    assert counts["risk"].max() == 1
    assert "protective" not in counts


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.integers(0, 10_000).map(float),
                 st.floats(0, 1000, allow_nan=False).map(lambda v: round(v, 2))))
def test_rendered_number_reads_back_as_the_value(value):
    entry = FeatureEntry(name="x_count_365d", meaning="{value} events in the last 12 months",
                         source_agency="police", direction="risk")
    assert _number(render_meaning(entry, value)) == pytest.approx(value, abs=1e-9)


def test_a_count_of_zero_reads_no():
    entry = FeatureEntry(name="yc", meaning="{value} young-carer {assessment|assessments} of "
                         "the child in the last 3 years", source_agency="young_carers",
                         direction="protective")
    assert render_meaning(entry, 0) == "no young-carer assessments of the child in the last 3 years"
    assert render_meaning(entry, 1) == "1 young-carer assessment of the child in the last 3 years"
    share = FeatureEntry(name="att", meaning="Attended {value:.0%} of sessions",
                         source_agency="school", direction="protective")
    assert render_meaning(share, 0) == "Attended 0% of sessions"


def test_format_spec_in_the_template_is_honoured():
    entry = FeatureEntry(name="att", meaning="Attended {value:.0%} of school sessions this year",
                         source_agency="school", direction="protective")
    assert render_meaning(entry, 0.96) == "Attended 96% of school sessions this year"


def test_boosters_are_found_inside_wrappers(model, table):
    plain = lgb.LGBMClassifier(n_estimators=5, n_jobs=1, verbose=-1)
    plain.fit(table[FEATURES], table["label"])
    assert len(underlying_boosters(plain)) == 1
    assert len(underlying_boosters(plain.booster_)) == 1
    assert len(underlying_boosters(model)) == 1
    assert model_feature_names(model) == FEATURES


def test_a_model_without_a_booster_cannot_be_explained(table, dictionary):
    lr = LogisticRegression(max_iter=200).fit(table[FEATURES], table["label"].astype(int))
    with pytest.raises(TypeError, match="no LightGBM booster found inside it"):
        explain(lr, table.head(5), dictionary)


def test_feature_table_missing_model_columns_is_named(model, table, dictionary):
    with pytest.raises(ValueError, match="lacks 1 column.*housing_crisis_count_365d"):
        explain(model, table.drop(columns=["housing_crisis_count_365d"]).head(5), dictionary)


def test_feature_missing_from_the_dictionary_is_named(model, table):
    partial = FeatureDictionary.from_records(
        [d for d in DICTIONARY if d["name"] != "age_years"], source="dict.json")
    with pytest.raises(ValueError, match=r"dict.json: .*does not describe: age_years"):
        explain(model, table.head(5), partial)


def test_bad_dictionary_entries_are_named():
    with pytest.raises(ValueError, match=r"d.json: entry 0 \('a'\) has no 'meaning'"):
        FeatureDictionary.from_records([{"name": "a", "source_agency": "x",
                                         "direction": "risk"}], source="d.json")
    with pytest.raises(ValueError, match="direction 'bad'"):
        FeatureDictionary.from_records([{"name": "a", "meaning": "m", "source_agency": "x",
                                         "direction": "bad"}], source="d.json")


def test_rows_are_explained_independently_of_row_order(model, table, dictionary):
    rows = table.head(50)
    a = explain(model, rows, dictionary).reasons
    b = explain(model, rows.iloc[::-1], dictionary).reasons
    key = ["key", "order"]
    pd.testing.assert_frame_equal(a.sort_values(key).reset_index(drop=True),
                                  b.sort_values(key).reset_index(drop=True))


def test_linked_period_counts_are_full_coverage_and_context_keeps_its_agency():
    from earlywarning.models._reasons import build_reasons

    d = FeatureDictionary.from_records([
        {"name": "police_da_count_365d", "meaning": "{value} DA notifications",
         "source_agency": "police", "direction": "risk", "group": "family_police"},
        {"name": "coverage_police_open_now", "meaning": "{value} linked periods",
         "source_agency": "police", "direction": "coverage", "group": "coverage"},
        {"name": "early_help_episodes_count_365d", "meaning": "{value} Early Help episodes",
         "source_agency": "early_help", "direction": "context", "group": "early_help"},
        {"name": "child_age_years_now", "meaning": "the child is aged {value:age}",
         "source_agency": "csc", "direction": "context", "group": "context"},
    ])
    values = pd.DataFrame({"police_da_count_365d": [3.0, 0.0],
                           "coverage_police_open_now": [2.0, 0.0],
                           "early_help_episodes_count_365d": [1.0, 1.0],
                           "child_age_years_now": [15.0, 15.0]})
    contrib = np.array([[0.8, 0.05, -0.3, 0.2], [-0.2, -0.1, -0.3, 0.2]])
    reasons = build_reasons(["a", "b"], values, contrib, d)
    a = reasons[reasons.key == "a"].set_index("agency")
    assert "missing_data" not in set(a.direction)
    assert a.loc["police", "text"] == "3 DA notifications (raises risk)"
    assert a.loc["police", "contribution"] == pytest.approx(0.85)
    assert a.loc["early_help", "direction"] == "protective"
    assert a.loc["context", "text"] == "The child is aged 15 years (raises risk)"
    b = reasons[reasons.key == "b"].set_index("agency")
    assert b.loc["police", "direction"] == "missing_data"
    assert b.loc["police", "text"] == "No police data for this family: coverage 0%"
