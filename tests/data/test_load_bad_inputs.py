"""The bad-input corpus: each broken extract gets a message naming file, table, column,
row and rule; strict mode publishes nothing; quarantine mode loses no row."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from bad_inputs import corpus
from earlywarning.data import _validate as val
from earlywarning.data import warehouse as wh
from earlywarning.data.load import load
from earlywarning.data.schema import ETHNICITY_CODES, TABLES

LOAD_DATE = date(2024, 5, 1)


def _quarantined(path: Path) -> dict[tuple[str, int], dict]:
    with wh.connect(path) as con:
        cur = con.execute('SELECT * FROM _quarantine')
        names = [d[0] for d in cur.description]
        return {(r[0], r[2]): dict(zip(names, r, strict=True)) for r in cur.fetchall()}


@pytest.fixture(scope="module")
def row_defects(tmp_path_factory):
    """All row-level defects in one folder, loaded once in quarantine mode."""
    folder = corpus.write_extracts(tmp_path_factory.mktemp("rows") / "src", "csv")
    defects = {f.__name__: f(folder) for f in corpus.ALL_ROW_DEFECTS}
    target = tmp_path_factory.mktemp("rows_wh") / "warehouse.duckdb"
    result = load(folder, target, quarantine=True, load_date=LOAD_DATE)
    return folder, defects, result, _quarantined(target)


def _expected_message(name: str, d: corpus.Defect) -> str:
    rows = corpus.clean_tables()
    common = {"file": d.file, "row": d.row, "table": d.table, "column": d.column,
              "rule": d.rule}
    if name == "break_wrong_type":
        return val.MSG_WRONG_TYPE.format(**common, value="'ten'", dtype="int")
    if name == "break_unknown_code":
        return val.MSG_UNKNOWN_CODE.format(**common, value="'XXXX'",
                                           allowed=", ".join(ETHNICITY_CODES))
    if name == "break_unknown_json_code":
        codes = TABLES[d.table].column(d.column).codes
        return val.MSG_UNKNOWN_CODE.format(**common, value="'[\"3A\", \"ZZ9\"]'",
                                           allowed=", ".join(codes))
    if name == "break_duplicate_key":
        return val.MSG_DUPLICATE_KEY.format(**common, value="cont_0001", first_row=2)
    if name == "break_end_before_start":
        start = rows["ssd_cp_plans"][1]["cppl_cp_plan_start_date"]
        end = date.fromordinal(start.toordinal() - 10)
        return val.MSG_END_BEFORE_START.format(**common, value=f"'{end}'",
                                               start_column="cppl_cp_plan_start_date",
                                               start_value=f"'{start}'")
    if name == "break_future_date":
        return val.MSG_FUTURE_DATE.format(**common, value="'2099-01-01'",
                                          reference="extract date",
                                          reference_date=corpus.EXTRACT_DATE.isoformat())
    if name == "break_orphan_person":
        return val.MSG_ORPHAN_REFERENCE.format(**common, value="'NOBODY'",
                                               parent="ssd_person.pers_person_id")
    raise AssertionError(name)


SINGLE_RULE = [f.__name__ for f in corpus.ALL_ROW_DEFECTS
               if f is not corpus.break_several_rules_in_one_row]


@pytest.mark.parametrize("name", SINGLE_RULE)
def test_each_bad_row_is_quarantined_with_a_message_naming_file_table_column_row_rule(
        row_defects, name):
    _, defects, _, quarantine = row_defects
    d = defects[name]
    q = quarantine[(d.table, d.row)]
    assert (q["source_file"], q["column"], q["rule"]) == (d.file, d.column, d.rule)
    assert q["message"] == _expected_message(name, d)
    raw = json.loads(q["raw_row"])
    assert set(raw) == set(TABLES[d.table].column_names)
    if d.value is not None:
        assert d.value in raw.values()


def test_a_row_breaking_several_rules_is_quarantined_once_with_every_reason(row_defects):
    _, defects, result, quarantine = row_defects
    d = defects["break_several_rules_in_one_row"]
    q = quarantine[(d.table, d.row)]
    assert (q["rule"], q["column"]) == (d.rule, d.column)
    assert q["message"].count(f"{d.file} row 2:") == 3
    assert "sessions missed exceed sessions possible (rule missed_within_possible)" in q[
        "message"]
    table = result.report.table(d.table)
    assert table.rows_rejected == 1
    assert {r.rule for r in table.rule_counts} == set(d.rule.split("; "))


def test_quarantine_mode_loses_no_row(row_defects):
    folder, defects, result, quarantine = row_defects
    assert result.published and not result.report.clean
    with wh.connect(result.warehouse) as con:
        for t in result.report.tables:
            assert t.rows_accepted + t.rows_rejected == t.rows_read, t.table
            stored = con.execute(f"SELECT count(*) FROM {t.table}").fetchone()[0]
            assert stored == t.rows_accepted, t.table
            assert sum(1 for k in quarantine if k[0] == t.table) == t.rows_rejected
        # the first of two rows sharing a key is kept
        kept = con.execute("SELECT count(*) FROM ssd_contacts WHERE cont_contact_id = "
                           "'cont_0001'").fetchone()[0]
    assert kept == 1
    broken = {d.table for d in defects.values()}
    assert {t.table for t in result.report.tables if t.rows_rejected} == broken


def test_rule_counts_reach_the_load_report_table(row_defects):
    _, defects, result, _ = row_defects
    with wh.connect(result.warehouse) as con:
        rows = con.execute("SELECT \"column\", n_rows, message FROM _load_report WHERE "
                           "\"table\" = 'ext_housing_event' AND rule = 'orphan_reference'"
                           ).fetchall()
    assert rows == [("hous_person_id", 1, "1 rows rejected; first: " + _expected_message(
        "break_orphan_person", defects["break_orphan_person"]))]


def test_strict_mode_publishes_nothing_and_keeps_the_previous_warehouse(row_defects,
                                                                         tmp_path):
    folder = row_defects[0]
    clean = corpus.write_extracts(tmp_path / "clean", "csv")
    target = tmp_path / "wh" / "warehouse.duckdb"
    assert load(clean, target, load_date=LOAD_DATE).published
    before = target.read_bytes()
    result = load(folder, target, load_date=LOAD_DATE)
    assert not result.published
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == [
        "load_report.json", "load_report.md", "warehouse.duckdb"]
    report = json.loads((target.parent / "load_report.json").read_text())
    assert report["published"] is False and report["mode"] == "strict"


@pytest.fixture(scope="module")
def file_defects(tmp_path_factory):
    """Table-level defects (missing column, empty file, wrong encoding), quarantine mode."""
    folder = corpus.write_extracts(tmp_path_factory.mktemp("files") / "src", "csv")
    defects = {f.__name__: f(folder) for f in (corpus.break_missing_column,
                                               corpus.break_empty_file, corpus.break_encoding)}
    target = tmp_path_factory.mktemp("files_wh") / "warehouse.duckdb"
    result = load(folder, target, quarantine=True, load_date=LOAD_DATE)
    return defects, result


def test_missing_required_column_fails_the_table_and_keeps_its_rows(file_defects):
    defects, result = file_defects
    d = defects["break_missing_column"]
    table = result.report.table(d.table)
    assert [f.message for f in table.failures] == [val.MSG_MISSING_COLUMN.format(
        file=d.file, table=d.table, column=d.column, rule=d.rule)]
    assert (table.rows_read, table.rows_accepted, table.rows_rejected) == (
        corpus.N_ROWS, 0, corpus.N_ROWS)
    q = _quarantined(result.warehouse)[(d.table, 3)]
    assert (q["column"], q["rule"]) == ("excl_type", "missing_column")
    assert q["message"] == val.MSG_MISSING_COLUMN_ROW.format(
        file=d.file, row=3, table=d.table, column=d.column, rule=d.rule)


def test_empty_file_fails_its_table(file_defects):
    defects, result = file_defects
    d = defects["break_empty_file"]
    table = result.report.table(d.table)
    assert table.status == "failed" and table.rows_read is None
    assert [f.message for f in table.failures] == [
        val.MSG_EMPTY_FILE.format(file=d.file, table=d.table, rule=d.rule)]


def test_wrong_encoding_names_the_byte_offset_and_row(file_defects):
    defects, result = file_defects
    d = defects["break_encoding"]
    assert [f.message for f in result.report.table(d.table).failures] == [
        val.MSG_WRONG_ENCODING.format(file=d.file, table=d.table, byte=0xC9,
                                      offset=int(d.value), line=d.row + 1, row=d.row,
                                      rule=d.rule)]


def test_table_failures_are_in_the_load_report_table_and_files(file_defects):
    defects, result = file_defects
    with wh.connect(result.warehouse) as con:
        failed = {r[0]: r[1] for r in con.execute(
            "SELECT \"table\", rule FROM _load_report WHERE rule IN "
            "('missing_column', 'empty_file', 'wrong_encoding')").fetchall()}
    assert failed == {d.table: d.rule for d in defects.values()}
    markdown = (result.warehouse.parent / "load_report.md").read_text()
    assert all(f"(rule {d.rule})" in markdown for d in defects.values())


def test_a_file_larger_than_the_memory_limit_streams(tmp_path):
    folder = corpus.write_extracts(tmp_path / "src", "csv")
    big = corpus.write_large_csv(folder, 400_000)
    assert big.stat().st_size > 24 * 2**20
    result = load(folder, tmp_path / "w.duckdb", load_date=LOAD_DATE, memory_limit="24MB",
                  threads=1)
    assert result.published
    police = result.report.table("ext_police_event")
    assert (police.rows_read, police.rows_accepted) == (400_000, 400_000)


def test_quarantine_withholds_identifying_values_but_keeps_the_row(tmp_path):
    """A rejected identity row reaches the quarantine without its name."""
    folder = corpus.write_extracts(tmp_path / "src", "csv")

    def edit(rows: list[dict]) -> None:
        rows[2]["iden_person_id"] = rows[1]["iden_person_id"]  # duplicate key: rejected
        rows[2]["iden_forename"] = "Zebedee"
        rows[2]["iden_surname"] = "Quillfeather"

    corpus._rewrite(folder, "ext_person_identity", edit)
    target = tmp_path / "warehouse.duckdb"
    load(folder, target, quarantine=True, load_date=LOAD_DATE)
    q = _quarantined(target)[("ext_person_identity", 3)]
    assert q["rule"] == "duplicate_key"
    raw = json.loads(q["raw_row"])
    assert raw["iden_person_id"] in q["message"]  # the reason stays checkable
    assert raw["iden_forename"] == raw["iden_surname"] == val.WITHHELD
    with wh.connect(target) as con:
        dump = con.execute("SELECT string_agg(raw_row || message, '') FROM _quarantine").fetchone()
    assert "Zebedee" not in dump[0] and "Quillfeather" not in dump[0]
