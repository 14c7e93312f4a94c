"""Data-quality defects: injected at the requested rate, each really breaking its rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from ancillary_fixtures import CONFIG, END, make_core_tables
from earlywarning.data.schema import TABLES
from earlywarning.data.synthetic._ancillary import add_ancillary_tables
from earlywarning.data.synthetic._defects import (
    BAD_DATE_BEFORE,
    DEFECT_KINDS,
    PROTECTED_TABLES,
    bad_dates_as_text,
    inject_defects,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def clean() -> dict[str, pd.DataFrame]:
    return add_ancillary_tables(make_core_tables(150, seed=5), CONFIG, np.random.default_rng(2))


@pytest.fixture(scope="module")
def dirty(clean):
    return inject_defects(clean, 0.05, np.random.default_rng(9))


def _row(df: pd.DataFrame, name: str, key: str) -> pd.DataFrame:
    t = TABLES[name]
    keys = df[t.primary_key[0]].astype(str)
    for k in t.primary_key[1:]:
        keys = keys + "|" + df[k].astype(str)
    return df[keys == key]


def _violates(tables: dict, name: str, key: str, kind: str, column: str) -> bool:
    t = TABLES[name]
    rows = _row(tables[name], name, key)
    if kind == "duplicate_row":
        return len(rows) >= 2
    if len(rows) != 1:
        return False
    value = rows[column].iloc[0]
    if kind == "missing_code":
        return pd.isna(value) and t.column(column).codes is not None and (
            column in t.required_columns)
    if kind == "unknown_code":
        return pd.notna(value) and value not in t.column(column).codes
    if kind == "end_before_start":
        start = next(s for s, e in t.date_order if e == column)
        return value < rows[start].iloc[0]
    if kind == "future_date":
        return value > END
    if kind == "orphan_person":
        return value not in set(tables["ssd_person"]["pers_person_id"])
    if kind == "bad_date":
        return value < BAD_DATE_BEFORE
    raise AssertionError(kind)


def test_every_logged_defect_breaks_the_rule_it_names(dirty):
    tables, log = dirty
    assert set(log["kind"]) == set(DEFECT_KINDS)
    bad = [r for r in log.itertuples(index=False)
           if not _violates(tables, r.table, r.key, r.kind, r.column)]
    assert bad == []


def test_defects_are_injected_at_the_requested_rate(clean, dirty):
    _, log = dirty
    per_table = log.groupby("table").size()
    for name, n in per_table.items():
        assert n == round(0.05 * len(clean[name])), name
    total_rows = sum(len(clean[n]) for n in per_table.index)
    assert abs(len(log) / total_rows - 0.05) < 0.005


def test_restricted_and_referenced_tables_stay_clean(clean, dirty):
    tables, log = dirty
    untouched = {n for n, t in TABLES.items() if t.restricted} | PROTECTED_TABLES
    assert untouched.isdisjoint(set(log["table"]))
    for name in untouched & set(clean):
        pd.testing.assert_frame_equal(tables[name], clean[name])


def test_rows_not_logged_are_unchanged(clean, dirty):
    tables, log = dirty
    name = "ext_police_event"
    logged = set(log.loc[log["table"] == name, "key"])
    before = clean[name].set_index("poli_event_id")
    after = tables[name].drop_duplicates("poli_event_id").set_index("poli_event_id")
    keep = before.index.difference(pd.Index(list(logged)))
    pd.testing.assert_frame_equal(after.loc[keep], before.loc[keep])


def test_input_tables_are_not_modified(clean):
    police = clean["ext_police_event"].copy()
    inject_defects(clean, 0.2, np.random.default_rng(0))
    pd.testing.assert_frame_equal(clean["ext_police_event"], police)


def test_same_rng_state_gives_identical_defects(clean, dirty):
    tables, log = inject_defects(clean, 0.05, np.random.default_rng(9))
    pd.testing.assert_frame_equal(log, dirty[1])
    pd.testing.assert_frame_equal(tables["ssd_cp_plans"], dirty[0]["ssd_cp_plans"])


def test_chosen_kinds_only(clean):
    _, log = inject_defects(clean, 0.05, np.random.default_rng(1), kinds=["orphan_person"])
    assert set(log["kind"]) == {"orphan_person"}


def test_zero_rate_changes_nothing(clean):
    tables, log = inject_defects(clean, 0.0, np.random.default_rng(1))
    assert len(log) == 0
    for name in clean:
        pd.testing.assert_frame_equal(tables[name], clean[name])


def test_bad_input_gives_clear_errors(clean):
    with pytest.raises(ValueError, match=r"rate = 1.5: must be between 0 and 1"):
        inject_defects(clean, 1.5, np.random.default_rng(1))
    with pytest.raises(ValueError, match=r"unknown defect kinds \['typo'\]"):
        inject_defects(clean, 0.1, np.random.default_rng(1), kinds=["typo"])


def test_bad_dates_become_unparseable_text_for_csv(dirty):
    tables, log = dirty
    text = bad_dates_as_text(tables, log)
    bad = log[log["kind"] == "bad_date"]
    assert len(bad) > 0
    for r in bad.itertuples(index=False):
        value = _row(text[r.table], r.table, r.key)[r.column].iloc[0]
        assert pd.isna(pd.to_datetime(value, format="%Y-%m-%d", errors="coerce"))
    name, column = bad.iloc[0]["table"], bad.iloc[0]["column"]
    good = text[name][column].dropna()
    parsed = pd.to_datetime(good, format="%Y-%m-%d", errors="coerce")
    assert parsed.notna().sum() == len(good) - (bad["table"].eq(name)
                                                & bad["column"].eq(column)).sum()


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rate=st.floats(0.0, 0.3), seed=st.integers(0, 2**16))
def test_any_rate_and_seed_logs_only_real_violations(clean, rate, seed):
    small = {k: clean[k] for k in ("ssd_person", "ext_police_event", "ssd_cp_plans",
                                   "ssd_address", "ssd_involvements")}
    tables, log = inject_defects(small, rate, np.random.default_rng(seed), extract_date=END)
    for name, group in log.groupby("table"):
        assert len(group) == round(rate * len(small[name]))
    for r in log.itertuples(index=False):
        assert _violates(tables, r.table, r.key, r.kind, r.column), r
