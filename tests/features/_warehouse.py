"""A hand-made warehouse for feature tests: every schema table, empty, plus given rows."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml
from earlywarning.data.schema import TABLES

SQL_TYPES = {"string": "VARCHAR", "json": "VARCHAR", "date": "DATE", "timestamp": "TIMESTAMP",
             "int": "BIGINT", "float": "DOUBLE"}


def create_empty_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Create every declared table with its columns and no rows."""
    for t in TABLES.values():
        cols = ", ".join(f'"{c.name}" {SQL_TYPES[c.dtype]}' for c in t.columns)
        con.execute(f'CREATE TABLE "{t.name}" ({cols})')
    con.execute("CREATE TABLE _warehouse_meta (key VARCHAR, value VARCHAR)")
    con.execute("INSERT INTO _warehouse_meta VALUES ('fingerprint', 'test-fingerprint')")


def insert_rows(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows (missing columns are NULL), binding values as parameters."""
    t = TABLES[table]
    for row in rows:
        unknown = set(row) - set(t.column_names)
        assert not unknown, f"{table}: unknown columns {unknown}"
        names = list(row)
        marks = ", ".join("?" for _ in names)
        cols = ", ".join(f'"{n}"' for n in names)
        con.execute(f'INSERT INTO "{table}" ({cols}) VALUES ({marks})', [row[n] for n in names])


def make_warehouse(path: Path, tables: dict[str, list[dict[str, Any]]]) -> Path:
    """Write a DuckDB warehouse at ``path`` with every table and the given rows."""
    con = duckdb.connect(str(path))
    try:
        create_empty_tables(con)
        for table, rows in tables.items():
            insert_rows(con, table, rows)
    finally:
        con.close()
    return path


def ts(d: str, hhmm: str = "09:00") -> datetime:
    """A recorded_at timestamp on day ``d`` at ``hhmm``."""
    return datetime.fromisoformat(f"{d}T{hhmm}:00")


def d(s: str) -> date:
    return date.fromisoformat(s)


def person(pid: str, dob: str, child: str = "Y", sex: str = "F") -> dict[str, Any]:
    """An ``ssd_person`` row (ethnicity WBRI)."""
    return dict(pers_person_id=pid, pers_sex=sex, pers_ethnicity="WBRI", pers_dob=d(dob),
                pers_is_child=child)


def membership(table_id: str, family_id: str, pid: str, start: str,
               recorded: str) -> dict[str, Any]:
    """An ``ssd_family`` row: ``pid`` in ``family_id`` from ``start``, first known ``recorded``."""
    return dict(fami_table_id=table_id, fami_family_id=family_id, fami_person_id=pid,
                fami_start_date=d(start), fami_recorded_at=ts(recorded))


def write_pipeline(path: Path, warehouse: Path, out: Path, **overrides: Any) -> Path:
    """Write a small pipeline YAML for ``warehouse``; ``overrides`` replace whole sections."""
    doc: dict[str, Any] = {
        "version": 1,
        "name": "test",
        "data": {"warehouse": str(warehouse), "data_end": "2025-12-31"},
        "cohort": {"name": "all_children"},
        "outcome": {"events": "cp_plan | cla", "horizon_days": 365},
        "as_of": {"start": "2024-01-01", "end": "2024-12-01", "frequency": "monthly",
                  "score": "2025-12-31"},
        "features": {"windows": [90, 365, 1095], "output_dir": str(out)},
    }
    doc.update(overrides)
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
