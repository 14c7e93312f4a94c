"""Fast paths of the generator give exactly what the plain numpy they replace gives."""

from __future__ import annotations

import numpy as np
from earlywarning.data.synthetic._columns import lexsort
from earlywarning.data.synthetic._factors import _solve_intercept
from earlywarning.data.synthetic._frames import dates, ids, stamps
from earlywarning.data.synthetic._timeline import NEVER
from hypothesis import given, settings
from hypothesis import strategies as st

_ints = st.lists(st.tuples(st.integers(-5, 5), st.booleans(), st.integers(0, 3)), max_size=60)


@given(_ints)
def test_lexsort_is_numpy_lexsort_including_ties(rows):
    a = np.array([r[0] for r in rows], dtype=np.int64)
    b = np.array([r[1] for r in rows], dtype=bool)
    c = np.array([r[2] for r in rows], dtype=np.int8)
    np.testing.assert_array_equal(lexsort((a, b, c)), np.lexsort((a, b, c)))


def test_lexsort_falls_back_when_ranges_are_too_wide_or_keys_not_integers():
    rng = np.random.default_rng(0)
    wide = rng.integers(-2**62, 2**62, 200)
    other = rng.integers(0, 1000, 200)
    np.testing.assert_array_equal(lexsort((wide, other)), np.lexsort((wide, other)))
    days = np.array(["2020-01-02", "NaT", "2019-05-01"], dtype="datetime64[D]")
    np.testing.assert_array_equal(lexsort((days,)), np.lexsort((days,)))


def test_ids_are_prefixed_zero_padded_numbers():
    assert list(ids("AB", np.array([0, 7, 123456789]), 9)) == [
        "AB000000000", "AB000000007", "AB123456789"]
    assert len(ids("X", np.zeros(0, np.int64), 3)) == 0


@settings(max_examples=50)
@given(st.lists(st.integers(-40_000, 90_000), max_size=30))
def test_dates_and_stamps_match_numpy_conversions(days):
    d = np.array([*days, NEVER, NEVER + 9], dtype=np.int64)
    want = d.astype("datetime64[D]").astype("datetime64[ns]")
    want[d >= NEVER] = np.datetime64("NaT")
    np.testing.assert_array_equal(dates(d), want)
    sec = np.array(days, dtype=np.int64) * 997
    np.testing.assert_array_equal(stamps(sec),
                                  sec.astype("datetime64[s]").astype("datetime64[ns]"))


def test_factor_intercept_gives_the_target_prevalence():
    score = 1.3 * np.random.default_rng(1).standard_normal(50_000)
    for target in (0.003, 0.05, 0.335):
        a = _solve_intercept(score, target)
        assert abs(np.mean(1 / (1 + np.exp(-(a + score)))) - target) < 1e-9
