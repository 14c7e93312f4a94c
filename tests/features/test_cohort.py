"""Cohort rules: who is in, who is excluded, at each as-of date."""

from __future__ import annotations

from datetime import date

import pytest
from _warehouse import d, make_warehouse, ts, write_pipeline
from earlywarning.config import load_pipeline
from earlywarning.features import build_features, compare_cohorts


def _p(pid, dob, **kw):
    return dict(pers_person_id=pid, pers_sex="M", pers_ethnicity="WBRI", pers_dob=d(dob),
                pers_is_child="Y", **kw)


def _contact(i, pid, day, nfa="N"):
    return dict(cont_contact_id=f"k{i}", cont_person_id=pid, cont_contact_date=d(day),
                cont_contact_outcome_json=f'{{"NFA_FLAG": "{nfa}"}}', cont_recorded_at=ts(day))


TABLES = {
    "ssd_person": [
        _p("known", "2015-01-01"),
        _p("unknown", "2015-01-01"),
        _p("uasc", "2008-01-01"),
        _p("adult_soon", "2006-07-01"),          # 18 on 2024-07-01
        _p("died", "2015-01-01", pers_death_date=d("2024-05-15")),
        _p("looked_after", "2015-01-01"),
        _p("eh_open", "2015-01-01"),
        _p("late_contact", "2015-01-01"),
        dict(pers_person_id="parent", pers_sex="F", pers_ethnicity="WBRI",
             pers_dob=d("1980-01-01"), pers_is_child="N"),
    ],
    "ssd_contacts": [
        _contact(1, "known", "2023-09-01"), _contact(2, "uasc", "2023-09-01"),
        _contact(3, "adult_soon", "2023-09-01"), _contact(4, "died", "2023-09-01"),
        _contact(5, "looked_after", "2023-09-01"), _contact(6, "parent", "2023-09-01"),
        _contact(7, "eh_open", "2022-01-01", nfa="Y"),
        # dated inside the lookback but entered after the first as-of date
        dict(cont_contact_id="k8", cont_person_id="late_contact",
             cont_contact_date=d("2023-12-20"), cont_recorded_at=ts("2024-01-03")),
    ],
    "ssd_immigration_status": [dict(
        immi_immigration_status_id="u1", immi_person_id="uasc", immi_immigration_status="UASC",
        immi_immigration_status_start_date=d("2023-01-01"), immi_recorded_at=ts("2023-01-02"))],
    "ssd_cla_episodes": [dict(
        clae_cla_episode_id="e1", clae_person_id="looked_after",
        clae_cla_episode_start_date=d("2024-03-01"), clae_cla_episode_ceased_date=d("2024-05-01"),
        clae_recorded_at=ts("2024-03-02"))],
    "ssd_early_help_episodes": [dict(
        earl_episode_id="h1", earl_person_id="eh_open", earl_episode_start_date=d("2022-06-01"),
        earl_recorded_at=ts("2022-06-02"))],
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cohort")
    wh = make_warehouse(tmp / "w.duckdb", TABLES)
    return write_pipeline(tmp / "p.yaml", wh, tmp / "out",
                          cohort={"name": "known_to_services", "lookback_days": 365},
                          as_of={"start": "2024-01-01", "end": "2024-08-01"},
                          features={"groups": ["household"], "coverage_indicators": False})


@pytest.fixture(scope="module")
def members(pipeline):
    frame = build_features(load_pipeline(pipeline), write=False).frame
    return {(p, a) for p, a in zip(frame["person_id"], frame["as_of"], strict=True)}


def _months(members, person):
    return sorted(a.month for p, a in members if p == person)


def test_children_with_a_recent_record_are_in(members):
    assert _months(members, "known") == [1, 2, 3, 4, 5, 6, 7, 8]


def test_children_without_records_and_adults_are_out(members):
    assert _months(members, "unknown") == [] and _months(members, "parent") == []


def test_unaccompanied_asylum_seekers_are_out(members):
    assert _months(members, "uasc") == []


def test_children_leave_the_cohort_at_18(members):
    assert _months(members, "adult_soon") == [1, 2, 3, 4, 5, 6]


def test_children_leave_the_cohort_when_they_die(members):
    assert _months(members, "died") == [1, 2, 3, 4, 5]


def test_looked_after_children_are_out_while_in_care(members):
    assert _months(members, "looked_after") == [1, 2, 5, 6, 7, 8]


def test_an_open_early_help_episode_keeps_a_child_known(members):
    assert _months(members, "eh_open") == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_record_counts_for_the_cohort_only_once_entered(members):
    assert _months(members, "late_contact") == [2, 3, 4, 5, 6, 7, 8]


def test_compare_cohorts_reports_each_definition(pipeline):
    table = compare_cohorts(load_pipeline(pipeline))
    jan = table[table["as_of"] == date(2024, 1, 1)].set_index("cohort")["n_children"]
    # all_children: 8 children minus uasc; known: known, adult_soon, died, looked_after,
    # eh_open (late_contact's record is not entered yet); early_help: the open episode only
    assert jan.to_dict() == {"early_help": 1, "known_to_services": 5, "all_children": 7}
