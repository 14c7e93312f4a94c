"""The audit's numbers against a hand-computed example, and its honesty rules."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from earlywarning.fairness import AuditSettings, audit, prepare_audit_data, simulate_scores
from earlywarning.fairness import _messages as msg

# Two groups of five children. Worked by hand:
#   A: tp=1 (0.9), fp=1 (0.8), fn=1 (0.3), tn=2 (0.2, 0.1)
#   B: tp=0, fp=1 (0.7), fn=2 (0.6, 0.5), tn=2 (0.4, 0.05)
HAND = pd.DataFrame({
    "score": [0.9, 0.8, 0.3, 0.2, 0.1, 0.7, 0.6, 0.5, 0.4, 0.05],
    "label": [1, 0, 1, 0, 0, 0, 1, 1, 0, 0],
    "flagged": [True, True, False, False, False, True, False, False, False, False],
    "grp": ["A"] * 5 + ["B"] * 5,
})
# Twenty copies of each child: the same rates and AUC, and enough rows that
# every resample holds both outcomes in both groups.
HAND20 = pd.concat([HAND] * 20, ignore_index=True)
EXPECTED = {
    "A": {"selection_rate": 2 / 5, "false_positive_rate": 1 / 3, "false_negative_rate": 1 / 2,
          "precision": 1 / 2, "recall": 1 / 2, "auc": 5 / 6, "base_rate": 2 / 5,
          "mean_predicted": 2.3 / 5, "calibration_gap": 2.3 / 5 - 2 / 5, "ece": 1.9 / 5},
    "B": {"selection_rate": 1 / 5, "false_positive_rate": 1 / 3, "false_negative_rate": 1.0,
          "precision": 0.0, "recall": 0.0, "auc": 4 / 6, "base_rate": 2 / 5,
          "mean_predicted": 2.25 / 5, "calibration_gap": 2.25 / 5 - 2 / 5, "ece": 2.05 / 5},
}
LENIENT = AuditSettings(min_group_size=1, min_events=1, n_boot=200, seed=3,
                        reference_groups={"grp": "A"})


@pytest.fixture(scope="module")
def hand_result():
    data = prepare_audit_data(HAND20, group_cols=["grp"], source="hand.csv")
    return audit(data, LENIENT)


def _value(result, group, metric, column="value"):
    t = result.table
    return t.loc[(t.group == group) & (t.metric == metric), column].item()


@pytest.mark.parametrize("group", ["A", "B"])
def test_group_metrics_match_hand_computed_example(hand_result, group):
    for metric, expected in EXPECTED[group].items():
        assert _value(hand_result, group, metric) == pytest.approx(expected), metric


def test_differences_and_ratios_are_against_the_reference_group(hand_result):
    assert _value(hand_result, "B", "false_negative_rate", "diff_ref") == pytest.approx(0.5)
    assert _value(hand_result, "B", "false_negative_rate", "ratio_ref") == pytest.approx(2.0)
    assert _value(hand_result, "B", "selection_rate", "diff_overall") == pytest.approx(0.2 - 0.3)
    assert np.isnan(_value(hand_result, "A", "selection_rate", "diff_ref"))
    assert _value(hand_result, "A", "selection_rate", "comparison_status") == "reference group"


def test_overall_metrics_match_hand_computed_example(hand_result):
    overall = hand_result.overall.set_index("metric")["value"]
    assert overall["false_negative_rate"] == pytest.approx(3 / 4)
    assert overall["precision"] == pytest.approx(1 / 3)
    assert overall["selection_rate"] == pytest.approx(3 / 10)


def test_every_interval_contains_its_estimate(hand_result):
    t = hand_result.table.dropna(subset=["value"])
    assert ((t.ci_low <= t.value + 1e-12) & (t.value <= t.ci_high + 1e-12)).all()


def test_a_rate_of_zero_or_one_gets_an_interval_of_real_width(hand_result):
    # B's FNR is 40/40 and its precision 0/20: resampling alone gives [1, 1] and [0, 0].
    assert _value(hand_result, "B", "false_negative_rate", "ci_low") < 0.95
    assert _value(hand_result, "B", "precision", "ci_high") > 0.1
    assert _value(hand_result, "B", "false_negative_rate", "diff_ref_high") > 0.5


def test_small_groups_are_too_few_to_say_never_a_number():
    frame = simulate_scores(3000, seed=2)
    data = prepare_audit_data(frame, group_cols=["audit_sex"])
    result = audit(data, AuditSettings(n_boot=50, min_group_size=100))
    u = result.table[result.table.group == "U"]
    assert (u["status"] == msg.TOO_FEW).all()
    assert u[["value", "ci_low", "ci_high", "diff_ref", "ratio_ref"]].isna().all().all()
    assert not u["disparity"].any()


def test_rates_with_too_few_events_are_not_shown():
    frame = simulate_scores(3000, seed=2)
    data = prepare_audit_data(frame, group_cols=["audit_disability"])
    result = audit(data, AuditSettings(n_boot=50, min_group_size=30, min_events=1000))
    fnr = result.table[result.table.metric == "false_negative_rate"]
    assert fnr["status"].str.startswith("too few to say (fewer than 1000 children with").all()
    assert fnr["value"].isna().all()


def test_same_seed_gives_same_intervals():
    frame = simulate_scores(2000, seed=5)
    data = prepare_audit_data(frame, group_cols=["audit_ethnicity"])
    a = audit(data, AuditSettings(n_boot=100, seed=9)).table
    b = audit(data, AuditSettings(n_boot=100, seed=9)).table
    pd.testing.assert_frame_equal(a, b)


def test_unknown_reference_group_is_named():
    data = prepare_audit_data(HAND, group_cols=["grp"], source="hand.csv")
    with pytest.raises(ValueError) as err:
        audit(data, AuditSettings(reference_groups={"grp": "C"}, n_boot=10))
    assert str(err.value) == msg.UNKNOWN_REFERENCE.format(
        attribute="grp", group="C", present=["A", "B"])


def test_intersections_are_audited_as_groups():
    frame = simulate_scores(4000, seed=1)
    data = prepare_audit_data(frame, group_cols=["audit_ethnicity", "audit_imd_quintile"],
                              intersections=[("audit_ethnicity", "audit_imd_quintile")])
    result = audit(data, AuditSettings(n_boot=50))
    inter = result.groups[result.groups.attribute == "audit_ethnicity × audit_imd_quintile"]
    assert "White × 1" in set(inter.group)
    assert inter["n"].sum() == 4000


def test_clustered_rows_widen_the_intervals():
    # each child appears at four as-of dates with the same outcome: resampling rows
    # would treat four copies as four independent children
    frame = simulate_scores(1500, seed=3)
    frame = pd.concat([frame.assign(as_of=frame.as_of + pd.DateOffset(months=m))
                       for m in range(4)], ignore_index=True)
    rows = prepare_audit_data(frame, group_cols=["audit_ethnicity"])
    families = prepare_audit_data(frame, group_cols=["audit_ethnicity"], cluster_col="person_id")
    assert rows.clusters is None and families.clusters.max() == 1499
    s = AuditSettings(n_boot=300, seed=1)
    a, b = audit(rows, s), audit(families, s)
    width = {k: (r.table.ci_high - r.table.ci_low).median() for k, r in (("rows", a),
                                                                          ("clusters", b))}
    assert width["clusters"] > 1.6 * width["rows"]  # about sqrt(4) = 2
    pd.testing.assert_series_equal(a.table.value, b.table.value)
    assert b.resampled == "clusters of rows sharing person_id"
