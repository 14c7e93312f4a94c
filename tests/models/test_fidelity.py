"""Explanation fidelity: do the reasons name the true drivers of the synthetic hazard?"""

from __future__ import annotations

import html
import json

import joblib
import numpy as np
import pandas as pd
import pytest
import yaml
from _explain_fixtures import DICTIONARY, make_feature_table, train_model
from earlywarning.models.explain import FeatureDictionary
from earlywarning.models.fidelity import (
    DRIVER_LABELS,
    DRIVERS,
    explanation_fidelity,
    feature_drivers,
    fidelity_for_run,
    fidelity_section_html,
    importance_by_driver,
    true_effect_by_driver,
)


@pytest.fixture(scope="module")
def setup():
    train, _ = make_feature_table(6000, ("2023-01-01", "2023-02-01"), seed=3)
    test, truth = make_feature_table(6000, ("2024-01-01", "2024-02-01"), seed=5)
    return train_model(train), test, truth, FeatureDictionary.from_records(DICTIONARY)


@pytest.fixture(scope="module")
def result(setup):
    model, test, truth, dictionary = setup
    return explanation_fidelity(model, test, dictionary, truth, capacity=300)


def test_reasons_name_the_true_largest_driver_on_a_known_hazard(result):
    assert result.n_flagged == 600
    assert result.top3_share >= 0.8
    assert result.top3_share_nameable >= 0.9
    assert result.top3_share_recorded >= 0.8 and result.n_recorded >= result.n_nameable
    assert result.n_nameable < result.n_flagged  # latent-driven children are not nameable


def test_importance_ranks_drivers_like_the_causal_model(result):
    assert result.n_drivers >= 8
    assert result.spearman >= 0.6


def test_fidelity_falls_when_the_truth_is_scrambled(setup, result):
    model, test, truth, dictionary = setup
    rng = np.random.default_rng(0)
    scrambled = truth.assign(driver_1=rng.permutation(truth["driver_1"].to_numpy()))
    worse = explanation_fidelity(model, test, dictionary, scrambled, capacity=300)
    assert worse.top3_share < result.top3_share - 0.3


def test_no_matching_child_months_is_an_error(setup):
    model, test, truth, dictionary = setup
    with pytest.raises(ValueError, match="no feature row matches a ground-truth child-month"):
        explanation_fidelity(model, test, dictionary, truth.assign(person_id="nobody"),
                             capacity=10)


def test_importance_splits_school_by_sign_and_age_by_value():
    mapping = feature_drivers(FeatureDictionary.from_records(DICTIONARY))
    contrib = pd.DataFrame({"school_attendance_rate_365d": [0.4, -0.2, -0.6],
                            "age_years": [0.3, 0.1, -0.5]})
    values = pd.DataFrame({"school_attendance_rate_365d": [0.7, 0.95, 0.99],
                           "age_years": [2.0, 8.0, 15.0]})
    imp = importance_by_driver(contrib, values, mapping)
    assert imp["school_absence"] == pytest.approx(0.4 / 3)
    assert imp["school_attendance_good"] == pytest.approx(0.8 / 3)
    assert imp["young_age"] == pytest.approx(0.3 / 3)
    assert imp["adolescence"] == pytest.approx(0.5 / 3)


def test_true_effect_is_the_rank_weighted_share_of_top_terms():
    truth = pd.DataFrame({"driver_1": ["domestic_abuse", "housing_crisis"],
                          "driver_2": ["housing_crisis", "deprivation"],
                          "driver_3": ["deprivation", "domestic_abuse"]})
    effect, how = true_effect_by_driver(truth)
    assert effect["domestic_abuse"] == pytest.approx((3 + 1) / 2)
    assert effect["housing_crisis"] == pytest.approx((2 + 3) / 2)
    assert effect["deprivation"] == pytest.approx((1 + 2) / 2)
    assert effect["youth_offending"] == 0
    assert "rank-weighted" in how


def test_every_observable_driver_is_measured_by_a_demo_feature():
    from earlywarning.data.schema import AGENCIES
    from earlywarning.features import LIBRARY, dictionary_entries
    from earlywarning.features.dictionary import coverage_spec

    entries = dictionary_entries([*LIBRARY, *(coverage_spec(a) for a in AGENCIES)])
    mapping = feature_drivers(FeatureDictionary.from_records(entries))
    measured = {d for rule in mapping.values() for d in rule.drivers}
    assert measured == set(DRIVERS) - {"latent_unrecorded"}
    assert not any(n.startswith("coverage_") for n in mapping)


def test_fidelity_for_a_run_folder_writes_its_figures(setup, tmp_path):
    model, test, truth, dictionary = setup
    run = tmp_path / "runs" / "fx" / "20240101T000000"
    run.mkdir(parents=True)
    features_dir = tmp_path / "features"
    (features_dir / "fx").mkdir(parents=True)
    test.to_parquet(features_dir / "fx" / "features.parquet", index=False)
    truth.to_parquet(tmp_path / "child_month.parquet", index=False)
    joblib.dump(model, run / "model.joblib")
    (run / "feature_dictionary.json").write_text(json.dumps(DICTIONARY))
    gt = str(tmp_path / "child_month.parquet")
    (run / "run.json").write_text(json.dumps({"ground_truth": gt}))
    (run / "resolved_config.yaml").write_text(yaml.safe_dump(
        {"name": "fx", "features": {"output_dir": str(features_dir)}}))
    preds = test[["person_id", "as_of"]].copy()
    preds["flagged"] = False
    preds.loc[preds.index[:50], "flagged"] = True
    preds.to_parquet(run / "test_predictions.parquet", index=False)
    result = fidelity_for_run(run)
    assert result is not None and result.n_flagged == 50
    stored = json.loads((run / "explanation_fidelity.json").read_text())
    assert stored["top3_share"] == pytest.approx(result.top3_share)
    section = fidelity_section_html(stored)
    assert f"{100 * result.top3_share:.0f}%" in section
    assert "Spearman" in section
    drivers = {d["driver"] for d in stored["per_driver"]}
    assert drivers and all(f"<td>{html.escape(DRIVER_LABELS[d])}</td>" in section for d in drivers)
    # the chance baseline: the same reasons against a shuffled truth, never written
    chance = fidelity_for_run(run, scramble_seed=0)
    assert chance.top3_share < result.top3_share - 0.1
    again = json.loads((run / "explanation_fidelity.json").read_text())
    assert again["top3_share"] == pytest.approx(result.top3_share)


def test_fidelity_for_a_run_without_ground_truth_is_none(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"ground_truth": None}))
    assert fidelity_for_run(tmp_path) is None
    assert "Not measured" in fidelity_section_html(None)


def test_report_section_says_why_fidelity_was_not_measured(tmp_path):
    from earlywarning.models.fidelity import fidelity_section_for_run

    pd.DataFrame({"person_id": ["P1"], "month": [pd.Timestamp("2024-01-01")],
                  "p_true": [0.1]}).to_parquet(tmp_path / "child_month.parquet")
    (tmp_path / "run.json").write_text(json.dumps(
        {"ground_truth": str(tmp_path / "child_month.parquet")}))
    joblib.dump({"not": "a model"}, tmp_path / "model.joblib")
    section = fidelity_section_for_run(tmp_path)
    assert "Not measured" in section
    assert "no driver_1, driver_2, driver_3 column(s)" in section


def test_every_driver_has_words_for_the_report():
    assert set(DRIVER_LABELS) == set(DRIVERS)
