"""A small family, built by hand, with every feature of the index child asserted.

As-of date D = 2024-06-01 (one slot). Windows: 90 days = event dates from
2024-03-04, 365 days = from 2023-06-03, 1095 days = from 2021-06-03.

Household fam1: child C (born 2014-03-01), sibling S, mother M, and M's partner
P who joined on 2024-02-01 (recorded 2024-02-03).
"""

from __future__ import annotations

import json
import math
from datetime import date

import pytest
from _warehouse import d, make_warehouse, membership, person, ts, write_pipeline
from earlywarning.config import load_pipeline
from earlywarning.features import build_features, render_meaning

D = date(2024, 6, 1)


def _police(i, pid, day, kind, role, incident=None):
    return dict(poli_event_id=f"pe{i}", poli_incident_id=incident or f"i{i}", poli_person_id=pid,
                poli_event_date=d(day), poli_event_type=kind, poli_role=role,
                poli_recorded_at=ts(day, "18:00"))


def _health(i, pid, day, service):
    return dict(heal_event_id=f"h{i}", heal_person_id=pid, heal_service=service,
                heal_event_type="contact", heal_event_date=d(day), heal_recorded_at=ts(day))


FAMILY = {
    "ssd_person": [person("C", "2014-03-01"), person("S", "2010-01-01", sex="M"),
                   person("M", "1985-05-01", "N"), person("P", "1980-02-01", "N", "M")],
    "ssd_family": [
        membership("f1", "fam1", "C", "2014-03-01", "2014-03-02"),
        membership("f2", "fam1", "S", "2010-01-01", "2010-01-02"),
        membership("f3", "fam1", "M", "2010-01-01", "2010-01-02"),
        membership("f4", "fam1", "P", "2024-02-01", "2024-02-03"),
    ],
    "ext_person_relationship": [
        dict(rela_relationship_id="r1", rela_person_id="C", rela_related_person_id="M",
             rela_relationship="parent", rela_same_household="Y",
             rela_start_date=d("2014-03-01"), rela_recorded_at=ts("2014-03-02")),
        dict(rela_relationship_id="r2", rela_person_id="C", rela_related_person_id="P",
             rela_relationship="partner_of_parent", rela_same_household="Y",
             rela_start_date=d("2024-02-01"), rela_recorded_at=ts("2024-02-03")),
        # the sibling pair is recorded in both directions: counted once
        dict(rela_relationship_id="r3", rela_person_id="C", rela_related_person_id="S",
             rela_relationship="sibling", rela_same_household="Y",
             rela_start_date=d("2014-03-01"), rela_recorded_at=ts("2014-03-02")),
        dict(rela_relationship_id="r4", rela_person_id="S", rela_related_person_id="C",
             rela_relationship="sibling", rela_same_household="Y",
             rela_start_date=d("2014-03-01"), rela_recorded_at=ts("2014-03-02")),
    ],
    "ssd_address": [
        dict(addr_table_id="a1", addr_person_id="C", addr_address_start_date=d("2014-03-01"),
             addr_address_end_date=d("2023-07-01"), addr_lsoa_code="E1", addr_imd_decile=2,
             addr_address_postcode="LS8 1", addr_recorded_at=ts("2014-03-02")),
        dict(addr_table_id="a2", addr_person_id="C", addr_address_start_date=d("2023-07-01"),
             addr_lsoa_code="E2", addr_imd_decile=4, addr_address_postcode="LS9 7",
             addr_recorded_at=ts("2023-07-02")),
    ],
    "ssd_contacts": [
        dict(cont_contact_id="k1", cont_person_id="C", cont_contact_date=d("2024-05-20"),
             cont_contact_outcome_json='{"NFA_FLAG": "Y"}', cont_recorded_at=ts("2024-05-21")),
        dict(cont_contact_id="k2", cont_person_id="C", cont_contact_date=d("2023-09-01"),
             cont_contact_outcome_json='{"NFA_FLAG": "N"}', cont_recorded_at=ts("2023-09-02")),
        dict(cont_contact_id="k3", cont_person_id="C", cont_contact_date=d("2021-01-10"),
             cont_recorded_at=ts("2021-01-11")),
        # happened before D but entered after it: not known at D
        dict(cont_contact_id="k4", cont_person_id="C", cont_contact_date=d("2024-05-30"),
             cont_recorded_at=ts("2024-06-02")),
    ],
    "ssd_cin_episodes": [
        dict(cine_referral_id="ref1", cine_person_id="C", cine_referral_date=d("2023-09-05"),
             cine_referral_nfa="Y", cine_close_date=d("2023-11-01"),
             cine_recorded_at=ts("2023-09-06")),
        dict(cine_referral_id="ref2", cine_person_id="S", cine_referral_date=d("2024-01-05"),
             cine_recorded_at=ts("2024-01-06")),
    ],
    "ssd_cin_assessments": [
        dict(cina_assessment_id="as1", cina_person_id="C", cina_referral_id="ref1",
             cina_assessment_start_date=d("2023-09-10"), cina_assessment_auth_date=d("2023-10-20"),
             cina_assessment_outcome_nfa="N", cina_recorded_at=ts("2023-10-21")),
    ],
    "ssd_assessment_factors": [
        dict(cinf_table_id="af1", cinf_assessment_id="as1",
             cinf_assessment_factors_json='["3B", "4B", "16A"]',
             cinf_recorded_at=ts("2023-10-21")),
    ],
    "ssd_cp_plans": [
        dict(cppl_cp_plan_id="cp1", cppl_person_id="C", cppl_cp_plan_start_date=d("2019-01-01"),
             cppl_cp_plan_end_date=d("2019-10-01"), cppl_recorded_at=ts("2019-01-02")),
        dict(cppl_cp_plan_id="cp2", cppl_person_id="S", cppl_cp_plan_start_date=d("2022-02-01"),
             cppl_cp_plan_end_date=d("2023-02-01"), cppl_recorded_at=ts("2022-02-02")),
    ],
    "ssd_cla_episodes": [
        dict(clae_cla_episode_id="cla1", clae_person_id="C",
             clae_cla_episode_start_date=d("2025-01-10"), clae_recorded_at=ts("2025-01-11")),
    ],
    "ssd_missing": [
        dict(miss_table_id="m1", miss_person_id="C",
             miss_missing_episode_start_date=d("2024-04-15"), miss_recorded_at=ts("2024-04-16")),
    ],
    "ssd_early_help_episodes": [
        dict(earl_episode_id="eh1", earl_person_id="C", earl_episode_start_date=d("2024-01-10"),
             earl_recorded_at=ts("2024-01-11")),
    ],
    "ext_school_attendance": [
        dict(atte_attendance_id="t1", atte_person_id="C", atte_term_start_date=d("2023-09-01"),
             atte_term_end_date=d("2023-12-20"), atte_sessions_possible=140,
             atte_sessions_missed=14, atte_sessions_unauthorised=7,
             atte_recorded_at=ts("2024-01-05")),
        dict(atte_attendance_id="t2", atte_person_id="C", atte_term_start_date=d("2024-01-04"),
             atte_term_end_date=d("2024-03-28"), atte_sessions_possible=120,
             atte_sessions_missed=30, atte_sessions_unauthorised=20,
             atte_recorded_at=ts("2024-04-10")),
    ],
    "ext_school_exclusion": [
        dict(excl_exclusion_id="x1", excl_person_id="C", excl_exclusion_date=d("2024-02-01"),
             excl_type="suspension", excl_days=2.0, excl_recorded_at=ts("2024-02-02")),
    ],
    "ext_school_enrolment": [
        dict(scho_enrolment_id="s1", scho_person_id="C", scho_school_id="URN1",
             scho_start_date=d("2018-09-01"), scho_recorded_at=ts("2018-09-02")),
    ],
    "ext_police_event": [
        _police(1, "C", "2024-03-10", "domestic_abuse", "child_present", "i1"),
        _police(2, "M", "2024-03-10", "domestic_abuse", "victim", "i1"),
        _police(3, "P", "2024-03-10", "domestic_abuse", "suspect", "i1"),
        _police(4, "M", "2023-01-15", "domestic_abuse", "victim"),
        _police(5, "P", "2022-05-01", "domestic_abuse", "suspect"),
        _police(6, "P", "2023-11-11", "arrest", "suspect"),
    ],
    "ext_health_event": [
        _health(1, "C", "2023-12-01", "a_and_e"),
        _health(2, "M", "2024-05-01", "adult_mental_health"),
        _health(3, "P", "2023-08-01", "drug_alcohol"),
    ],
    "ext_asc_involvement": [
        dict(asci_involvement_id="asc1", asci_person_id="M", asci_service_type="assessment",
             asci_start_date=d("2023-03-01"), asci_end_date=d("2023-09-01"),
             asci_recorded_at=ts("2023-03-02")),
    ],
    "ext_housing_event": [
        dict(hous_event_id="ho1", hous_person_id="M", hous_event_date=d("2024-04-01"),
             hous_event_type="homelessness_application", hous_recorded_at=ts("2024-04-02")),
        dict(hous_event_id="ho2", hous_person_id="M", hous_event_date=d("2024-04-20"),
             hous_event_type="temporary_accommodation", hous_recorded_at=ts("2024-04-21")),
        dict(hous_event_id="ho3", hous_person_id="M", hous_event_date=d("2022-12-01"),
             hous_event_type="rent_arrears", hous_recorded_at=ts("2022-12-02")),
    ],
    "ext_source_coverage": [
        dict(cove_coverage_id="cv1", cove_family_id="fam1", cove_source="police",
             cove_start_date=d("2020-01-01")),
        dict(cove_coverage_id="cv2", cove_family_id="fam1", cove_source="housing",
             cove_start_date=d("2020-01-01"), cove_end_date=d("2023-01-01")),
        dict(cove_coverage_id="cv3", cove_family_id="fam1", cove_source="school",
             cove_start_date=d("2018-01-01")),
    ],
}

