"""Ground truth is matched to each (person, as-of) row by the month the as-of date falls in."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from earlywarning.models._features_io import attach_ground_truth
from hypothesis import given, settings
from hypothesis import strategies as st

MONTHS = [date(2023, m, 1) for m in range(1, 13)]


def _truth_file(tmp_path, months=MONTHS):
    people = ["A", "B", "C"]
    truth = pd.DataFrame([(p, m, 0.01 * (i + 1) + 0.1 * k)
                          for k, p in enumerate(people) for i, m in enumerate(months)],
                         columns=["person_id", "month", "p_true"])
    path = tmp_path / "child_month.parquet"
    truth.to_parquet(path, index=False)
    return path


def test_rows_get_their_month_and_unknown_rows_stay_missing(tmp_path):
    path = _truth_file(tmp_path)
    rows = pd.DataFrame({"person_id": ["B", "A", "Z", "C"],
                         "as_of": [date(2023, 3, 31), date(2023, 7, 1), date(2023, 7, 1),
                                   date(2024, 1, 1)]}, index=[10, 11, 12, 13])
    out = attach_ground_truth(rows, path, ["p_true", "p_recorded"])
    assert list(out.index) == [10, 11, 12, 13]
    assert out.loc[10, "p_true"] == np.float64(0.03 + 0.1)  # B, March
    assert out.loc[11, "p_true"] == np.float64(0.07)  # A, July
    assert np.isnan(out.loc[12, "p_true"])  # nobody called Z
    assert np.isnan(out.loc[13, "p_true"])  # a month the file does not have
    assert out["p_recorded"].isna().all()  # a column the file does not have


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(0, 500)),
                min_size=1, max_size=12),
       st.sampled_from([1, 28]))
def test_reading_only_the_rows_months_matches_reading_every_month(tmp_path_factory, picks, day):
    # a file may name its months by any of their days
    path = _truth_file(tmp_path_factory.mktemp("gt"), [m.replace(day=day) for m in MONTHS])
    whole = pd.read_parquet(path)
    rows = pd.DataFrame({"person_id": [p for p, _ in picks],
                         "as_of": [date(2022, 11, 15) + pd.Timedelta(days=k).to_pytimedelta()
                                   for _, k in picks]})
    out = attach_ground_truth(rows, path, ["p_true"])["p_true"].to_numpy()
    month = pd.to_datetime(rows["as_of"]).dt.to_period("M")
    lookup = {(p, pd.Period(m, "M")): v for p, m, v in whole.itertuples(index=False)}
    expected = [lookup.get((p, m), np.nan) for p, m in zip(rows["person_id"], month, strict=True)]
    np.testing.assert_array_equal(out, np.array(expected, dtype=float))
