"""Threshold analysis: capacity curves and per-group thresholds shown for discussion."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from earlywarning.fairness import (
    AuditSettings,
    audit,
    capacity_curves,
    equal_miss_rate_thresholds,
    per_group_thresholds,
    prepare_audit_data,
    simulate_scores,
)
from hypothesis import given, settings
from hypothesis import strategies as st


@pytest.fixture(scope="module")
def data():
    frame = simulate_scores(8000, seed=6, surveillance_bias=0.6)
    return prepare_audit_data(frame, group_cols=["audit_ethnicity"])


def test_flag_rate_grows_with_capacity_for_everyone(data):
    curves = capacity_curves(data, "audit_ethnicity", fractions=[0.01, 0.05, 0.2])
    everyone = curves[(curves.group == "All children") & (curves.metric == "selection_rate")]
    assert everyone["value"].round(4).tolist() == [0.01, 0.05, 0.2]
    fnr = curves[(curves.group == "White") & (curves.metric == "false_negative_rate")]
    assert fnr["value"].is_monotonic_decreasing


def test_equal_miss_rate_option_keeps_capacity_and_evens_out_misses(data):
    option = equal_miss_rate_thresholds(data, "audit_ethnicity", min_group_size=300)
    groups = np.asarray(data.groups["audit_ethnicity"], dtype=object)
    flags = sum(int((data.score[groups == r.group] >= r.threshold).sum())
                for r in option.itertuples())
    kept = ~np.isin(groups, option.group)
    assert abs(flags + data.flagged[kept].sum() - data.flagged.sum()) <= len(option)
    assert option.miss_rate_option.max() - option.miss_rate_option.min() < (
        option.miss_rate_now.max() - option.miss_rate_now.min())


def test_threshold_optimizer_gives_one_deterministic_threshold_per_group(data):
    option = per_group_thresholds(data, "audit_ethnicity", min_group_size=300)
    assert set(option.group) == {"White", "Mixed", "Asian", "Black"}
    assert option.threshold.between(0, 1).all()
    assert (option.share_at_threshold >= 0.5).all()


@settings(max_examples=3, deadline=None)
@given(st.integers(min_value=0, max_value=2**31 - 1))
def test_row_order_changes_nothing(seed):
    frame = simulate_scores(1500, seed=1)
    shuffled = frame.sample(frac=1.0, random_state=seed % (2**31)).reset_index(drop=True)
    cols = ["audit_ethnicity", "audit_imd_quintile"]
    s = AuditSettings(n_boot=50, seed=2)
    a = audit(prepare_audit_data(frame, group_cols=cols), s).table
    b = audit(prepare_audit_data(shuffled, group_cols=cols), s).table
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9)
