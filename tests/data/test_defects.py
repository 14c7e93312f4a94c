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


def _keys(df: pd.DataFrame, name: str) -> pd.Series:
    t = TABLES[name]
    keys = df[t.primary_key[0]].astype(str)
    for k in t.primary_key[1:]:
        keys = keys + "|" + df[k].astype(str)
    return keys


def _row(df: pd.DataFrame, name: str, key: str) -> pd.DataFrame:
    return df[_keys(df, name) == key]


def _violations(tables: dict, log: pd.DataFrame) -> list[tuple]:
    """Logged defects that do NOT break the rule they name (should be empty)."""
    persons = set(tables["ssd_person"]["pers_person_id"]) if "ssd_person" in tables else set()
    bad = []
    for name, group in log.groupby("table"):
        t = TABLES[name]
        df = tables[name].reset_index(drop=True)
        rows = pd.Series(np.arange(len(df))).groupby(_keys(df, name).to_numpy()).agg(list)
        for r in group.itertuples(index=False):
            hits = rows.get(r.key, [])
            if r.kind == "duplicate_row":
                ok = len(hits) >= 2
            elif len(hits) != 1:
                ok = False
            else:
                value = df[r.column].iloc[hits[0]]
                if r.kind == "missing_code":
                    ok = pd.isna(value) and t.column(r.column).codes is not None and (
                        r.column in t.required_columns)
                elif r.kind == "unknown_code":
                    ok = pd.notna(value) and value not in t.column(r.column).codes
                elif r.kind == "end_before_start":
                    start = next(s for s, e in t.date_order if e == r.column)
                    ok = value < df[start].iloc[hits[0]]
                elif r.kind == "future_date":
                    ok = value > END
                elif r.kind == "orphan_person":
                    ok = value not in persons
                elif r.kind == "bad_date":
                    ok = value < BAD_DATE_BEFORE
                else:
                    raise AssertionError(r.kind)
            if not ok:
                bad.append(tuple(r))
    return bad


def test_every_logged_defect_breaks_the_rule_it_names(dirty):
    tables, log = dirty
    assert set(log["kind"]) == set(DEFECT_KINDS)
    assert _violations(tables, log) == []


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
    assert _violations(tables, log) == []
