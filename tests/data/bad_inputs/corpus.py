"""A small clean linked dataset built from schema.py, and broken copies of it.

Nothing here is committed data: the clean dataset is generated from the declarations
(every table, every column, codes, bounds, keys, date order and foreign keys), so it
follows the schema as it changes. Each ``break_*`` function damages one extract in a
written folder in one way and returns what the loader must say about it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from earlywarning.data.schema import AGENCIES, HEALTH_SERVICE_AGENCY, TABLES, Column, Table

EXTRACT_DATE = date(2024, 4, 1)
FIRST_DATE = date(2020, 1, 6)
N_PEOPLE = 24
N_ROWS = 12  # rows of every other table

_ARROW = {"string": pa.string(), "json": pa.string(), "date": pa.date32(),
          "timestamp": pa.timestamp("us"), "int": pa.int64(), "float": pa.float64()}


def _agency_code(table: Table) -> str:
    return table.agency if table.agency in AGENCIES else next(iter(HEALTH_SERVICE_AGENCY.values()))


def _value(table: Table, col: Column, i: int, keys: dict[str, list]) -> object:
    """A valid value for row ``i`` of ``col`` (parents' keys in ``keys``)."""
    if col.references:
        parents = keys[col.references]
        return parents[i % len(parents)]
    if table.name == "ext_source_metadata":
        if col.name == "meta_table":
            return list(TABLES)[i % len(TABLES)]
        if col.name == "meta_agency":
            return _agency_code(TABLES[list(TABLES)[i % len(TABLES)]])
        if col.name == "meta_extract_date":
            return EXTRACT_DATE
    if col.name == table.primary_key[0] or col.name.endswith("_id") and col.dtype == "string":
        return f"{table.prefix}{i:04d}"
    if col.name.endswith("family_id"):
        return f"fam{i // 3:04d}"
    if col.codes is not None:
        code = col.codes[i % len(col.codes)]
        return json.dumps([code]) if col.dtype == "json" else code
    day = FIRST_DATE + timedelta(days=7 * i)
    if col.dtype == "date":
        return day
    if col.dtype == "timestamp":
        return datetime.combine(day + timedelta(days=3), datetime.min.time()).replace(hour=9)
    if col.dtype == "int":
        hi = col.max_value if col.max_value is not None else 20
        return int(min(hi, 10 + (i % 3)))
    if col.dtype == "float":
        hi = col.max_value if col.max_value is not None else 5
        return float(min(hi, 0.5))
    if col.dtype == "json":
        return json.dumps({"FLAG": "Y"})
    if col.required or i % 4:
        return f"{col.name.split('_', 1)[1]} {i}"
    return None


def clean_tables(n_people: int = N_PEOPLE, n_rows: int = N_ROWS) -> dict[str, list[dict]]:
    """Rows of every declared table that pass every rule of the schema."""
    keys: dict[str, list] = {}
    out: dict[str, list[dict]] = {}
    for t in TABLES.values():
        n = n_people if t.name in ("ssd_person", "ext_person_identity") else n_rows
        if t.name == "ext_source_metadata":
            n = len(TABLES)
        rows = []
        for i in range(n):
            row = {c.name: _value(t, c, i, keys) for c in t.columns}
            for start, end in t.date_order:
                optional = end not in t.required_columns
                row[end] = None if optional and i % 3 == 0 else row[start] + timedelta(days=30)
            rows.append(row)
        for c in t.columns:
            keys[f"{t.name}.{c.name}"] = [r[c.name] for r in rows]
        out[t.name] = rows
    return out


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(path: Path, columns: list[str], rows: list[dict], encoding: str = "utf-8") -> Path:
    """Write rows as a CSV extract with a header line."""
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in rows:
            w.writerow([_text(r.get(c)) for c in columns])
    return path


def write_extracts(folder: Path, fmt: str = "csv", tables: dict | None = None) -> Path:
    """Write the clean dataset (or ``tables``) as one ``<table>.<fmt>`` per table."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = tables or clean_tables()
    for name, rows in tables.items():
        t = TABLES[name]
        if fmt == "csv":
            write_csv(folder / f"{name}.csv", t.column_names, rows)
        else:
            schema = pa.schema([(c.name, _ARROW[c.dtype]) for c in t.columns])
            data = {c.name: [r[c.name] for r in rows] for c in t.columns}
            pq.write_table(pa.table(data, schema=schema), folder / f"{name}.parquet")
    return folder


# --- breaking one extract ------------------------------------------------------------------
@dataclass
class Defect:
    """What the loader must report for one broken extract."""

    table: str
    file: str
    rule: str
    column: str | None = None
    row: int | None = None  # 1-based data row
    value: str | None = None


def _rewrite(folder: Path, table: str, edit) -> None:  # noqa: ANN001
    """Read a CSV extract of the clean folder, apply ``edit(rows)``, write it back."""
    path = folder / f"{table}.csv"
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        columns, rows = list(reader.fieldnames), list(reader)
    columns = edit(rows) or columns
    write_csv(path, columns, rows)


def break_missing_column(folder: Path) -> Defect:
    """Drop the required column ``excl_type`` from ext_school_exclusion."""
    def edit(rows: list[dict]) -> list[str]:
        for r in rows:
            del r["excl_type"]
        return [c for c in TABLES["ext_school_exclusion"].column_names if c != "excl_type"]
    _rewrite(folder, "ext_school_exclusion", edit)
    return Defect("ext_school_exclusion", "ext_school_exclusion.csv", "missing_column",
                  "excl_type")


def break_wrong_type(folder: Path) -> Defect:
    """A word in the integer column ``addr_imd_decile`` (row 3)."""
    _rewrite(folder, "ssd_address", lambda rows: rows[2].update(addr_imd_decile="ten"))
    return Defect("ssd_address", "ssd_address.csv", "wrong_type", "addr_imd_decile", 3, "ten")


def break_unknown_code(folder: Path) -> Defect:
    """An ethnicity code that is not in the DfE list (row 20: a person with no events)."""
    _rewrite(folder, "ssd_person", lambda rows: rows[19].update(pers_ethnicity="XXXX"))
    return Defect("ssd_person", "ssd_person.csv", "unknown_code", "pers_ethnicity", 20, "XXXX")


def break_unknown_json_code(folder: Path) -> Defect:
    """An assessment-factor array with one code not in the list (row 4)."""
    _rewrite(folder, "ssd_assessment_factors",
             lambda rows: rows[3].update(cinf_assessment_factors_json='["3A", "ZZ9"]'))
    return Defect("ssd_assessment_factors", "ssd_assessment_factors.csv", "unknown_code",
                  "cinf_assessment_factors_json", 4, '["3A", "ZZ9"]')


def break_duplicate_key(folder: Path) -> Defect:
    """Row 5 of ssd_contacts repeats the id of row 2."""
    def edit(rows: list[dict]) -> None:
        rows[4]["cont_contact_id"] = rows[1]["cont_contact_id"]
    _rewrite(folder, "ssd_contacts", edit)
    return Defect("ssd_contacts", "ssd_contacts.csv", "duplicate_key", "cont_contact_id", 5,
                  "cont_0001")


def break_end_before_start(folder: Path) -> Defect:
    """A CP plan (row 2) that ends ten days before it starts."""
    def edit(rows: list[dict]) -> None:
        start = date.fromisoformat(rows[1]["cppl_cp_plan_start_date"])
        rows[1]["cppl_cp_plan_end_date"] = (start - timedelta(days=10)).isoformat()
    _rewrite(folder, "ssd_cp_plans", edit)
    return Defect("ssd_cp_plans", "ssd_cp_plans.csv", "end_before_start",
                  "cppl_cp_plan_end_date", 2)


def break_future_date(folder: Path) -> Defect:
    """A police incident dated after the extract date (row 1)."""
    _rewrite(folder, "ext_police_event", lambda rows: rows[0].update(poli_event_date="2099-01-01"))
    return Defect("ext_police_event", "ext_police_event.csv", "future_date", "poli_event_date", 1,
                  "2099-01-01")


def break_orphan_person(folder: Path) -> Defect:
    """A housing event (row 2) for a person id that is not in ssd_person."""
    _rewrite(folder, "ext_housing_event", lambda rows: rows[1].update(hous_person_id="NOBODY"))
    return Defect("ext_housing_event", "ext_housing_event.csv", "orphan_reference",
                  "hous_person_id", 2, "NOBODY")


def break_empty_file(folder: Path) -> Defect:
    """ssd_disability.csv with zero bytes."""
    (folder / "ssd_disability.csv").write_bytes(b"")
    return Defect("ssd_disability", "ssd_disability.csv", "empty_file")


def break_encoding(folder: Path) -> Defect:
    """ssd_department.csv saved as Latin-1 with an accented team name on data row 4."""
    rows = clean_tables()["ssd_department"]
    rows[3]["dept_team_name"] = "Équipe nord"
    path = write_csv(folder / "ssd_department.csv", TABLES["ssd_department"].column_names, rows,
                     encoding="latin-1")
    offset = path.read_bytes().index("É".encode("latin-1"))
    return Defect("ssd_department", "ssd_department.csv", "wrong_encoding", None, 4, str(offset))


def break_several_rules_in_one_row(folder: Path) -> Defect:
    """Attendance row 2: 999 sessions possible (> 400), 1000 missed, term ends before it starts.

    Three rules broken by one row: ``out_of_range``, ``end_before_start`` and the declared
    extra check ``missed_within_possible``.
    """
    def edit(rows: list[dict]) -> None:
        start = date.fromisoformat(rows[1]["atte_term_start_date"])
        rows[1].update(atte_sessions_possible="999", atte_sessions_missed="1000",
                       atte_term_end_date=(start - timedelta(days=1)).isoformat())
    _rewrite(folder, "ext_school_attendance", edit)
    return Defect("ext_school_attendance", "ext_school_attendance.csv",
                  "out_of_range; end_before_start; missed_within_possible",
                  "atte_sessions_possible; atte_term_end_date; atte_sessions_possible, "
                  "atte_sessions_missed", 2)


ALL_ROW_DEFECTS = (break_wrong_type, break_unknown_code, break_unknown_json_code,
                   break_duplicate_key, break_end_before_start, break_future_date,
                   break_orphan_person, break_several_rules_in_one_row)


def write_large_csv(folder: Path, n_rows: int) -> Path:
    """Replace ext_police_event.csv by ``n_rows`` valid rows written by DuckDB (streamed)."""
    t = TABLES["ext_police_event"]
    people = [r["pers_person_id"] for r in clean_tables()["ssd_person"]]
    people_sql = ", ".join(f"'{p}'" for p in people)
    types = TABLES["ext_police_event"].column("poli_event_type").codes
    roles = TABLES["ext_police_event"].column("poli_role").codes
    path = folder / "ext_police_event.csv"
    select = {
        "poli_event_id": "'poli_' || i",
        "poli_incident_id": "'inc_' || (i // 2)",
        "poli_person_id": f"([{people_sql}])[1 + i % {len(people)}]",
        "poli_event_date": "DATE '2020-01-01' + CAST(i % 1000 AS INTEGER)",
        "poli_event_type": f"([{', '.join(repr(x) for x in types)}])[1 + i % {len(types)}]",
        "poli_role": f"([{', '.join(repr(x) for x in roles)}])[1 + i % {len(roles)}]",
        "poli_recorded_at": "TIMESTAMP '2020-01-02 08:00:00' + INTERVAL 1 DAY * (i % 1000)",
    }
    assert list(select) == t.column_names
    cols = ", ".join(f"{v} AS {k}" for k, v in select.items())
    duckdb.sql(f"COPY (SELECT {cols} FROM range({n_rows}) r(i)) TO '{path}' (HEADER, "
               "DELIMITER ',')")
    return path