EXPECTED_NONZERO = {
    # children's social care
    "contacts_count_90d": 1, "contacts_count_365d": 2, "contacts_count_1095d": 2,
    "contacts_nfa_count_90d": 1, "contacts_nfa_count_365d": 1, "contacts_nfa_count_1095d": 1,
    "referrals_count_365d": 1, "referrals_count_1095d": 1,
    "referrals_days_since_last_ever": 270,
    "referrals_nfa_count_365d": 1, "referrals_nfa_count_1095d": 1,
    "assessments_count_365d": 1, "assessments_count_1095d": 1,
    "cp_plans_previous_count_ever": 1,
    "missing_episodes_count_90d": 1, "missing_episodes_count_365d": 1,
    "missing_episodes_count_1095d": 1,
    # assessment factors (3B, 4B, 16A, dated 2023-10-20)
    "factor_domestic_abuse_count_365d": 1, "factor_domestic_abuse_count_1095d": 1,
    "factor_mental_health_count_365d": 1, "factor_mental_health_count_1095d": 1,
    "factor_neglect_count_365d": 1, "factor_neglect_count_1095d": 1,
    # Early Help
    "early_help_episodes_count_365d": 1, "early_help_episodes_count_1095d": 1,
    "early_help_open_now": 1,
    # school: (14 + 30) / (140 + 120) sessions missed, (7 + 20) / 260 unauthorised
    "school_absence_ratio_365d": 44 / 260, "school_absence_ratio_1095d": 44 / 260,
    "school_unauthorised_absence_ratio_365d": 27 / 260,
    "school_unauthorised_absence_ratio_1095d": 27 / 260,
    "school_suspensions_count_365d": 1, "school_suspensions_count_1095d": 1,
    "school_enrolment_open_now": 1,
    # the child's other agencies
    "police_child_count_90d": 1, "police_child_count_365d": 1, "police_child_count_1095d": 1,
    "emergency_department_child_count_365d": 1, "emergency_department_child_count_1095d": 1,
    # parents: M (mother) and P (partner, linked from 2024-02-03, with his earlier history)
    "police_da_victim_parent_count_90d": 1, "police_da_victim_parent_count_365d": 1,
    "police_da_victim_parent_count_1095d": 2,
    "police_da_suspect_parent_count_90d": 1, "police_da_suspect_parent_count_365d": 1,
    "police_da_suspect_parent_count_1095d": 2,
    "police_crime_parent_count_365d": 1, "police_crime_parent_count_1095d": 1,
    "mental_health_parent_count_90d": 1, "mental_health_parent_count_365d": 1,
    "mental_health_parent_count_1095d": 1,
    "substance_misuse_parent_count_365d": 1, "substance_misuse_parent_count_1095d": 1,
    "asc_parent_count_1095d": 1,
    # household: S, M and P (not C itself)
    "police_da_household_count_90d": 2, "police_da_household_count_365d": 2,
    "police_da_household_count_1095d": 4,
    "housing_crisis_household_count_90d": 2, "housing_crisis_household_count_365d": 2,
    "housing_crisis_household_count_1095d": 2,
    "rent_arrears_household_count_1095d": 1,
    "temporary_accommodation_household_open_now": 1,
    "household_members_open_now": 3,
    "household_joins_count_365d": 1, "household_joins_count_1095d": 1,
    "address_moves_count_365d": 1, "address_moves_count_1095d": 1,
    # siblings: S's plan 2022-02-01 .. 2023-02-01 and referral 2024-01-05
    "cp_plans_sibling_count_1095d": 1, "cp_plans_sibling_count_ever": 1,
    "referrals_sibling_count_365d": 1, "referrals_sibling_count_1095d": 1,
    # coverage: police and school linked at D; housing link ended 2023-01-01
    "coverage_police_open_now": 1, "coverage_school_open_now": 1,
    # context
    "child_age_years_now": 3745 / 365.25, "address_imd_decile_now": 4,
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hand")
    wh = make_warehouse(tmp / "w.duckdb", FAMILY)
    path = write_pipeline(tmp / "p.yaml", wh, tmp / "out",
                          as_of={"start": "2024-06-01", "end": "2024-06-01"})
    return build_features(load_pipeline(path))


@pytest.fixture(scope="module")
def child_row(built):
    frame = built.frame
    rows = frame[(frame.person_id == "C") & (frame.as_of == D)]
    assert len(rows) == 1
    return rows.iloc[0]


def test_every_feature_of_the_index_child(built, child_row):
    columns = built.manifest["feature_columns"]
    assert set(EXPECTED_NONZERO) <= set(columns)
    wrong = {}
    for col in columns:
        expected = EXPECTED_NONZERO.get(col, 0)
        got = float(child_row[col])
        if not math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-6):
            wrong[col] = (got, expected)
    assert wrong == {}


