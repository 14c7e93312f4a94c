"""The default 60,000-child LA matches England's base rates, and its truth is honest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from earlywarning.data.synthetic import SyntheticConfig, build_tables, calibration_report

pytestmark = pytest.mark.slow

FUNNEL = ["referrals_per_10k", "rereferral_pct", "s47_per_10k", "icpc_per_10k",
          "cp_starts_per_10k", "cp_stock_per_10k", "care_starts_excl_uasc_per_10k",
          "care_starts_per_10k", "cla_stock_per_10k"]


@pytest.fixture(scope="module")
def default_la():
    return build_tables(SyntheticConfig())


@pytest.fixture(scope="module")
def report(default_la):
    return calibration_report(default_la[0], years=3)


@pytest.mark.parametrize("measure", FUNNEL)
def test_funnel_matches_england_within_20pct_over_the_last_three_years(report, measure):
    rows = report[report["measure"] == measure]
    assert len(rows) == 3
    ratio = rows["value"].mean() / rows["target"].iloc[0]
    assert 0.8 <= ratio <= 1.2, rows[["year", "value", "target"]]


def test_a_60k_la_makes_about_3100_referrals_and_160_care_starts_a_year(report):
    children = report[report["measure"] == "children"]["value"].mean()
    assert 55_000 <= children <= 65_000
    per_year = {m: report[report["measure"] == m]["value"].mean() * children / 10_000
                for m in ("referrals_per_10k", "care_starts_per_10k", "cla_stock_per_10k")}
    assert 2_480 <= per_year["referrals_per_10k"] <= 3_720
    assert 128 <= per_year["care_starts_per_10k"] <= 192
    assert 320 <= per_year["cla_stock_per_10k"] <= 480


@pytest.mark.parametrize("measure", ["uasc_share_of_care_starts_pct", "second_cp_plan_pct",
                                     "cp_neglect_pct", "cp_emotional_pct",
                                     "factors_per_assessment", "factor_4B_pct", "factor_3B_pct",
                                     "persistent_absence_pct", "suspensions_per_100_pupils",
                                     "da_incidents_per_1000_people", "early_help_pct_children",
                                     "temporary_accommodation_per_1000_children"])
def test_mixes_and_partner_agency_rates_within_20pct(report, measure):
    row = report[report["measure"] == measure].iloc[0]
    assert 0.8 <= row["ratio"] <= 1.2, row


def test_care_start_ages_look_like_england(report):
    # shares of ~480 starts: allow 6 percentage points (about 3 standard errors)
    rows = report[report["measure"].str.startswith("care_start_age_")]
    assert len(rows) == 5
    assert ((rows["value"] - rows["target"]).abs() <= 6).all(), rows[["measure", "value"]]


def test_most_deprived_decile_has_about_ten_times_the_care_rate(report):
    ratio = report[report["measure"] == "care_rate_ratio_decile1_vs_10"]["value"].iloc[0]
    assert 6 <= ratio <= 18


def test_children_in_need_are_more_often_persistently_absent(report):
    v = report.set_index("measure")["value"]
    assert v["persistent_absence_cin_pct"] > 2 * v["persistent_absence_pct"]


def test_mean_true_probability_matches_the_observed_12_month_outcome_rate(default_la):
    tables, gt = default_la
    cm = gt["child_month"]
    end = pd.Timestamp(SyntheticConfig().end_date)
    months = sorted(cm["month"].unique())
    sample = [m for m in months[::6] if m + pd.Timedelta(days=365) <= end]
    rows = cm[cm["month"].isin(sample)][["person_id", "month", "p_true"]]
    ev = pd.concat([
        tables["ssd_cp_plans"][["cppl_person_id", "cppl_cp_plan_start_date"]].set_axis(
            ["person_id", "date"], axis=1),
        tables["ssd_cla_episodes"][["clae_person_id", "clae_cla_episode_start_date"]].set_axis(
            ["person_id", "date"], axis=1),
    ]).sort_values("date")
    rows = rows.sort_values("month")
    nxt = pd.merge_asof(rows, ev, left_on="month", right_on="date", by="person_id",
                        direction="forward", allow_exact_matches=False)
    observed = (nxt["date"] - nxt["month"]).dt.days.le(365).mean()
    expected = rows["p_true"].mean()
    assert 0.8 <= expected / observed <= 1.2, (expected, observed)


def test_true_probability_ranks_children_by_their_outcome(default_la):
    from sklearn.metrics import roc_auc_score

    tables, gt = default_la
    cm = gt["child_month"]
    month = pd.Timestamp("2023-04-01")
    rows = cm[cm["month"] == month]
    cp = tables["ssd_cp_plans"]
    cla = tables["ssd_cla_episodes"]
    window = (month, month + pd.Timedelta(days=365))
    hit = set(cp["cppl_person_id"][cp["cppl_cp_plan_start_date"].between(*window)]) | set(
        cla["clae_person_id"][cla["clae_cla_episode_start_date"].between(*window)])
    y = rows["person_id"].isin(hit).to_numpy()
    assert y.sum() > 100
    assert roc_auc_score(y, rows["p_true"]) > 0.8
    assert np.isfinite(rows["unobserved_share"]).all()
