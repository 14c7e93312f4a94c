"""Rolling-origin splits: time and family leakage are impossible by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _synthetic_features import make_feature_frame
from earlywarning.models import RollingOriginSplitter, SplitError, assign_family_side
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def frame():
    return make_feature_frame(n_families=120, n_dates=30, n_incomplete=3, seed=3)[0]


def test_worked_example_dates():
    # monthly as-of dates 2021-01-01 .. 2023-03-01; horizon 365; one test block of 3 dates
    dates = pd.date_range("2021-01-01", "2023-03-01", freq="MS")
    frame = pd.DataFrame({
        "as_of": np.repeat(dates, 20),
        "family_id": np.tile([f"F{i}" for i in range(20)], len(dates)),
        "label": np.tile([0, 1] * 10, len(dates)),
    })
    fold = RollingOriginSplitter(365, test_period_dates=3, n_folds=1, seed=1).split(frame)[0]
    assert fold.test_dates[0] == pd.Timestamp("2023-01-01")
    # 2022-01-01 + 365 d = 2023-01-01 is not before the test date: excluded
    assert fold.train_dates[-1] == pd.Timestamp("2021-12-01")
    assert pd.Timestamp("2022-01-01") not in fold.train_dates


def test_no_training_label_window_reaches_a_test_date(frame):
    for fold in RollingOriginSplitter(365, 3, 3, seed=5).split(frame):
        train = frame.iloc[fold.train_index]
        test = frame.iloc[fold.test_index]
        label_end = pd.to_datetime(train["as_of"]) + pd.Timedelta(days=365)
        assert (label_end < pd.to_datetime(test["as_of"]).min()).all()


def test_families_are_on_one_side_across_all_folds(frame):
    folds = RollingOriginSplitter(365, 3, 3, seed=5).split(frame)
    train_fams = set().union(*(set(frame.iloc[f.train_index]["family_id"]) for f in folds))
    test_fams = set().union(*(set(frame.iloc[f.test_index]["family_id"]) for f in folds))
    assert train_fams and test_fams
    assert not train_fams & test_fams


def test_unlabelled_rows_are_never_used(frame):
    fold = RollingOriginSplitter(365, 3, 1).split(frame)[0]
    used = np.r_[fold.train_index, fold.test_index]
    assert frame.iloc[used]["label"].notna().all()


def test_last_fold_is_the_final_held_out_period(frame):
    folds = RollingOriginSplitter(365, 2, 3).split(frame)
    assert [f.name for f in folds] == ["fold_1", "fold_2", "final"]
    assert folds[-1].is_final
    assert folds[-1].test_dates[-1] == max(pd.to_datetime(frame.loc[frame.label.notna(),
                                                                    "as_of"]))
    assert folds[0].test_dates[-1] < folds[1].test_dates[0]


def test_too_few_dates_is_a_clear_error(frame):
    with pytest.raises(SplitError, match=r"model.splits: 27 as-of dates .* widen as_of"):
        RollingOriginSplitter(365, 10, 3).split(frame)


def test_horizon_too_long_for_the_dates_names_the_fold(frame):
    expected = r"fold 1 tests from 2022-01-01 but only 1 as-of dates .* \(need 3\)"
    with pytest.raises(SplitError, match=expected):
        RollingOriginSplitter(365 * 2, 3, 1).split(frame)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), frac=st.floats(0.05, 0.95))
def test_family_assignment_is_stable_and_row_order_free(seed, frac):
    fams = pd.Series([f"F{i % 97}" for i in range(500)])
    side = assign_family_side(fams, frac, seed)
    shuffled = fams.sample(frac=1.0, random_state=seed)
    side_shuffled = assign_family_side(shuffled, frac, seed)
    assert (pd.Series(side, index=fams.index)[shuffled.index].to_numpy() == side_shuffled).all()
    per_family = pd.Series(side).groupby(fams).nunique()
    assert (per_family == 1).all()


@settings(max_examples=20, deadline=None)
@given(horizon=st.integers(1, 400), block=st.integers(1, 4), folds=st.integers(1, 3),
       seed=st.integers(0, 99))
def test_any_valid_split_has_no_leakage(horizon, block, folds, seed):
    dates = pd.date_range("2019-01-01", periods=40, freq="MS")
    frame = pd.DataFrame({
        "as_of": np.repeat(dates, 30),
        "family_id": np.tile([f"F{i // 2}" for i in range(30)], len(dates)),
        "label": np.tile([0, 0, 1] * 10, len(dates)),
    })
    try:
        result = RollingOriginSplitter(horizon, block, folds, seed=seed,
                                       min_train_dates=1).split(frame)
    except SplitError:
        return
    for fold in result:
        tr, te = frame.iloc[fold.train_index], frame.iloc[fold.test_index]
        assert (tr["as_of"] + pd.Timedelta(days=horizon)).max() < te["as_of"].min()
        assert not set(tr["family_id"]) & set(te["family_id"])


def test_missing_family_id_is_rejected(frame):
    bad = frame.copy()
    bad.loc[bad.index[:3], "family_id"] = None
    with pytest.raises(SplitError, match="family_id is missing"):
        RollingOriginSplitter(365, 3, 1).split(bad)