def test_label_and_identity_columns_of_the_index_child(child_row):
    assert child_row["label"] == 1
    assert child_row["label_event_date"] == date(2025, 1, 10)
    assert child_row["family_id"] == "fam1"
    assert child_row["audit_area"] == "LS9" and child_row["audit_imd_quintile"] == 2


def test_dictionary_meaning_reads_as_plain_english(built):
    entries = json.loads((built.out_dir / "feature_dictionary.json").read_text())
    by_name = {e["name"]: e for e in entries}
    e = by_name["police_da_victim_parent_count_365d"]
    assert render_meaning(e["meaning"], 2) == (
        "2 police domestic-abuse notifications with a parent as victim in the last 12 months")
    assert render_meaning(e["meaning"], 1) == (
        "1 police domestic-abuse notification with a parent as victim in the last 12 months")
    assert render_meaning(by_name["school_absence_ratio_365d"]["meaning"], 0.125) == (
        "12% of school sessions missed in the last 12 months")
    assert (e["source_agency"], e["window_days"], e["direction"], e["subject"]) == (
        "police", 365, "risk", "parents")
    assert by_name["early_help_open_now"]["direction"] == "protective"
    assert by_name["coverage_police_open_now"]["direction"] == "coverage"
    assert by_name["child_age_years_now"]["direction"] == "context"
