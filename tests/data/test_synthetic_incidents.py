"""Recent incidents drive escalation: the hazard term, its projection and the intercept."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from earlywarning.data.synthetic import SyntheticConfig, build_tables
from earlywarning.data.synthetic._adversity import DOMAINS
from earlywarning.data.synthetic._hazard import Projector
from earlywarning.data.synthetic._simulate import intercept
from hypothesis import given, settings
from hypothesis import strategies as st

SMALL = SyntheticConfig(children=2500, years=3, seed=5, burn_in_years=2)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(200, 5000), spread=st.floats(0.2, 3.0), share=st.floats(0.001, 0.3),
       seed=st.integers(0, 10_000))
def test_intercept_makes_the_expected_number_of_referrals_exact(n, spread, share, seed):
    rng = np.random.default_rng(seed)
    raw = np.exp(spread * rng.standard_normal(n)).astype(np.float32)
    expected = share * n
    alpha = intercept(raw, expected)
    got = float((1 - np.exp(-np.exp(alpha) * raw.astype(np.float64))).sum())
    assert got == pytest.approx(expected, rel=0.01)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(200, 5000), spread=st.floats(0.2, 3.0), share=st.floats(0.001, 0.3),
       start=st.floats(-12.0, 2.0), seed=st.integers(0, 10_000))
def test_intercept_from_any_starting_point_is_the_same(n, spread, share, start, seed):
    rng = np.random.default_rng(seed)
    raw = np.exp(spread * rng.standard_normal(n)).astype(np.float32)
    cold = intercept(raw, share * n)
    assert intercept(raw, share * n, start=start) == pytest.approx(cold, abs=1e-4)


def test_intercept_is_not_fooled_by_a_few_certain_children():
    raw = np.ones(10_000, np.float32)
    raw[:20] = 1e7  # twenty children whose referral is all but certain
    alpha = intercept(raw, 100.0)
    got = float((1 - np.exp(-np.exp(alpha) * raw.astype(np.float64))).sum())
    assert got == pytest.approx(100.0, rel=0.01)
    # the linear solution would have given only about 20 referrals
    linear = np.log(100.0 / raw.astype(np.float64).sum())
    assert float((1 - np.exp(-np.exp(linear) * raw.astype(np.float64))).sum()) < 25


def test_incident_projection_matches_a_simulation_of_poisson_incidents():
    """``exp(incident_future)`` is E[exp(extra log-hazard)] from incidents still to come."""
    cfg = SMALL
    e = cfg.escalation
    proj = Projector(cfg, np.ones(12), k_e=1.0, b_a=1.0, b_house=0.3, b_mh=0.3, beta_l=0.5)
    rates = np.array([[0.05], [0.02], [0.01], [0.03], [0.01]], dtype=np.float64)  # per month
    fut = proj.incident_future(rates.astype(np.float32))[:, 0]
    coef = np.array([e.incident_coef[d] for d in DOMAINS])
    rng = np.random.default_rng(0)
    for q, k in enumerate(proj.mid):
        counts = rng.poisson(rates[:, 0][None, :, None], size=(200_000, len(DOMAINS), int(k)))
        ages = e.incident_decay ** np.arange(int(k))[::-1]  # the latest month decays least
        extra = (counts * ages[None, None, :]).sum(axis=2) @ coef
        assert np.log(np.exp(extra).mean()) == pytest.approx(fut[q], rel=0.05, abs=2e-3)


def test_a_past_incident_fades_from_the_projection_at_the_decay_rate():
    cfg = SMALL
    proj = Projector(cfg, np.ones(12), k_e=1.0, b_a=1.0, b_house=0.3, b_mh=0.3, beta_l=0.5)
    n = 2
    zeros = np.zeros(n, np.float32)
    ages = np.full(n, 100, np.int64)
    no_future = np.zeros((4, n), np.float32)
    log_h = np.full(n, -5.0, np.float32)
    c_i = np.array([0.0, 2.0], np.float32)  # the second family had incidents recently
    p = proj.p_true(log_h + c_i, ages, zeros, zeros, zeros, zeros, c_i, no_future)
    # the load decays, so the hazard falls over the year but stays above the other family's
    assert p[1] > p[0]
    flat = proj.p_true(log_h + c_i, ages, zeros, zeros, zeros, zeros)
    assert p[1] < flat[1]


def _recent_da_ratio(cfg: SyntheticConfig) -> float:
    """Mean p_true of children present at a DA incident in the last 3 months over the rest."""
    tables, gt = build_tables(cfg)
    pol = tables["ext_police_event"]
    seen = pol[(pol["poli_event_type"] == "domestic_abuse") & (pol["poli_role"] == "child_present")]
    cm = gt["child_month"][["person_id", "month", "p_true"]]
    hit = cm.merge(seen[["poli_person_id", "poli_event_date"]], left_on="person_id",
                   right_on="poli_person_id")
    days = (hit["month"] - pd.to_datetime(hit["poli_event_date"])).dt.days
    recent = hit[(days > 0) & (days <= 91)][["person_id", "month"]].drop_duplicates()
    flag = cm.merge(recent.assign(recent=True), on=["person_id", "month"], how="left")
    flag["recent"] = flag["recent"].fillna(False).astype(bool)
    means = flag.groupby("recent")["p_true"].mean()
    return float(means[True] / means[False])


def test_recent_domestic_abuse_incidents_raise_a_childs_true_risk():
    with_incidents = _recent_da_ratio(SMALL)
    no_coef = {d: 0.0 for d in DOMAINS}
    without = _recent_da_ratio(SMALL.model_copy(update={"escalation": SMALL.escalation.model_copy(
        update={"incident_coef": no_coef})}))
    assert with_incidents > 3
    # the incident itself raises the hazard, beyond what the family's severity explains
    assert with_incidents > 1.5 * without


def test_surveillance_bias_adds_records_not_incidents():
    """More recording for a group at equal need: more police rows, the same true risk."""
    from earlywarning.data.synthetic._config import BiasConfig, GroupSelector

    group = GroupSelector(by="imd_quintile", value="1")
    biased = SMALL.model_copy(update={"bias": BiasConfig(surveillance_group=group,
                                                         surveillance_multiplier=3.0)})
    rows, risk = [], []
    for cfg in (SMALL, biased):
        tables, gt = build_tables(cfg)
        rows.append(len(tables["ext_police_event"]))
        p = gt["child_month"]["p_true"]
        risk.append(float(p[p < 1].mean()))  # children already on their way would add noise
    assert rows[1] > 1.3 * rows[0]
    assert risk[1] == pytest.approx(risk[0], rel=0.2)
