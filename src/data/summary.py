"""Summaries of a loaded warehouse: what is in it, by agency and year, and timelines.

Everything here is generated from the declarations in :mod:`earlywarning.data.schema`
(event date, recorded-at and person columns), so a new table appears in the
summaries without new code. Restricted tables are never read.
"""

from __future__ import annotations

import duckdb
import pandas as pd
from earlywarning.data.schema import AGENCIES, HEALTH_SERVICE_AGENCY, TABLES, Table

__all__ = [
    "EVENT_DETAIL_COLUMNS",
    "table_row_counts",
    "events_by_agency_year",
    "coverage_by_agency_year",
    "funnel_by_year",
    "person_timeline",
    "family_timeline",
]

EVENT_DETAIL_COLUMNS: dict[str, tuple[str, ...]] = {
    "ssd_contacts": ("cont_contact_source_desc",),
    "ssd_early_help_episodes": ("earl_episode_reason",),
    "ssd_cin_episodes": ("cine_cin_primary_need_code", "cine_referral_nfa"),
    "ssd_cin_assessments": ("cina_assessment_outcome_nfa",),
    "ssd_s47_enquiry": ("s47e_s47_nfa",),
    "ssd_initial_cp_conference": ("icpc_icpc_outcome_cp_flag",),
    "ssd_cp_plans": ("cppl_cp_plan_initial_category",),
    "ssd_cla_episodes": ("clae_cla_primary_need_code",),
    "ssd_legal_status": ("lega_legal_status",),
    "ssd_missing": ("miss_missing_episode_type",),
    "ext_police_event": ("poli_event_type", "poli_role"),
    "ext_housing_event": ("hous_event_type",),
    "ext_asc_involvement": ("asci_service_type",),
    "ext_health_event": ("heal_service", "heal_event_type"),
    "ext_school_enrolment": ("scho_phase",),
    "ext_school_exclusion": ("excl_type",),
    "ext_youth_justice": ("yjus_outcome",),
    "ext_early_years": ("eyrs_two_year_old_funded",),
}
"""For each event table, the columns that say what kind of event a row is."""

_TIMELINE_SKIP = {"ssd_family", "ext_person_relationship", "ssd_involvements"}


