"""The loader: clean extracts load whole; every bad input is named, counted and kept."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from bad_inputs import corpus
from earlywarning.data import warehouse as wh
from earlywarning.data.load import load
from earlywarning.data.schema import TABLES
from hypothesis import given, settings
from hypothesis import strategies as st

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


@pytest.fixture(scope="module")
def real_style_load(tmp_path_factory):
    """An SSD-style extract: names and UPN in ssd_person, no identity file, police
    events without recorded_at."""
    tables = corpus.clean_tables()
    for i, row in enumerate(tables["ssd_person"]):
        row.update(pers_forename=f"Forename{i}", pers_surname=f"Surname{i}",
                   pers_upn=f"A{i:012d}")
    del tables["ext_person_identity"]
    for row in tables["ext_police_event"]:
        del row["poli_recorded_at"]
    folder = tmp_path_factory.mktemp("real") / "src"
    corpus.write_extracts(folder, "csv", tables)
    columns = [*TABLES["ssd_person"].column_names, "pers_forename", "pers_surname", "pers_upn"]
    corpus.write_csv(folder / "ssd_person.csv", columns, tables["ssd_person"])
    police = [c for c in TABLES["ext_police_event"].column_names if c != "poli_recorded_at"]
    corpus.write_csv(folder / "ext_police_event.csv", police, tables["ext_police_event"])
    return _load(folder, tmp_path_factory.mktemp("real_wh") / "warehouse.duckdb")


def test_identifying_person_columns_move_to_the_identity_table(real_style_load):
    assert real_style_load.published
    with wh.connect(real_style_load.warehouse) as con:
        person_cols = {r[0] for r in con.execute("DESCRIBE ssd_person").fetchall()}
        identity = con.execute("SELECT iden_person_id, iden_forename, iden_upn FROM "
                               "ext_person_identity ORDER BY 1").fetchall()
    assert not person_cols & {"pers_forename", "pers_surname", "pers_upn"}
    assert len(identity) == corpus.N_PEOPLE
    assert identity[0] == ("pers_0000", "Forename0", f"A{0:012d}")
    notes = [n for n in real_style_load.report.table("ssd_person").notes
             if n.rule == "pseudonymised"]
    assert {n.column for n in notes} == {"pers_forename", "pers_surname", "pers_upn"}


def test_names_never_reach_the_report_files(real_style_load):
    folder = real_style_load.warehouse.parent
    text = (folder / "load_report.json").read_text() + (folder / "load_report.md").read_text()
    assert "Forename" not in text and "Surname" not in text


def test_missing_recorded_at_is_derived_from_the_extract_date(real_style_load):
    with wh.connect(real_style_load.warehouse) as con:
        stamps = con.execute("SELECT DISTINCT poli_recorded_at FROM ext_police_event"
                             ).fetchall()
    assert [s[0].date() for s in stamps] == [corpus.EXTRACT_DATE]
    notes = real_style_load.report.table("ext_police_event").notes
    assert [n.rule for n in notes] == ["derived_recorded_at"]
    assert "extract date in ext_source_metadata 2024-04-01" in notes[0].message


def test_a_failure_mid_load_leaves_the_previous_warehouse_intact(clean_csv, tmp_path,
                                                                  monkeypatch):
    import earlywarning.data.load as loader

    target = tmp_path / "warehouse.duckdb"
    assert _load(clean_csv, target).published
    before = target.read_bytes()
    real = loader._load_table

    def failing(con, extract, state):
        if extract.table.name == "ssd_cp_plans":
            raise RuntimeError("disk unplugged")
        return real(con, extract, state)

    monkeypatch.setattr(loader, "_load_table", failing)
    with pytest.raises(RuntimeError, match="disk unplugged"):
        _load(clean_csv, target, quarantine=True)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "load_report.json", "load_report.md", "warehouse.duckdb"]


def test_a_killed_load_leaves_the_previous_warehouse_and_its_leftovers_are_cleared(
        clean_csv, tmp_path):
    target = tmp_path / "warehouse.duckdb"
    assert _load(clean_csv, target).published
    before = target.read_bytes()
    script = (
        "import os, sys\n"
        "import earlywarning.data.load as loader\n"
        "real = loader._load_table\n"
        "def crash(con, extract, state):\n"
        "    if extract.table.name == 'ssd_cp_plans':\n"
        "        os._exit(9)\n"
        "    return real(con, extract, state)\n"
        "loader._load_table = crash\n"
        "loader.load(sys.argv[1], sys.argv[2])\n")
    proc = subprocess.run([sys.executable, "-c", script, str(clean_csv), str(target)])
    assert proc.returncode == 9
    assert target.read_bytes() == before
    assert any(".building-" in p.name for p in tmp_path.iterdir())
    assert _load(clean_csv, target).published
    assert not any(".building-" in p.name for p in tmp_path.iterdir())


def test_cli_prints_the_report_and_exits_non_zero_when_nothing_is_published(clean_csv,
                                                                           tmp_path):
    from earlywarning.cli import app
    from typer.testing import CliRunner

    folder = corpus.write_extracts(tmp_path / "src", "csv")
    corpus.break_orphan_person(folder)
    runner = CliRunner()
    strict = runner.invoke(app, ["load", str(folder), "--warehouse",
                                 str(tmp_path / "w.duckdb")], terminal_width=200)
    assert strict.exit_code == 1
    printed = " ".join(strict.output.split())  # rich wraps lines at the terminal width
    assert "(rule orphan_reference)" in printed and "NOT published" in printed
    assert not (tmp_path / "w.duckdb").exists()
    loose = runner.invoke(app, ["load", str(folder), "--warehouse", str(tmp_path / "w.duckdb"),
                                "--quarantine", "--report-dir", str(tmp_path / "rep")],
                          terminal_width=200)
    assert loose.exit_code == 0, loose.output
    assert (tmp_path / "rep" / "load_report.md").exists()
    missing = runner.invoke(app, ["load", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "no such folder" in " ".join(missing.output.split())


def test_connect_names_the_command_that_builds_a_missing_warehouse(tmp_path):
    with pytest.raises(FileNotFoundError, match="earlywarning load"):
        wh.connect(tmp_path / "none.duckdb")


def test_dates_before_1900_in_typed_extracts_are_rejected(tmp_path):
    tables = corpus.clean_tables()
    tables["ssd_missing"][0]["miss_missing_episode_start_date"] = date(1850, 1, 1)
    tables["ssd_missing"][0]["miss_missing_episode_end_date"] = None
    folder = corpus.write_extracts(tmp_path / "pq", "parquet", tables)
    result = _load(folder, tmp_path / "w.duckdb", quarantine=True)
    rules = result.report.table("ssd_missing").rule_counts
    assert [(r.rule, r.column, r.n_rows) for r in rules] == [
        ("wrong_type", "miss_missing_episode_start_date", 1)]
    assert rules[0].first_message.startswith("ssd_missing.parquet row 1: ")


def test_a_warehouse_can_be_reloaded_in_place(clean_load, tmp_path):
    target = tmp_path / "warehouse.duckdb"
    shutil.copyfile(clean_load.warehouse, target)
    result = _load(target, target)
    assert result.published
    assert result.report.fingerprint == clean_load.report.fingerprint
    with wh.connect(target) as con:
        assert wh.read_meta(con)["source_kind"] == "duckdb"


@settings(max_examples=60, deadline=None)
@given(text=st.text(min_size=0, max_size=300), cut=st.integers(0, 400),
       bad=st.sampled_from([b"\xe9", b"\xff", b"\xc3", b"\x80"]),
       chunk=st.integers(1, 7))
def test_the_encoding_scan_finds_the_first_bad_byte_across_chunk_boundaries(
        tmp_path_factory, text, cut, bad, chunk):
    from earlywarning.data._sources import first_invalid_utf8

    good = text.encode("utf-8")
    cut = min(cut, len(good))  # may split a character: Python's decoder is the oracle
    data = good[:cut] + bad + good[cut:]
    path = tmp_path_factory.mktemp("enc") / "f.csv"
    path.write_bytes(data)
    try:
        data.decode("utf-8")
        expected = None
    except UnicodeDecodeError as exc:
        expected = (exc.start, data[exc.start], data[:exc.start].count(b"\n") + 1)
    assert first_invalid_utf8(path, chunk_size=chunk) == expected


def test_the_brief_report_sums_rejections_by_rule_and_keeps_failures_and_the_verdict(tmp_path):
    import io

    from rich.console import Console

    folder = corpus.write_extracts(tmp_path / "src", "csv")
    corpus.break_orphan_person(folder)
    result = _load(folder, tmp_path / "w.duckdb", quarantine=True)
    rejected = sum(t.rows_rejected for t in result.report.tables)
    assert rejected > 0

    def printed(brief: bool) -> str:
        out = io.StringIO()
        result.report.print(Console(file=out, width=200), brief=brief)
        return out.getvalue()

    full, brief = printed(False), printed(True)
    assert "Load report: tables" in brief and "published" in brief
    assert f"orphan_reference {rejected:,}" in brief  # the only rule broken here
    assert "(rule orphan_reference)" in full and "(rule orphan_reference)" not in brief
    assert len(brief.splitlines()) < len(full.splitlines())
