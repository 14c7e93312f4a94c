"""The point-in-time convention's worked example (see earlywarning.features._timeline)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from _warehouse import d, make_warehouse, ts, write_pipeline
from earlywarning.config import load_pipeline
from earlywarning.features import as_of_dates, build_features, horizon_end, window_start
from earlywarning.features._timeline import first_slot_on_or_after, to_days

D = date(2024, 4, 1)


def test_window_of_365_days_starts_2023_04_03():
    assert window_start(D, 365) == date(2023, 4, 3)


def test_horizon_of_365_days_ends_2025_04_01():
    assert horizon_end(D, 365) == date(2025, 4, 1)


def test_monthly_as_of_dates_keep_the_day():
    assert as_of_dates(date(2024, 1, 31), date(2024, 4, 30), "monthly") == [
        date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31), date(2024, 4, 30)]


def test_first_slot_on_or_after_counts_dates_strictly_before():
    slots = np.array([to_days(date(2024, 4, 1)), to_days(date(2024, 5, 1))])
    days = np.array([to_days(date(2024, 3, 31)), to_days(date(2024, 4, 1)),
                     to_days(date(2024, 4, 2)), to_days(date(2024, 5, 2))])
    assert first_slot_on_or_after(slots, days).tolist() == [0, 0, 1, 2]


def _person(pid: str) -> dict:
    return dict(pers_person_id=pid, pers_sex="M", pers_ethnicity="WBRI", pers_dob=d("2014-01-01"),
                pers_is_child="Y")


def _police(i: int, pid: str, day: str, recorded: object) -> dict:
    return dict(poli_event_id=f"p{i}", poli_incident_id=f"i{i}", poli_person_id=pid,
                poli_event_date=d(day), poli_event_type="domestic_abuse", poli_role="victim",
                poli_recorded_at=recorded)


def _plan(i: int, pid: str, start: str) -> dict:
    return dict(cppl_cp_plan_id=f"cp{i}", cppl_person_id=pid, cppl_cp_plan_start_date=d(start),
                cppl_recorded_at=ts(start))


@pytest.fixture(scope="module")
def worked_example(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("worked")
    wh = make_warehouse(tmp / "w.duckdb", {
        "ssd_person": [_person(p) for p in "abcdefg"],
        "ext_police_event": [
            _police(1, "a", "2024-03-30", ts("2024-04-01", "23:59")),
            _police(2, "b", "2024-03-30", ts("2024-04-02", "00:00")),
            _police(3, "c", "2023-04-02", ts("2023-04-02")),
            _police(4, "c", "2023-04-03", ts("2023-04-03")),
        ],
        "ssd_cp_plans": [_plan(1, "d", "2024-04-01"), _plan(2, "e", "2024-04-02"),
                         _plan(3, "f", "2025-04-01"), _plan(4, "g", "2025-04-02")],
    })
    path = write_pipeline(tmp / "p.yaml", wh, tmp / "out",
                          as_of={"start": "2024-04-01", "end": "2024-05-01"},
                          features={"groups": ["child_other"], "windows": [365],
                                    "coverage_indicators": False, "output_dir": str(tmp / "o")})
    frame = build_features(load_pipeline(path), write=False).frame
    return frame.set_index(["person_id", "as_of"])


def _value(frame, pid, as_of, column):
    return frame.loc[(pid, as_of), column]


def test_record_entered_before_midnight_counts_at_the_as_of_date(worked_example):
    assert _value(worked_example, "a", D, "police_child_count_365d") == 1


def test_record_entered_after_midnight_counts_only_from_the_next_as_of_date(worked_example):
    assert _value(worked_example, "b", D, "police_child_count_365d") == 0
    assert _value(worked_example, "b", date(2024, 5, 1), "police_child_count_365d") == 1


def test_window_excludes_2023_04_02_and_includes_2023_04_03(worked_example):
    assert _value(worked_example, "c", D, "police_child_count_365d") == 1


def test_child_whose_plan_starts_on_the_as_of_date_is_not_in_the_cohort(worked_example):
    assert ("d", D) not in worked_example.index


def test_plan_starting_the_day_after_is_a_positive_label(worked_example):
    assert _value(worked_example, "e", D, "label") == 1
    assert _value(worked_example, "e", D, "label_event_date") == date(2024, 4, 2)


def test_plan_starting_on_the_last_day_of_the_horizon_is_positive(worked_example):
    assert _value(worked_example, "f", D, "label") == 1


def test_plan_starting_a_day_after_the_horizon_is_negative(worked_example):
    assert _value(worked_example, "g", D, "label") == 0
    assert _value(worked_example, "g", date(2024, 5, 1), "label") == 1
