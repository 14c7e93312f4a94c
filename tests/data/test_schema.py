"""The schema declarations are the contract: check they are internally consistent."""

import pandas as pd
import pandera.errors
import pytest
from earlywarning.data import schema
from earlywarning.data.schema import TABLES, get_table, pandera_schema


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_every_column_carries_its_table_prefix(table):
    assert len(table.prefix) == 5 and table.prefix.endswith("_")
    assert all(c.name.startswith(table.prefix) for c in table.columns)


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_keys_and_rule_columns_are_declared(table):
    names = set(table.column_names)
    assert len(names) == len(table.columns), "duplicate column names"
    assert set(table.primary_key) <= names
    for start, end in table.date_order:
        assert {start, end} <= names
        assert table.column(start).dtype in ("date", "timestamp")
    if table.event_date:
        assert table.column(table.event_date).dtype == "date"
    if table.recorded_at:
        assert table.column(table.recorded_at).dtype == "timestamp"
        assert table.column(table.recorded_at).required


@pytest.mark.parametrize("table", list(TABLES.values()), ids=list(TABLES))
def test_foreign_keys_point_at_declared_columns(table):
    for c in table.columns:
        if c.references:
            ref_table, ref_col = c.references.split(".")
            assert ref_col in get_table(ref_table).column_names
            # parents are declared (and so loaded) before children
            assert list(TABLES).index(ref_table) <= list(TABLES).index(table.name)


def test_every_partner_agency_table_of_schema_md_is_declared():
    expected = {
        "ssd_person", "ext_person_identity", "ssd_family", "ext_person_relationship",
        "ssd_address", "ssd_disability", "ssd_contacts", "ssd_early_help_episodes",
        "ssd_cin_episodes", "ssd_cin_assessments", "ssd_assessment_factors", "ssd_s47_enquiry",
        "ssd_initial_cp_conference", "ssd_cp_plans", "ssd_cla_episodes", "ssd_missing",
        "ssd_involvements", "ssd_professionals", "ext_police_event", "ext_housing_event",
        "ext_asc_involvement", "ext_health_event", "ext_school_enrolment",
        "ext_school_attendance", "ext_school_exclusion", "ext_youth_justice", "ext_young_carer",
        "ext_early_years", "ext_service_involvement", "ext_family_voice", "ext_source_metadata",
    }
    assert expected <= set(TABLES)


def test_identifying_columns_live_only_in_restricted_tables_or_professional_contacts():
    for table in TABLES.values():
        identifying = [c.name for c in table.columns if c.identifying]
        if identifying and not table.restricted:
            assert table.name == "ssd_professionals", (table.name, identifying)
    assert {t.name for t in schema.analytics_tables()}.isdisjoint(
        {"ext_person_identity", "ext_service_involvement", "ext_family_voice"}
    )


def test_every_event_table_has_point_in_time_fields():
    tables = schema.event_tables()
    assert len(tables) >= 20
    for t in tables:
        assert t.recorded_at == f"{t.prefix}recorded_at"


def test_unknown_table_error_lists_declared_tables():
    with pytest.raises(KeyError, match="declared tables"):
        get_table("ssd_nonexistent")


def _valid_cp_plans() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cppl_cp_plan_id": ["P1", "P2"],
            "cppl_referral_id": ["R1", None],
            "cppl_icpc_id": [None, None],
            "cppl_person_id": ["C1", "C2"],
            "cppl_cp_plan_start_date": pd.to_datetime(["2024-01-10", "2024-03-01"]),
            "cppl_cp_plan_end_date": pd.to_datetime(["2024-09-30", None]),
            "cppl_cp_plan_ola": ["N", "N"],
            "cppl_cp_plan_initial_category": ["Neglect", "Emotional abuse"],
            "cppl_cp_plan_latest_category": ["Neglect", None],
            "cppl_recorded_at": pd.to_datetime(["2024-01-12 10:00", "2024-03-02 09:30"]),
        }
    )


def test_pandera_schema_accepts_valid_rows():
    frame = _valid_cp_plans()
    validated = pandera_schema("ssd_cp_plans").validate(frame)
    assert len(validated) == 2


@pytest.mark.parametrize(
    ("column", "value", "rule"),
    [
        ("cppl_cp_plan_initial_category", "Bad luck", "isin"),
        ("cppl_cp_plan_end_date", pd.Timestamp("2023-01-01"), "not_before"),
        ("cppl_person_id", None, "null"),
    ],
)
def test_pandera_schema_rejects_rule_breaking_rows(column, value, rule):
    frame = _valid_cp_plans()
    frame[column] = frame[column].astype(object)
    frame.loc[0, column] = value
    with pytest.raises(pandera.errors.SchemaError) as info:
        pandera_schema("ssd_cp_plans").validate(frame)
    assert rule in str(info.value) or column in str(info.value)


def test_pandera_schema_rejects_duplicate_primary_key():
    frame = _valid_cp_plans()
    frame.loc[1, "cppl_cp_plan_id"] = "P1"
    with pytest.raises(pandera.errors.SchemaError):
        pandera_schema("ssd_cp_plans").validate(frame)


def test_data_dictionary_documents_every_table_and_column():
    text = schema.data_dictionary_markdown()
    for table in TABLES.values():
        assert f"## `{table.name}`" in text
        for c in table.columns:
            assert f"`{c.name}`" in text
