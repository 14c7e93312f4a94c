"""Generated SQL: never reads restricted tables or identifying columns; values are bound."""

from __future__ import annotations

import re

import duckdb
import pyarrow as pa
import pytest
from _warehouse import create_empty_tables, d, insert_rows, ts
from earlywarning.data.schema import TABLES
from earlywarning.features import LIBRARY, Condition, FeatureSpec, spec_sql
from earlywarning.features._compute import fetch_records
from earlywarning.features._sql import CHILDREN_TABLE, spec_sql_text
from earlywarning.features.cohort import exclusion_specs, inclusion_specs
from earlywarning.features.dictionary import coverage_spec
from earlywarning.features.labels import OUTCOME_SOURCES, outcome_spec

ALL_SPECS = [*LIBRARY, *(coverage_spec(a) for a in ("police", "school")),
             *exclusion_specs().values(), *inclusion_specs("known_to_services", 365),
             *inclusion_specs("early_help", 365), *(outcome_spec(o) for o in OUTCOME_SOURCES)]
IDENTIFYING = {c.name for t in TABLES.values() for c in t.columns if c.identifying}
RESTRICTED = {t.name for t in TABLES.values() if t.restricted}


def _identifiers(sql: str) -> set[str]:
    return set(re.findall(r"[a-z_][a-z0-9_]*", sql.lower()))


@pytest.mark.parametrize("known_by", ["recorded", "event"])
def test_generated_sql_never_names_identifying_columns_or_restricted_tables(known_by):
    for spec in ALL_SPECS:
        names = _identifiers(spec_sql_text(spec, known_by))
        assert not names & IDENTIFYING, spec.name
        assert not names & RESTRICTED, spec.name


def test_every_library_spec_renders_for_spark():
    for spec in LIBRARY:
        sql = spec_sql(spec, dialect="spark")
        assert sql.startswith("SELECT") and "_children" in sql


def test_filter_values_are_bound_as_literals_not_pasted():
    tricky = "victim' OR '1'='1"
    spec = FeatureSpec("x", "ext_police_event", "count", "{value} x",
                       where=(Condition("poli_role", "eq", tricky),), windows=(365,))
    con = duckdb.connect()
    create_empty_tables(con)
    insert_rows(con, "ssd_person", [dict(pers_person_id="c", pers_sex="F", pers_ethnicity="WBRI",
                                         pers_dob=d("2015-01-01"), pers_is_child="Y")])
    insert_rows(con, "ext_police_event", [dict(
        poli_event_id="p", poli_incident_id="i", poli_person_id="c",
        poli_event_date=d("2024-01-01"), poli_event_type="asb", poli_role="victim",
        poli_recorded_at=ts("2024-01-01"))])
    con.register(CHILDREN_TABLE, pa.table({"person_id": ["c"], "cidx": pa.array([0], pa.int32())}))
    assert "'victim'' OR ''1''=''1'" in spec_sql(spec)
    assert len(fetch_records(con, spec)) == 0


def test_a_record_without_a_recorded_date_is_never_known():
    spec = FeatureSpec("x", "ext_police_event", "count", "{value} x", windows=(365,))
    con = duckdb.connect()
    create_empty_tables(con)
    insert_rows(con, "ext_police_event", [dict(
        poli_event_id="p", poli_incident_id="i", poli_person_id="c",
        poli_event_date=d("2024-01-01"), poli_event_type="asb", poli_role="victim")])
    con.register(CHILDREN_TABLE, pa.table({"person_id": ["c"], "cidx": pa.array([0], pa.int32())}))
    assert len(fetch_records(con, spec)) == 0
