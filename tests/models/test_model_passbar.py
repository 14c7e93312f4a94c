"""The pre-registered pass bar: judged on worst-case ties, impossible bars refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from earlywarning.models import PassBarError, check_bar_reachable, check_pass_bar


def _bar(**kw):
    base = dict(min_precision_at_capacity=0.3, min_recall_at_capacity=None,
                max_calibration_error=0.05, min_roc_auc=None,
                min_pr_auc_lift_over_base_rate=None, must_beat_rule_baseline=True)
    base.update(kw)
    return SimpleNamespace(**base)


def _metrics(prec_worst=0.35, prec_best=0.5, ece=0.02, lift=1.4):
    v = lambda x: {"value": x, "ci_low": None, "ci_high": None}  # noqa: E731
    return {
        "base_rate": 0.05,
        "reference": "rule",
        "models": {"lightgbm": {
            "precision_at_capacity_worst": v(prec_worst),
            "precision_at_capacity_best": v(prec_best),
            "recall_at_capacity_worst": v(0.2), "ece": v(ece), "roc_auc": v(0.8),
            "pr_auc": v(0.25)}},
        "lift_over_reference": {"lightgbm": {"pr_auc": v(lift)}},
    }


def test_model_meeting_every_line_passes():
    result = check_pass_bar(_bar(), _metrics(), "lightgbm")
    assert result.passed
    assert result.headline().startswith("PASSED the pre-registered bar")


def test_precision_is_judged_on_the_worst_case_of_ties():
    result = check_pass_bar(_bar(), _metrics(prec_worst=0.2, prec_best=0.9), "lightgbm")
    assert not result.passed
    assert result.headline() == (
        "FAILED the pre-registered bar: lightgbm is not registered: precision at capacity "
        "(worst case of ties) 0.200 (bar >= 0.3)")


def test_not_beating_the_rule_fails():
    result = check_pass_bar(_bar(), _metrics(lift=0.95), "lightgbm")
    assert [c.metric for c in result.checks if not c.passed] == ["pr_auc_lift_over_rule"]


def test_calibration_error_above_the_bar_fails():
    result = check_pass_bar(_bar(max_calibration_error=0.01), _metrics(ece=0.03), "lightgbm")
    assert not result.passed


def test_undefined_metric_fails_rather_than_passes():
    m = _metrics()
    m["models"]["lightgbm"]["recall_at_capacity_worst"]["value"] = None
    assert not check_pass_bar(_bar(min_recall_at_capacity=0.1), m, "lightgbm").passed


def test_precision_bar_above_what_capacity_allows_is_refused_before_training():
    with pytest.raises(PassBarError, match=r"min_precision_at_capacity = 0.5: impossible on "
                                           r"this data: with 50 flags a month and on average "
                                           r"20.0 escalations .* best possible precision is "
                                           r"0.400"):
        check_bar_reachable(_bar(min_precision_at_capacity=0.5), 50, 20.0)


def test_recall_bar_above_what_capacity_allows_is_refused():
    with pytest.raises(PassBarError, match="best possible recall is 0.250"):
        check_bar_reachable(_bar(min_recall_at_capacity=0.5), 50, 200.0)


def test_reachable_bar_is_accepted():
    check_bar_reachable(_bar(min_recall_at_capacity=0.2), 50, 100.0)
