"""Fast paths of the generator give exactly what the plain numpy they replace gives."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from earlywarning.data.synthetic._columns import KeyIndex, equal_codes, lexsort
from earlywarning.data.synthetic._factors import _solve_intercept
from earlywarning.data.synthetic._frames import dates, ids, stamps
from earlywarning.data.synthetic._people import group_pairs, ragged_pairs
from earlywarning.data.synthetic._timeline import NEVER
from hypothesis import assume, given, settings
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
    # packs into one int64, but not with the row number beside it: a stable argsort
    packed_only = rng.integers(0, 2**56, 200)
    ties = np.repeat(packed_only[:50], 4)
    np.testing.assert_array_equal(lexsort((ties,)), np.lexsort((ties,)))
    days = np.array(["2020-01-02", "NaT", "2019-05-01"], dtype="datetime64[D]")
    np.testing.assert_array_equal(lexsort((days,)), np.lexsort((days,)))


def test_ids_are_prefixed_zero_padded_numbers():
    assert list(ids("AB", np.array([0, 7, 123456789]), 9)) == [
        "AB000000000", "AB000000007", "AB123456789"]
    assert len(ids("X", np.zeros(0, np.int64), 3)) == 0
    assert list(ids("Z", np.array([10**7 + 5]), 7)) == ["Z0000005"]  # the last 7 digits
    assert str(ids("AB", np.arange(3), 4).dtype) == "str"


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


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([0.0, 0.0, 1e-6, 0.01, 0.3, 2.0]), min_size=1, max_size=70),
       st.integers(0, 10_000))
def test_both_poisson_draws_pick_only_units_with_a_rate(rates, seed):
    from earlywarning.data.synthetic._events import _draw_blocked, draw

    rate = np.array(rates, dtype=np.float32)
    for fn in (draw, _draw_blocked):
        got = fn(rate, np.random.default_rng(seed))
        assert got.dtype == np.int64
        assert np.all((got >= 0) & (got < len(rate)))
        assert np.all(rate[got] > 0)


def test_blocked_poisson_draw_has_the_counts_of_the_plain_one():
    """Both give each unit a Poisson count with its own rate: a chi-square check."""
    from earlywarning.data.synthetic._events import _draw_blocked, draw

    rng = np.random.default_rng(3)
    rate = rng.lognormal(-3.0, 1.2, 3000).astype(np.float32)
    rate[rng.random(3000) < 0.4] = 0
    reps = 1500
    expected = rate * reps
    big = expected > 5
    for fn in (draw, _draw_blocked):
        counts = np.zeros(len(rate))
        for _ in range(reps):
            counts += np.bincount(fn(rate, rng), minlength=len(rate))
        assert counts[rate == 0].sum() == 0
        chi2 = float(((counts[big] - expected[big]) ** 2 / expected[big]).mean())
        assert 0.85 < chi2 < 1.15  # about 1 for Poisson counts (2,000 units: sd ~0.03)


_ids = st.lists(st.one_of(st.none(), st.integers(0, 30).map(lambda k: f"P{k:04d}"),
                          st.sampled_from(["P12", "Q0001", "P00x1", ""])), max_size=40)


@given(_ids, _ids)
def test_key_index_gives_the_first_position_of_each_query_value(keys, query):
    """Numbered ids are parsed, anything else hashed: the positions are the same."""
    want = [keys.index(q) if q is not None and q in keys else -1 for q in query]
    got = KeyIndex(pa.array(keys, pa.large_string())).positions(
        [pa.array(query, pa.large_string())])[0]
    assert got.tolist() == want


@given(_ids)
def test_equal_codes_are_equal_exactly_where_the_values_are(values):
    codes = equal_codes(pa.array(values, pa.large_string()))
    for i, a in enumerate(values):
        for j, b in enumerate(values):
            if a is not None and b is not None:
                assert (codes[i] == codes[j]) == (a == b)
        if a is None:
            assert codes[i] == -1


_groups = st.lists(st.integers(0, 4), max_size=25)


@given(_groups, _groups)
def test_group_pairs_are_every_same_group_pair_in_order(left, right):
    a, b = np.array(left, dtype=np.int64), np.array(right, dtype=np.int64)
    i, j = group_pairs(a, b, 5)
    expected = [(p, q) for p in range(len(a)) for q in range(len(b)) if a[p] == b[q]]
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == expected
    i, j = ragged_pairs(a, 5)
    assert list(zip(i.tolist(), j.tolist(), strict=True)) == [
        (p, q) for p in range(len(a)) for q in range(len(a)) if p != q and a[p] == a[q]]


@given(st.sampled_from(["P", "FM", "ABCDEFG", "Q"]), st.integers(2, 11),
       st.lists(st.text("0123456789/:xP\x00 ", min_size=11, max_size=11), min_size=1,
                max_size=30), st.lists(st.integers(0, 10**11), max_size=30))
def test_fixed_width_numbers_parse_exactly_the_numbered_ids(prefix, width, noise, numbers):
    """Numbered ids are read from the raw bytes (8 at a time up to 8 long): same as int()."""
    from earlywarning.data.synthetic._columns import _fixed_width_numbers

    assume(width > len(prefix))
    digits = width - len(prefix)
    values = [(prefix + f"{k:0{digits}d}")[:width] for k in numbers if k < 10**digits]
    values += [v[:width] for v in noise] + [prefix + v[: digits] for v in noise]
    got = _fixed_width_numbers(pa.array(values, pa.large_string()), prefix, width)
    assert got is not None
    num, ok = got
    for v, n, good in zip(values, num, ok, strict=True):
        want = v.startswith(prefix) and v[len(prefix):].isascii() and v[len(prefix):].isdigit()
        assert good == want, v
        assert n == (int(v[len(prefix):]) if want else 0), v


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 400))
def test_coverage_rows_are_every_linked_family_and_source_sorted_without_a_sort(seed, families):
    from earlywarning.data.synthetic import SyntheticConfig
    from earlywarning.data.synthetic._frames import Agencies
    from earlywarning.data.synthetic._timeline import Timeline

    cfg = SyntheticConfig(children=1000, seed=seed % 97)
    tl = Timeline.from_config(cfg)
    ag = Agencies(cfg, tl, {}, families, np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    fam_start = tl.period_start + rng.integers(-2000, 5000, families)
    got = ag.coverage_rows(fam_start)
    # the plain way: per agency, then sorted by family and source
    names = sorted(cfg.agencies)
    rows = sorted((f, k, max(ag.from_day[n], min(int(fam_start[f]), tl.end)))
                  for k, n in enumerate(names) for f in np.flatnonzero(ag.linked[n]))
    assert got["names"] == names
    assert [tuple(map(int, r)) for r in zip(got["fam"], got["src"], got["start"],
                                            strict=True)] == rows
