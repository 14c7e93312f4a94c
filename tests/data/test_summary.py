"""Warehouse summaries agree with the tables they summarise."""

import duckdb
import pytest
from earlywarning.data import summary
from earlywarning.data.schema import TABLES


@pytest.fixture(scope="module")
def con(small_warehouse):
    connection = duckdb.connect(str(small_warehouse), read_only=True)
    yield connection
    connection.close()


def test_row_counts_match_every_loaded_table(con):
    counts = summary.table_row_counts(con).set_index("table")["rows"]
    assert {"ssd_person", "ssd_cin_episodes", "ext_police_event"} <= set(counts.index)
    for table in ("ssd_person", "ext_police_event"):
        assert counts[table] == con.execute(f"select count(*) from {table}").fetchone()[0]


def test_events_by_agency_year_count_every_timeline_event_once(con):
    events = summary.events_by_agency_year(con)
    police = con.execute("select count(*) from ext_police_event").fetchone()[0]
    assert events.loc[events["agency"] == "police", "events"].sum() == police
    assert set(events["agency"]) <= set(summary.AGENCIES) | {"health"}


def test_funnel_counts_referrals_by_year_ending_31_march(con):
    funnel = summary.funnel_by_year(con)
    referrals_2024 = con.execute(
        "select count(*) from ssd_cin_episodes where cine_referral_date between "
        "'2023-04-01' and '2024-03-31'").fetchone()[0]
    assert funnel.loc[2024, "referrals"] == referrals_2024
    assert (funnel["children"] > 0).all()


def test_person_timeline_is_sorted_and_limited_to_the_people_asked_for(con):
    person = con.execute(
        "select cppl_person_id from ssd_cp_plans order by cppl_cp_plan_id limit 1").fetchone()[0]
    timeline = summary.person_timeline(con, [person])
    assert set(timeline["person_id"]) == {person}
    assert timeline["date"].is_monotonic_increasing
    assert "ssd_cp_plans" in set(timeline["table"])
    assert not set(timeline["table"]) & {t.name for t in TABLES.values() if t.restricted}


def test_family_timeline_marks_children_and_adults(con):
    family = con.execute(
        "select fami_family_id from ssd_family group by 1 having count(*) >= 3 "
        "order by 1 limit 1").fetchone()[0]
    timeline = summary.family_timeline(con, family)
    assert set(timeline["is_child"].dropna()) <= {"Y", "N"}
    members = con.execute("select distinct fami_person_id from ssd_family where fami_family_id=?",
                          [family]).df()["fami_person_id"]
    assert set(timeline["person_id"]) <= set(members)
