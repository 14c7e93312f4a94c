"""Bad score files give clear errors or an explicit "cannot assess", never a silent zero."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from earlywarning.fairness import AuditSettings, audit, prepare_audit_data, simulate_scores
from earlywarning.fairness import _messages as msg

GROUPS = ["audit_ethnicity", "audit_sex"]


@pytest.fixture
def frame() -> pd.DataFrame:
    return simulate_scores(600, seed=4)


def test_missing_group_column_names_file_and_column(frame):
    with pytest.raises(ValueError) as err:
        prepare_audit_data(frame.drop(columns="audit_sex"), group_cols=GROUPS, source="v.csv")
    assert str(err.value) == msg.MISSING_COLUMNS.format(
        source="v.csv", missing=["audit_sex"],
        available=list(frame.drop(columns="audit_sex").columns))


def test_unseen_group_code_names_code_and_first_row(frame):
    frame.loc[7, "audit_ethnicity"] = "Martian"
    with pytest.raises(ValueError) as err:
        prepare_audit_data(frame, group_cols=GROUPS, source="v.csv")
    assert str(err.value) == msg.UNSEEN_CODES.format(
        source="v.csv", column="audit_ethnicity", codes=["Martian"],
        attribute="Ethnicity (DfE major group)",
        valid=["White", "Mixed", "Asian", "Black", "Other", "Unknown"], row=8)


def test_file_without_outcomes_cannot_be_assessed(frame):
    frame["label"] = pd.NA
    with pytest.raises(ValueError) as err:
        prepare_audit_data(frame, group_cols=GROUPS, source="v.csv")
    assert str(err.value) == msg.NO_OUTCOMES.format(source="v.csv", column="label")


def test_outcome_column_missing_is_named(frame):
    with pytest.raises(ValueError, match=r"v.csv: missing column\(s\) \['label'\]"):
        prepare_audit_data(frame.drop(columns="label"), group_cols=GROUPS, source="v.csv")


def test_outcomes_not_zero_one_are_rejected(frame):
    frame["label"] = frame["label"].astype("float64")
    frame.loc[3, "label"] = 2.0
    with pytest.raises(ValueError) as err:
        prepare_audit_data(frame, group_cols=GROUPS, source="v.csv")
    assert str(err.value) == msg.BAD_OUTCOME_VALUES.format(
        source="v.csv", column="label", values=["2.0"], row=4)


def test_scores_outside_zero_one_are_rejected(frame):
    frame.loc[0, "score"] = 1.7
    with pytest.raises(ValueError) as err:
        prepare_audit_data(frame, group_cols=GROUPS, source="v.csv")
    assert str(err.value) == msg.BAD_SCORE_VALUES.format(
        source="v.csv", column="score", value=1.7, row=1)


def test_rows_without_outcome_are_left_out_and_counted(frame):
    frame["label"] = frame["label"].astype("Int8")
    frame.loc[:99, "label"] = pd.NA
    data = prepare_audit_data(frame, group_cols=GROUPS)
    assert data.n == 500 and data.n_without_outcome == 100
    result = audit(data, AuditSettings(n_boot=20))
    assert any("100 rows have no observed outcome" in note for note in result.notes)


def test_all_rows_in_one_group_is_an_error_naming_it(frame):
    frame["audit_sex"] = "F"
    with pytest.raises(ValueError) as err:
        prepare_audit_data(frame, group_cols=["audit_sex"])
    assert str(err.value) == msg.ONE_GROUP_ONLY.format(attribute="Sex", group="F")


def test_one_single_group_attribute_among_others_is_marked_cannot_assess(frame):
    frame["audit_sex"] = "F"
    data = prepare_audit_data(frame, group_cols=GROUPS)
    result = audit(data, AuditSettings(n_boot=20))
    assert msg.ONE_GROUP_ONLY.format(attribute="Sex", group="F") in result.notes
    assert "audit_sex" not in set(result.table.attribute)


def test_empty_group_values_become_a_visible_group(frame):
    frame.loc[:49, "audit_ethnicity"] = None
    data = prepare_audit_data(frame, group_cols=GROUPS)
    assert (np.asarray(data.groups["audit_ethnicity"]) == "Not recorded").sum() == 50


def test_no_flag_rule_is_an_error(frame):
    with pytest.raises(ValueError) as err:
        prepare_audit_data(frame.drop(columns="flagged"), group_cols=GROUPS, flagged_col=None,
                           source="v.csv")
    assert str(err.value) == msg.NO_FLAG_RULE.format(source="v.csv")


def test_top_fraction_flags_exactly_that_many(frame):
    data = prepare_audit_data(frame.drop(columns="flagged"), group_cols=GROUPS,
                              top_fraction=0.1)
    assert data.flagged.sum() == 60


def test_flags_that_are_not_booleans_are_rejected(frame):
    frame["flagged"] = frame["flagged"].astype(object)
    frame.loc[5, "flagged"] = "maybe"
    with pytest.raises(ValueError, match=r"column 'flagged' must be true/false .* at row 6"):
        prepare_audit_data(frame, group_cols=GROUPS)


def test_imd_quintile_read_as_float_matches_codes(frame):
    frame["audit_imd_quintile"] = frame["audit_imd_quintile"].astype("float64")
    data = prepare_audit_data(frame, group_cols=["audit_imd_quintile"])
    assert list(data.groups["audit_imd_quintile"].categories) == ["1", "2", "3", "4", "5"]


def test_unknown_bar_metric_is_named():
    data = prepare_audit_data(simulate_scores(300, seed=1), group_cols=GROUPS)
    with pytest.raises(ValueError, match="audit.bar.fairness: unknown metric"):
        audit(data, AuditSettings(bar={"fairness": 0.1}, n_boot=5))
