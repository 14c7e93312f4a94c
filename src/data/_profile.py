"""Profiles of a loaded warehouse for the load report: missingness, date ranges, coverage."""

from __future__ import annotations

import duckdb
from earlywarning.data import _validate as val
from earlywarning.data._report import TableReport
from earlywarning.data.schema import AGENCIES, HEALTH_SERVICE_AGENCY, TABLES, Table
from earlywarning.data.warehouse import hash_sum_sql

METADATA_TABLE = "ext_source_metadata"


def profile_table(con: duckdb.DuckDBPyConnection, t: Table,
                  tr: TableReport) -> tuple[int, int]:
    """Missingness of every column and the range of every date column, over accepted rows.

    The same scan gives the table's fingerprint.

    Returns
    -------
    tuple of int
        ``(row_count, hash_sum)`` as :func:`earlywarning.data.warehouse.table_fingerprint`.
    """
    items = ["count(*)", hash_sum_sql(t.column_names)]
    items += [f"count({val.quote_ident(c.name)})" for c in t.columns]
    dated = [c.name for c in t.columns if c.name in (t.event_date, t.recorded_at)]
    items += [f"min({val.quote_ident(c)}), max({val.quote_ident(c)})" for c in dated]
    row = con.execute(f"SELECT {', '.join(items)} FROM {val.quote_ident(t.name)}").fetchone()
    n, total, *rest = row
    for c, present in zip(t.columns, rest[:len(t.columns)], strict=True):
        tr.missingness.append({"column": c.name, "n_missing": n - present,
                               "share": (n - present) / n if n else 0.0})
    rest = rest[len(t.columns):]
    for i, c in enumerate(dated):
        lo, hi = rest[2 * i], rest[2 * i + 1]
        tr.date_ranges.append({"column": c, "min": None if lo is None else str(lo),
                               "max": None if hi is None else str(hi),
                               "n_rows": n - tr.missingness[t.column_names.index(c)]
                               ["n_missing"]})
    return int(n), int(total)


def coverage(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Per agency: families linked (``ext_source_coverage``) and events actually present."""
    total = con.execute("SELECT count(DISTINCT fami_family_id) FROM ssd_family").fetchone()[0]
    linked = dict(con.execute("SELECT cove_source, count(DISTINCT cove_family_id) FROM "
                              "ext_source_coverage GROUP BY 1").fetchall())
    extract = dict(con.execute(f"SELECT meta_agency, max(meta_extract_date) FROM "
                               f"{METADATA_TABLE} GROUP BY 1").fetchall())
    parts = []
    for t in TABLES.values():
        if not (t.event_date and t.person_column) or t.restricted:
            continue
        person, when = val.quote_ident(t.person_column), val.quote_ident(t.event_date)
        if t.agency in AGENCIES:
            agency = val.sql_literal(t.agency)
        else:  # rows name their own agency (ext_health_event)
            service = next(c.name for c in t.columns if c.codes and set(c.codes) ==
                           set(HEALTH_SERVICE_AGENCY))
            cases = " ".join(f"WHEN {val.sql_literal(k)} THEN {val.sql_literal(v)}"
                             for k, v in HEALTH_SERVICE_AGENCY.items())
            agency = f"CASE {val.quote_ident(service)} {cases} END"
        parts.append(f"SELECT {agency} AS agency, {person} AS pid, {when} AS d "
                     f"FROM {val.quote_ident(t.name)}")
    events = {r[0]: r[1:] for r in con.execute(
        f"SELECT agency, count(*), count(DISTINCT pid), min(d), max(d) FROM "
        f"({' UNION ALL '.join(parts)}) GROUP BY 1").fetchall()}
    out = []
    for code, name in AGENCIES.items():
        if code not in linked and code not in events and code not in extract:
            continue
        n_events, people, first, last = events.get(code, (0, 0, None, None))
        n_linked = linked.get(code, 0)
        out.append({"agency": code, "name": name, "families_linked": n_linked,
                    "families_total": total, "share": n_linked / total if total else None,
                    "events": n_events, "people": people,
                    "first": None if first is None else str(first),
                    "last": None if last is None else str(last),
                    "extract_date": None if code not in extract else str(extract[code])})
    return out
