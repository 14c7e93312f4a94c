"""Children's social care work open at the as-of date: referrals, assessments, s47 enquiries.

As-of date D = 2024-06-01 (end of day). Child A:

* referral r1 2024-05-10, recorded 2024-05-11, no close date: open at D;
* referral r2 2023-02-01, closed 2023-04-01: closed before D;
* referral r3 2024-01-10, closed on D itself: ended that day, not open at D;
* referral r4 2024-05-30, recorded 2024-06-02: not yet known at D;
* assessment of r1 started 2024-05-15, authorised 2024-06-20: in progress at D;
* s47 enquiry of r1 started 2024-05-28, recorded the same day, no end: open at D.

Child B has only a referral that closed in 2023: nothing open at D.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from _warehouse import d, make_warehouse, ts, write_pipeline
from earlywarning.config import load_pipeline
from earlywarning.features import build_features, render_meaning

D = date(2024, 6, 1)
OPEN = ("referrals_open_now", "assessments_open_now", "s47_enquiries_open_now")


def _person(pid: str) -> dict:
    return dict(pers_person_id=pid, pers_sex="F", pers_ethnicity="WBRI", pers_dob=d("2015-01-01"),
                pers_is_child="Y")


def _ref(rid: str, pid: str, day: str, recorded: str, close: str | None = None) -> dict:
    return dict(cine_referral_id=rid, cine_person_id=pid, cine_referral_date=d(day),
                cine_close_date=d(close) if close else None, cine_recorded_at=ts(recorded))


TABLES = {
    "ssd_person": [_person("A"), _person("B")],
    "ssd_cin_episodes": [
        _ref("r1", "A", "2024-05-10", "2024-05-11"),
        _ref("r2", "A", "2023-02-01", "2023-02-02", close="2023-04-01"),
        _ref("r3", "A", "2024-01-10", "2024-01-11", close="2024-06-01"),
        _ref("r4", "A", "2024-05-30", "2024-06-02"),
        _ref("r5", "B", "2023-03-01", "2023-03-02", close="2023-05-01"),
    ],
    "ssd_cin_assessments": [
        dict(cina_assessment_id="as1", cina_person_id="A", cina_referral_id="r1",
             cina_assessment_start_date=d("2024-05-15"), cina_assessment_auth_date=d("2024-06-20"),
             cina_recorded_at=ts("2024-05-16")),
    ],
    "ssd_s47_enquiry": [
        dict(s47e_s47_enquiry_id="s1", s47e_referral_id="r1", s47e_person_id="A",
             s47e_s47_start_date=d("2024-05-28"), s47e_recorded_at=ts("2024-05-28", "17:00")),
    ],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("open_csc")
    wh = make_warehouse(tmp / "w.duckdb", TABLES)
    path = write_pipeline(tmp / "p.yaml", wh, tmp / "out",
                          as_of={"start": "2024-05-01", "end": "2024-07-01",
                                 "frequency": "monthly", "score": "2025-12-31"})
    return build_features(load_pipeline(path))


def _values(built, person: str, as_of: date) -> tuple[float, ...]:
    f = built.frame
    row = f[(f.person_id == person) & (f.as_of == as_of)]
    assert len(row) == 1
    return tuple(float(row[c].iloc[0]) for c in OPEN)


def test_open_work_at_the_as_of_date_is_point_in_time(built):
    assert set(OPEN) <= set(built.manifest["feature_columns"])
    # r3 was open on 2024-05-01 (its close date is later); r1 and the rest began after it
    assert _values(built, "A", date(2024, 5, 1)) == (1.0, 0.0, 0.0)
    # at D: r1 open (r3 ended on D, r4 not yet entered), its assessment and s47 open
    assert _values(built, "A", D) == (1.0, 1.0, 1.0)
    # 2024-07-01: r1 and now-known r4 open, the assessment authorised on 2024-06-20
    assert _values(built, "A", date(2024, 7, 1)) == (2.0, 0.0, 1.0)
    assert _values(built, "B", D) == (0.0, 0.0, 0.0)


def test_dictionary_describes_open_work(built):
    entries = {e["name"]: e for e in json.loads(
        (built.out_dir / "feature_dictionary.json").read_text())}
    e = entries["s47_enquiries_open_now"]
    assert (e["aggregate"], e["source_agency"], e["subject"]) == ("open", "csc", "child")
    assert render_meaning(e["meaning"], 1) == (
        "1 child protection (section 47) enquiry about the child open now")
    assert render_meaning(entries["referrals_open_now"]["meaning"], 2) == (
        "2 referrals of the child to children's social care open now")