def _present(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("select table_name from information_schema.tables").fetchall()
    return {r[0] for r in rows}


def _timeline_tables(con: duckdb.DuckDBPyConnection) -> list[Table]:
    present = _present(con)
    return [
        t for t in TABLES.values()
        if t.is_event_table and not t.restricted and t.person_column
        and t.name in present and t.name not in _TIMELINE_SKIP
    ]


def table_row_counts(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Row count of every declared table present in the warehouse.

    Returns
    -------
    pandas.DataFrame
        Columns ``table``, ``agency``, ``rows``, ``restricted``.
    """
    present = _present(con)
    rows = []
    for t in TABLES.values():
        if t.name in present:
            n = con.execute(f'select count(*) from "{t.name}"').fetchone()[0]
            rows.append({"table": t.name, "agency": t.agency, "rows": n,
                         "restricted": t.restricted})
    return pd.DataFrame(rows)


def _agency_expr(t: Table) -> str:
    if t.name == "ext_health_event":
        cases = " ".join(f"when '{s}' then '{a}'" for s, a in HEALTH_SERVICE_AGENCY.items())
        return f"case heal_service {cases} else 'health' end"
    return f"'{t.agency}'"


def events_by_agency_year(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Count event rows per agency and financial year (ending 31 March).

    Returns
    -------
    pandas.DataFrame
        Columns ``agency``, ``year_ending`` (int), ``events``.
    """
    parts = [
        f"select {_agency_expr(t)} as agency, "
        f"year({t.event_date} + interval 9 month) as year_ending "
        f'from "{t.name}" where {t.event_date} is not null'
        for t in _timeline_tables(con)
    ]
    if not parts:
        return pd.DataFrame(columns=["agency", "year_ending", "events"])
    sql = (f"select agency, year_ending, count(*) as events from ({' union all '.join(parts)}) "
           "group by all order by agency, year_ending")
    return con.execute(sql).df()


def coverage_by_agency_year(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Share of families whose records from each source were linked, at each 31 March.

    Returns
    -------
    pandas.DataFrame
        Columns ``agency``, ``year_ending``, ``families_linked``, ``families``,
        ``coverage`` (0-1).
    """
    if "ext_source_coverage" not in _present(con):
        return pd.DataFrame(columns=["agency", "year_ending", "families_linked", "families",
                                     "coverage"])
    sql = """
    with years as (
        select distinct year(cove_start_date + interval 9 month) as y from ext_source_coverage
    ), snap as (select y as year_ending, make_date(y, 3, 31) as d from years),
    fams as (select count(distinct fami_family_id) as n from ssd_family)
    select c.cove_source as agency, s.year_ending,
           count(distinct c.cove_family_id) as families_linked,
           (select n from fams) as families
    from snap s join ext_source_coverage c
      on c.cove_start_date <= s.d and (c.cove_end_date is null or c.cove_end_date >= s.d)
    group by all order by agency, year_ending
    """
    out = con.execute(sql).df()
    out["coverage"] = out["families_linked"] / out["families"].where(out["families"] > 0)
    return out


_FUNNEL = {
    "referrals": ("ssd_cin_episodes", "cine_referral_date"),
    "assessments": ("ssd_cin_assessments", "cina_assessment_start_date"),
    "s47_enquiries": ("ssd_s47_enquiry", "s47e_s47_start_date"),
    "initial_cp_conferences": ("ssd_initial_cp_conference", "icpc_icpc_date"),
    "cp_plan_starts": ("ssd_cp_plans", "cppl_cp_plan_start_date"),
    "care_starts": ("ssd_cla_episodes", "clae_cla_episode_start_date"),
}


def funnel_by_year(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Children's social care funnel counts per year ending 31 March.

    Returns
    -------
    pandas.DataFrame
        One row per year ending, one column per funnel stage (events counted by
        event date), plus ``children`` (children aged 0-17 at 31 March).
    """
    present = _present(con)
    frames = []
    for stage, (table, col) in _FUNNEL.items():
        if table in present:
            frames.append(con.execute(
                f"select year({col} + interval 9 month) as year_ending, count(*) as {stage} "
                f'from "{table}" group by 1').df().set_index("year_ending"))
    if not frames:
        return pd.DataFrame()
    out = pd.concat(frames, axis=1).fillna(0).astype("int64").sort_index()
    children = con.execute(
        """select y as year_ending, count(*) as children from ssd_person,
           (select unnest(?) as y) years
           where pers_is_child = 'Y' and pers_dob <= make_date(y, 3, 31)
             and pers_dob > make_date(y - 18, 3, 31)
             and (pers_death_date is null or pers_death_date > make_date(y, 3, 31))
           group by y""",
        [list(map(int, out.index))],
    ).df().set_index("year_ending")
    return out.join(children)


def person_timeline(con: duckdb.DuckDBPyConnection, person_ids: list[str]) -> pd.DataFrame:
    """Every dated event about the given people, oldest first.

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        Warehouse connection.
    person_ids : list of str
        Pseudonymous person ids.

    Returns
    -------
    pandas.DataFrame
        Columns ``person_id``, ``date``, ``recorded_at``, ``table``, ``agency``,
        ``detail`` (the event kind, from :data:`EVENT_DETAIL_COLUMNS`).
    """
    parts = []
    for t in _timeline_tables(con):
        detail_cols = [c for c in EVENT_DETAIL_COLUMNS.get(t.name, ()) if c in t.column_names]
        detail = (" || ' ' || ".join(f"coalesce(cast({c} as varchar), '')" for c in detail_cols)
                  if detail_cols else "''")
        parts.append(
            f"select {t.person_column} as person_id, {t.event_date} as date, "
            f"{t.recorded_at} as recorded_at, '{t.name}' as \"table\", "
            f"{_agency_expr(t)} as agency, trim({detail}) as detail "
            f'from "{t.name}" where {t.person_column} in (select unnest(?))'
        )
    if not parts:
        return pd.DataFrame(columns=["person_id", "date", "recorded_at", "table", "agency",
                                     "detail"])
    sql = " union all ".join(parts) + " order by date, person_id, \"table\""
    return con.execute(sql, [list(person_ids)] * len(parts)).df()


def family_timeline(con: duckdb.DuckDBPyConnection, family_id: str) -> pd.DataFrame:
    """Timeline of every member of a family, with each member's role.

    Returns
    -------
    pandas.DataFrame
        :func:`person_timeline` columns plus ``is_child`` ('Y'/'N') and the
        agency display name ``agency_name``.
    """
    members = con.execute(
        "select distinct fami_person_id from ssd_family where fami_family_id = ?", [family_id]
    ).df()["fami_person_id"].tolist()
    out = person_timeline(con, members)
    kids = con.execute(
        "select pers_person_id, pers_is_child from ssd_person where pers_person_id in "
        "(select unnest(?))", [members]).df()
    out = out.merge(kids, left_on="person_id", right_on="pers_person_id", how="left")
    out = out.drop(columns="pers_person_id").rename(columns={"pers_is_child": "is_child"})
    out["agency_name"] = out["agency"].map(AGENCIES).fillna(out["agency"])
    return out
