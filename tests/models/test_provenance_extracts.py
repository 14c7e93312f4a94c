"""The sources a flag rests on read the same on every run, whatever order the rows are in."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from earlywarning.models._provenance import extract_dates

ROWS = [  # agency, extract date, accessibility, known issues
    ("police", date(2026, 3, 31), "medium", "lag of up to 3 days"),
    ("police", date(2026, 2, 28), "poor", "no incident ids before 2019"),
    ("police", date(2026, 3, 31), "easy", "lag of up to 3 days"),
    ("health", date(2026, 3, 31), "poor", None),
    ("police", date(2026, 1, 31), "poor", "addresses partly missing"),
]


@pytest.mark.parametrize("order", [1, -1])
def test_latest_extract_per_agency_with_ties_broken_and_issues_sorted(tmp_path, order):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE ext_source_metadata (meta_agency VARCHAR, meta_extract_date DATE, "
                "meta_accessibility VARCHAR, meta_known_issues VARCHAR)")
    con.executemany("INSERT INTO ext_source_metadata VALUES (?, ?, ?, ?)", ROWS[::order])
    con.close()
    got = extract_dates(path)
    assert list(got["agency"]) == ["health", "police"]
    police = got.set_index("agency").loc["police"]
    assert str(police["extract_date"])[:10] == "2026-03-31"
    # two rows of the latest extract: the larger value, not whichever came first
    assert police["accessibility"] == "medium"
    assert police["known_issues"] == ("addresses partly missing; lag of up to 3 days; "
                                      "no incident ids before 2019")
