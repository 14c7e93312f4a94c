"""The loader against the synthetic LA: it catches exactly the defects the generator planted."""

from __future__ import annotations

import json

import duckdb
from earlywarning.data import warehouse as wh
from earlywarning.data.schema import TABLES

# The generator's defect kinds, named after the loader rule that must reject them.
RULE_OF_KIND = {
    "missing_code": "missing_value", "unknown_code": "unknown_code",
    "duplicate_row": "duplicate_key", "end_before_start": "end_before_start",
    "future_date": "future_date", "orphan_person": "orphan_reference", "bad_date": "wrong_type",
}


def test_every_planted_defect_is_quarantined_with_its_rule_and_nothing_else(
        small_la_dir, small_warehouse):
    with duckdb.connect() as con:
        planted = con.execute(
            "SELECT \"table\", key, kind, \"column\" FROM read_parquet(?)",
            [str(small_la_dir / "ground_truth" / "defects.parquet")]).fetchall()
    # the generator logs a composite key as "a|b" and its columns as "a,b"
    expected = sorted((t, k, RULE_OF_KIND[kind], col.replace(",", ", "))
                      for t, k, kind, col in planted)
    with wh.connect(small_warehouse) as con:
        rows = con.execute('SELECT "table", raw_row, rule, "column" FROM _quarantine').fetchall()
    found = sorted((t, "|".join(json.loads(raw)[k] for k in TABLES[t].primary_key), rule, col)
                   for t, raw, rule, col in rows)
    assert found == expected


def test_the_synthetic_la_loads_with_counts_that_add_up(small_warehouse):
    with wh.connect(small_warehouse) as con:
        report = con.execute(
            "SELECT \"table\", rule, n_rows FROM _load_report WHERE rule IN "
            "('rows_read', 'rows_accepted', 'rows_rejected')").fetchall()
        quarantined = dict(con.execute(
            'SELECT "table", count(*) FROM _quarantine GROUP BY 1').fetchall())
        meta = wh.read_meta(con)
        assert meta["fingerprint"] == wh.warehouse_fingerprint(con)
    counts: dict[str, dict[str, int]] = {}
    for table, rule, n in report:
        counts.setdefault(table, {})[rule] = n
    assert set(counts) == set(TABLES)
    for table, c in counts.items():
        assert c["rows_accepted"] + c["rows_rejected"] == c["rows_read"], table
        assert quarantined.get(table, 0) == c["rows_rejected"], table
    assert meta["mode"] == "quarantine"
