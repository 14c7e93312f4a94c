"""The synthetic LA's tables: schema-exact, point-in-time, deterministic, with honest truth."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from earlywarning.data.schema import TABLES, event_tables, pandera_schema
from earlywarning.data.synthetic import SyntheticConfig, build_tables, generate_la

SMALL = SyntheticConfig(children=2500, years=4, seed=11, burn_in_years=3)


@pytest.fixture(scope="module")
def small():
    return build_tables(SMALL)


def test_every_declared_table_is_generated(small):
    tables, _ = small
    assert set(TABLES) <= set(tables)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_clean_tables_match_the_schema(small, name):
    tables, _ = small
    pandera_schema(name).validate(tables[name])
    assert list(tables[name].columns) == TABLES[name].column_names


@pytest.mark.parametrize("table", [t.name for t in event_tables()])
def test_every_event_row_has_a_recorded_at_not_before_its_event(small, table):
    tables, _ = small
    t = TABLES[table]
    df = tables[table]
    rec = pd.to_datetime(df[t.recorded_at])
    assert rec.notna().all()
    event = pd.to_datetime(df[t.event_date])
    ok = event.isna() | (rec >= event)
    assert ok.all(), df[~ok].head()


def test_nothing_is_recorded_after_the_extract_date(small):
    tables, _ = small
    limit = pd.Timestamp(SMALL.end_date) + pd.Timedelta(days=1)
    for t in event_tables():
        assert (pd.to_datetime(tables[t.name][t.recorded_at]) < limit).all(), t.name


def test_person_ids_resolve(small):
    tables, _ = small
    people = set(tables["ssd_person"]["pers_person_id"])
    for t in TABLES.values():
        for c in t.columns:
            if c.references == "ssd_person.pers_person_id" and t.name in tables:
                assert set(tables[t.name][c.name].dropna()) <= people, (t.name, c.name)


def test_domestic_abuse_incidents_share_one_id_across_victim_suspect_and_children(small):
    tables, _ = small
    p = tables["ext_police_event"]
    da = p[p["poli_event_type"] == "domestic_abuse"]
    roles = da.groupby("poli_incident_id")["poli_role"].agg(set)
    assert (roles.map(lambda r: "victim" in r)).mean() > 0.9
    assert (roles.map(lambda r: "child_present" in r)).mean() > 0.5


def test_uasc_enter_care_within_days_of_arrival(small):
    tables, _ = small
    imm = tables["ssd_immigration_status"]
    cla = tables["ssd_cla_episodes"].merge(
        imm, left_on="clae_person_id", right_on="immi_person_id")
    assert len(cla) > 0
    gap = (cla["clae_cla_episode_start_date"] - cla["immi_immigration_status_start_date"]).dt.days
    assert gap.between(0, 7).all()


def test_ground_truth_probabilities_are_probabilities(small):
    _, gt = small
    cm = gt["child_month"]
    assert cm["p_true"].between(0, 1).all()
    assert set(cm.columns) >= {"person_id", "month", "adversity", "p_true", "driver_1",
                               "driver_2", "driver_3", "unobserved_share"}
    assert (cm["month"].dt.day == 1).all()


def test_recorded_state_oracle_averages_the_latent_out(small):
    """``p_recorded`` is p_true with the unrecorded latent integrated out."""
    _, gt = small
    cm = gt["child_month"]
    assert cm["p_recorded"].between(0, 1).all()
    # a child whose escalation is already under way is certain under both (a few more
    # are all but certain from a very high hazard, which averaging can move a little)
    done = cm["p_true"] >= 1.0
    assert done.any()
    assert (cm.loc[done, "p_recorded"] >= 0.99).all()
    assert (cm.loc[done, "p_recorded"] == 1.0).mean() > 0.9
    # averaging over the latent keeps the mean (within quadrature and convexity
    # effects) but removes its spread: high-latent children move towards the mean
    assert abs(cm["p_recorded"].mean() - cm["p_true"].mean()) < 0.25 * cm["p_true"].mean()
    assert cm["p_recorded"].std() < cm["p_true"].std()


def test_without_an_unrecorded_latent_the_two_oracles_agree():
    cfg = SMALL.model_copy(update={"children": 800, "years": 2, "burn_in_years": 1})
    cfg = cfg.model_copy(update={"adversity": cfg.adversity.model_copy(
        update={"unobserved_share": 0.0})})
    _, gt = build_tables(cfg)
    cm = gt["child_month"]
    np.testing.assert_allclose(cm["p_recorded"], cm["p_true"], rtol=1e-4, atol=1e-7)


def test_higher_adversity_means_higher_true_risk(small):
    _, gt = small
    cm = gt["child_month"]
    q = pd.qcut(cm["adversity"], 5, labels=False)
    means = cm.groupby(q)["p_true"].mean().to_numpy()
    assert means[-1] > 2 * means[0]
    assert np.all(np.diff(means) > 0)


def test_drivers_are_contract_names(small):
    from earlywarning.data.synthetic._adversity import DRIVER_NAMES

    _, gt = small
    cm = gt["child_month"]
    for col in ("driver_1", "driver_2", "driver_3"):
        assert set(cm[col]) <= set(DRIVER_NAMES)
    assert (cm["driver_1"] != cm["driver_2"]).all()


def _digest(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_and_another_seed_different(tmp_path):
    cfg = SyntheticConfig(children=800, years=2, seed=5, burn_in_years=2)
    a = _digest(generate_la(cfg, tmp_path / "a").out)
    b = _digest(generate_la(cfg, tmp_path / "b").out)
    c = _digest(generate_la(cfg.model_copy(update={"seed": 6}), tmp_path / "c").out)
    assert a == b
    assert a["ssd_person.parquet"] != c["ssd_person.parquet"]
    assert a["ground_truth/child_month.parquet"] != c["ground_truth/child_month.parquet"]


def test_csv_output_writes_one_file_per_table(tmp_path):
    cfg = SyntheticConfig(children=500, years=1, seed=2, burn_in_years=1)
    out = generate_la(cfg, tmp_path / "csv", fmt="csv").out
    assert {p.stem for p in out.glob("*.csv")} >= set(TABLES)
    meta = json.loads((out / "generation.json").read_text())
    assert meta["seed"] == 2 and meta["config"]["children"] == 500
    assert meta["row_counts"]["ssd_person"] > 0
    assert 0 < meta["hazard_model"]["unobserved_share_measured"] < 1
    assert all("referrals" in counts for counts in meta["funnel_counts"].values())
    assert (out / "ground_truth" / "child_month.parquet").exists()


def test_top_drivers_are_the_three_largest_absolute_contributions():
    from earlywarning.data.synthetic._adversity import DRIVERS
    from earlywarning.data.synthetic._hazard import ATTENDANCE_GOOD, SCHOOL, top_drivers
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    values = st.floats(-7.5, 7.5, allow_nan=False, width=32)

    @settings(max_examples=60, deadline=None)
    @given(arrays(np.float32, (len(DRIVERS), 5), elements=values, unique=True))
    def check(contrib):
        # keys quantise to 1/128: only ask for an exact ranking when values are that far apart
        mags = np.sort(np.abs(contrib), axis=0)
        got = top_drivers(contrib).astype(int)
        got[got == ATTENDANCE_GOOD] = SCHOOL
        for j in range(contrib.shape[1]):
            want = np.argsort(-np.abs(contrib[:, j]), kind="stable")[:3]
            gaps = np.diff(mags[-4:, j])
            if np.all(gaps > 1 / 64):
                assert list(got[:, j]) == list(want)

    check()


def test_a_negative_school_term_is_reported_as_good_attendance():
    from earlywarning.data.synthetic._adversity import DRIVERS
    from earlywarning.data.synthetic._hazard import ATTENDANCE_GOOD, SCHOOL, top_drivers

    contrib = np.zeros((len(DRIVERS), 2), np.float32)
    contrib[SCHOOL] = [-2.0, 2.0]
    d = top_drivers(contrib)
    assert d[0, 0] == ATTENDANCE_GOOD and d[0, 1] == SCHOOL


def test_the_projected_probability_is_one_minus_the_product_of_monthly_survivals():
    """The quarters' closed forms (one exponential, a cubic) equal the month-by-month product."""
    from earlywarning.data.synthetic._hazard import Projector
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    @settings(max_examples=60, deadline=None)
    @given(w=arrays(np.float64, 12, elements=st.floats(0.0, 1.0)),
           log_h=arrays(np.float32, (4, 6), elements=st.floats(-16, 6, width=32)),
           latent=st.floats(-2, 2))
    def check(w, log_h, latent):
        w = -np.sort(-w)  # weights fall towards the end of the window
        w[:3] = 1.0  # the first quarter is always certain to land inside it
        proj = Projector(SMALL, w, k_e=1.0, b_a=1.0, b_house=0.3, b_mh=0.3, beta_l=1.0)
        exp_base = np.exp(log_h)
        got = proj._probability(exp_base, np.float32(latent))
        scale = np.exp((1.0 + proj.rl.astype(np.float64)) * latent)
        h = exp_base.astype(np.float64) * scale[:, None]
        p = -np.expm1(-np.minimum(h, 4.8e8))
        surv = np.prod(1.0 - np.repeat(p, 3, axis=0) * w[:, None], axis=0)
        assert np.allclose(got, 1.0 - surv, rtol=1e-5, atol=1e-7)
        assert np.all((got >= 0) & (got <= 1))

    check()


def test_certain_escalation_is_probability_one_without_numeric_warnings():
    from earlywarning.data.synthetic._hazard import Projector

    weights = np.array([1.0] * 10 + [0.5, 0.2])  # the last quarter mixes certain and partial
    proj = Projector(SMALL, weights, k_e=1.0, b_a=1.0, b_house=0.3, b_mh=0.3, beta_l=1.0)
    n = 4
    log_h = np.array([-12.0, -6.0, -3.0, 40.0], dtype=np.float32)  # up to a certain month
    zeros = np.zeros(n, dtype=np.float32)
    ages = np.full(n, 60, dtype=np.int64)
    p = proj.p_true(log_h, ages, zeros, zeros, zeros, zeros)
    assert np.all(np.diff(p) > 0) and p[-1] == 1.0
    rec = proj.p_recorded(log_h, ages, zeros, zeros, zeros, zeros, latent_scale=1.0)
    assert np.all((rec >= 0) & (rec <= 1)) and rec[-1] == 1.0
