"""The loader: clean extracts load whole; every bad input is named, counted and kept."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from bad_inputs import corpus
from earlywarning.data import warehouse as wh
from earlywarning.data.load import load
from earlywarning.data.schema import TABLES

LOAD_DATE = date(2024, 5, 1)


def _load(src: Path, target: Path, **kw):
    return load(src, target, load_date=LOAD_DATE, **kw)


@pytest.fixture(scope="module")
def clean_csv(tmp_path_factory) -> Path:
    return corpus.write_extracts(tmp_path_factory.mktemp("clean") / "csv", "csv")


@pytest.fixture(scope="module")
def clean_load(clean_csv, tmp_path_factory):
    target = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    return _load(clean_csv, target)


def test_clean_extracts_publish_every_table_with_nothing_rejected(clean_load):
    report = clean_load.report
    assert clean_load.published and report.clean
    expected = corpus.clean_tables()
    with wh.connect(clean_load.warehouse) as con:
        for name, rows in expected.items():
            assert con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] == len(rows), name
        assert con.execute("SELECT count(*) FROM _quarantine").fetchone()[0] == 0
        meta = wh.read_meta(con)
    assert meta["fingerprint"] == report.fingerprint
    assert {"loaded_at", "source_path", "mode", "schema_version"} <= set(meta)
    for t in report.tables:
        assert (t.rows_read, t.rows_accepted, t.rows_rejected) == (
            len(expected[t.table]), len(expected[t.table]), 0)


def test_warehouse_columns_have_the_contract_types(clean_load):
    with wh.connect(clean_load.warehouse) as con:
        cols = dict(con.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'ext_school_attendance'").fetchall())
    assert cols["atte_term_start_date"] == "DATE"
    assert cols["atte_recorded_at"] == "TIMESTAMP"
    assert cols["atte_sessions_possible"] == "BIGINT"


def test_report_files_are_written_beside_the_warehouse(clean_load):
    folder = clean_load.warehouse.parent
    data = json.loads((folder / "load_report.json").read_text())
    assert data["published"] is True
    assert {r["table"] for r in data["tables"]} == set(TABLES)
    assert "# Load report" in (folder / "load_report.md").read_text()
    with wh.connect(clean_load.warehouse) as con:
        rows = con.execute("SELECT n_rows FROM _load_report WHERE \"table\" = 'ssd_person' "
                           "AND rule = 'rows_read'").fetchall()
    assert rows == [(corpus.N_PEOPLE,)]


def test_fingerprint_does_not_depend_on_format_or_row_order(clean_load, tmp_path):
    tables = corpus.clean_tables()
    for rows in tables.values():
        rows.reverse()
    src = corpus.write_extracts(tmp_path / "pq", "parquet", tables)
    result = _load(src, tmp_path / "w.duckdb")
    assert result.published
    assert result.report.fingerprint == clean_load.report.fingerprint


def test_an_existing_duckdb_file_loads_like_its_extracts(clean_load, tmp_path):
    result = _load(clean_load.warehouse, tmp_path / "copy.duckdb")
    assert result.published and result.report.source_kind == "duckdb"
    assert result.report.fingerprint == clean_load.report.fingerprint
    ignored = [i.message for i in result.report.ignored]
    assert any("_quarantine" in m for m in ignored)
