"""Invariants, for random families and records (hypothesis).

* Adding or altering records entered after an as-of date changes no feature
  value at that date or before.
* Every positive label's event lies in (as_of, as_of + horizon], and every
  outcome event in that range makes the label positive.
* The interval engine agrees with the naive range join over the same records.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
from _warehouse import create_empty_tables, insert_rows
from earlywarning.data.schema import TABLES
from earlywarning.features._compute import compute_spec, fetch_records
from earlywarning.features._engine import Grid
from earlywarning.features._sql import CHILDREN_TABLE
from earlywarning.features._timeline import as_of_dates, to_days
from earlywarning.features.dictionary import coverage_spec
from earlywarning.features.labels import build_labels
from earlywarning.features.specs import LIBRARY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

BASE = date(2021, 1, 1)
SLOTS = as_of_dates(date(2022, 1, 1), date(2024, 10, 1), "quarterly")
SLOT_DAYS = np.array([to_days(s) for s in SLOTS])
CHILDREN = ["C0", "C1", "C2"]
ADULTS = ["A0", "A1"]
PEOPLE = CHILDREN + ADULTS

_BY_NAME = {(s.name, s.aggregate): s for s in LIBRARY}
SPECS = [
    _BY_NAME[k] for k in [
        ("contacts_nfa", "count"), ("referrals", "days_since_last"),
        ("school_absence", "ratio"), ("early_help", "open"),
        ("factor_domestic_abuse", "count"), ("police_da_victim_parent", "count"),
        ("police_da_household", "count"), ("asc_parent", "open"),
        ("cp_plans_sibling", "count"), ("household_members", "open"),
        ("young_carer", "any"), ("referrals", "open"),
    ]
] + [coverage_spec("police")]
SPECS = [s if s.windows or s.aggregate == "open" else replace(s, windows=(90, 365, None))
         for s in SPECS]
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

day = st.integers(0, 4 * 365)
lag_hours = st.integers(0, 400 * 24)


def _date(offset: int) -> date:
    return BASE + timedelta(days=offset)


def _recorded(offset: int, hours: int) -> datetime:
    return datetime.combine(_date(offset), datetime.min.time()) + timedelta(hours=hours)


@st.composite
def records(draw, kind: str, i: int, min_recorded: datetime | None = None) -> tuple[str, dict]:
    """One record of ``kind``; recorded at or after ``min_recorded`` when given."""
    e = draw(day)
    rec = _recorded(e, draw(lag_hours))
    if min_recorded is not None:
        rec = max(rec, min_recorded) + timedelta(hours=draw(st.integers(0, 2000)))
    child, person = draw(st.sampled_from(CHILDREN)), draw(st.sampled_from(PEOPLE))
    end = draw(st.none() | st.integers(1, 500))
    end_date = None if end is None else _date(e + end)
    if kind == "police":
        return "ext_police_event", dict(
            poli_event_id=f"p{i}", poli_incident_id=f"i{i}", poli_person_id=person,
            poli_event_date=_date(e), poli_recorded_at=rec,
            poli_event_type=draw(st.sampled_from(["domestic_abuse", "asb"])),
            poli_role=draw(st.sampled_from(["victim", "suspect"])))
    if kind == "contact":
        nfa = draw(st.sampled_from(["Y", "N"]))
        return "ssd_contacts", dict(cont_contact_id=f"k{i}", cont_person_id=child,
                                    cont_contact_date=_date(e), cont_recorded_at=rec,
                                    cont_contact_outcome_json=f'{{"NFA_FLAG": "{nfa}"}}')
    if kind == "referral":
        return "ssd_cin_episodes", dict(cine_referral_id=f"r{i}", cine_person_id=child,
                                        cine_referral_date=_date(e), cine_recorded_at=rec)
    if kind == "attendance":
        possible = draw(st.integers(0, 150))
        return "ext_school_attendance", dict(
            atte_attendance_id=f"t{i}", atte_person_id=child, atte_term_start_date=_date(e),
            atte_term_end_date=_date(e + 80), atte_sessions_possible=possible,
            atte_sessions_missed=draw(st.integers(0, possible)),
            atte_recorded_at=max(rec, _recorded(e + 80, 1)))
    if kind == "early_help":
        return "ssd_early_help_episodes", dict(
            earl_episode_id=f"eh{i}", earl_person_id=child, earl_episode_start_date=_date(e),
            earl_episode_end_date=end_date, earl_recorded_at=rec)
    if kind == "asc":
        return "ext_asc_involvement", dict(
            asci_involvement_id=f"asc{i}", asci_person_id=person, asci_service_type="assessment",
            asci_start_date=_date(e), asci_end_date=end_date, asci_recorded_at=rec)
    if kind == "cp_plan":
        return "ssd_cp_plans", dict(cppl_cp_plan_id=f"cp{i}", cppl_person_id=child,
                                    cppl_cp_plan_start_date=_date(e),
                                    cppl_cp_plan_end_date=end_date, cppl_recorded_at=rec)
    if kind == "young_carer":
        return "ext_young_carer", dict(ycar_event_id=f"y{i}", ycar_person_id=child,
                                       ycar_assessment_date=_date(e), ycar_recorded_at=rec)
    if kind == "family":
        return "ssd_family", dict(fami_table_id=f"f{i}", fami_family_id="fam1",
                                  fami_person_id=person, fami_start_date=_date(e),
                                  fami_end_date=end_date, fami_recorded_at=rec)
    if kind == "relationship":
        rel = draw(st.sampled_from(["parent", "partner_of_parent", "sibling"]))
        other = draw(st.sampled_from(ADULTS if rel != "sibling" else CHILDREN))
        return "ext_person_relationship", dict(
            rela_relationship_id=f"rel{i}", rela_person_id=child, rela_related_person_id=other,
            rela_relationship=rel, rela_same_household="Y", rela_start_date=_date(e),
            rela_end_date=end_date, rela_recorded_at=rec)
    # an assessment with its factors, entered separately
    codes = draw(st.lists(st.sampled_from(["3A", "3B", "4B", "16A"]), min_size=1, max_size=3))
    factors = ", ".join(f'"{c}"' for c in codes)
    return "assessment", dict(
        assessment=dict(cina_assessment_id=f"as{i}", cina_person_id=child,
                        cina_assessment_start_date=_date(e),
                        cina_assessment_auth_date=_date(e + draw(st.integers(0, 60))),
                        cina_recorded_at=rec),
        factors=dict(cinf_table_id=f"af{i}", cinf_assessment_id=f"as{i}",
                     cinf_assessment_factors_json=f"[{factors}]",
                     cinf_recorded_at=rec + timedelta(hours=draw(st.integers(0, 500)))))


KINDS = ["police", "contact", "referral", "attendance", "early_help", "asc", "cp_plan",
         "young_carer", "family", "relationship", "assessment"]


@st.composite
def worlds(draw, start: int = 0, min_recorded: datetime | None = None,
           max_size: int = 30) -> list[tuple[str, dict]]:
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=max_size))
    return [draw(records(kind, start + i, min_recorded)) for i, kind in enumerate(kinds)]


def _people_rows() -> list[dict]:
    return [dict(pers_person_id=p, pers_sex="F", pers_ethnicity="WBRI",
                 pers_dob=date(2012, 1, 1) if p in CHILDREN else date(1985, 1, 1),
                 pers_is_child="Y" if p in CHILDREN else "N") for p in PEOPLE]


def _coverage_rows() -> list[dict]:
    return [dict(cove_coverage_id="cv1", cove_family_id="fam1", cove_source="police",
                 cove_start_date=date(2021, 6, 1), cove_end_date=date(2023, 6, 1))]


_CON: duckdb.DuckDBPyConnection | None = None


def connect(world: list[tuple[str, dict]]) -> duckdb.DuckDBPyConnection:
    """The shared in-memory warehouse, emptied and filled with ``world``."""
    global _CON
    if _CON is None:
        _CON = duckdb.connect()
        create_empty_tables(_CON)
        _CON.register(CHILDREN_TABLE, pa.table({"person_id": CHILDREN,
                                                "cidx": pa.array(range(3), pa.int32())}))
    con = _CON
    for table in TABLES:
        con.execute(f'DELETE FROM "{table}"')
    insert_rows(con, "ssd_person", _people_rows())
    insert_rows(con, "ext_source_coverage", _coverage_rows())
    for table, row in world:
        if table == "assessment":
            insert_rows(con, "ssd_cin_assessments", [row["assessment"]])
            insert_rows(con, "ssd_assessment_factors", [row["factors"]])
        else:
            insert_rows(con, table, [row])
    return con


GRID = Grid(slot_days=SLOT_DAYS, n_children=len(CHILDREN))


def all_features(con) -> dict[str, np.ndarray]:
    out = {}
    for spec in SPECS:
        out.update(compute_spec(con, spec, GRID))
    return out


def _alter(row: dict, table: str, shift: int) -> dict:
    """Change a record's dates (keeping it entered after the as-of date)."""
    t = {k: v for k, v in row.items()}
    for k, v in t.items():
        if isinstance(v, date) and not isinstance(v, datetime) and not k.endswith("_end_date"):
            t[k] = v + timedelta(days=shift)
    return t


@settings(SETTINGS, max_examples=15)
@given(world=worlds(), slot=st.integers(0, len(SLOTS) - 1), data=st.data())
def test_future_records_do_not_change_features(world, slot, data):
    as_of = SLOTS[slot]
    after = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    before = all_features(connect(world))
    late = data.draw(worlds(start=1000, min_recorded=after, max_size=10))
    shift = data.draw(st.integers(-300, 300))
    altered = [(t, _alter(r, t, shift)) if t != "assessment" and _rec(r) >= after else (t, r)
               for t, r in world]
    changed = all_features(connect(altered + late))
    for name, values in before.items():
        np.testing.assert_array_equal(values[:, : slot + 1], changed[name][:, : slot + 1],
                                      err_msg=f"{name} changed at or before {as_of}")


def _rec(row: dict) -> datetime:
    return next(v for k, v in row.items() if k.endswith("_recorded_at"))


@SETTINGS
@given(events=st.lists(st.tuples(st.sampled_from(CHILDREN), day,
                                 st.sampled_from(["cp_plan", "cla"])), max_size=12),
       horizon=st.integers(30, 500))
def test_every_label_event_lies_in_the_horizon(events, horizon):
    world = []
    for i, (child, e, kind) in enumerate(events):
        if kind == "cp_plan":
            world.append(("ssd_cp_plans", dict(cppl_cp_plan_id=f"cp{i}", cppl_person_id=child,
                                               cppl_cp_plan_start_date=_date(e),
                                               cppl_recorded_at=_recorded(e, 5))))
        else:
            world.append(("ssd_cla_episodes", dict(clae_cla_episode_id=f"e{i}",
                                                   clae_person_id=child,
                                                   clae_cla_episode_start_date=_date(e),
                                                   clae_recorded_at=_recorded(e, 5))))
    data_end = date(2024, 12, 31)
    labels = build_labels(connect(world), GRID, ["cp_plan", "cla"], horizon, data_end)
    for c, child in enumerate(CHILDREN):
        days = sorted(to_days(_date(e)) for ch, e, _ in events if ch == child)
        for s, d in enumerate(SLOT_DAYS):
            complete = d + horizon <= to_days(data_end)
            inside = [x for x in days if d < x <= d + horizon]
            if not complete:
                assert np.isnan(labels.label[c, s])
                continue
            assert labels.label[c, s] == (1.0 if inside else 0.0)
            if inside:
                assert d < labels.event_day[c, s] <= d + horizon
                assert labels.event_day[c, s] == inside[0]


NAIVE_SQL = """
SELECT s.slot, r.cidx, count(*) AS n, sum(r.value) AS total, sum(r.denom) AS total_denom,
       max(r.event_day) AS last_event
FROM recs AS r JOIN slots AS s
  ON r.known_day <= s.day
 AND (CAST(? AS INTEGER) IS NULL OR r.event_day > s.day - CAST(? AS INTEGER))
 AND (NOT ? OR s.day < r.until_day)
 AND r.link_from <= s.day AND s.day < r.link_until
GROUP BY s.slot, r.cidx
"""


def naive(con, spec, window) -> np.ndarray:
    rec = fetch_records(con, spec)
    never = to_days(date(9999, 12, 31))
    n = len(rec)
    recs = pa.table({
        "cidx": rec.cidx, "known_day": rec.known_day, "event_day": rec.event_day,
        "until_day": rec.until_day if rec.until_day is not None else np.full(n, never),
        "link_from": rec.link_from if rec.link_from is not None else np.full(n, -10**6),
        "link_until": rec.link_until if rec.link_until is not None else np.full(n, never),
        "value": rec.value if rec.value is not None else np.zeros(n),
        "denom": rec.denom if rec.denom is not None else np.zeros(n),
    })
    con.register("recs", recs)
    con.register("slots", pa.table({"slot": range(len(SLOTS)), "day": SLOT_DAYS}))
    rows = con.execute(NAIVE_SQL, [window, window, spec.aggregate == "open"]).fetchall()
    con.unregister("recs")
    con.unregister("slots")
    out = np.full((len(CHILDREN), len(SLOTS)), np.nan)
    agg = spec.aggregate
    for slot, cidx, count, total, total_denom, last in rows:
        out[cidx, slot] = {
            "count": count, "open": count, "any": 1.0 if count else 0.0,
            "ratio": total / total_denom if total_denom else np.nan,
            "days_since_last": SLOT_DAYS[slot] - last,
        }[agg]
    if spec.empty is not None:
        out[np.isnan(out)] = spec.empty
    return out


@settings(SETTINGS, max_examples=12)
@given(world=worlds())
def test_engine_agrees_with_the_naive_range_join(world):
    con = connect(world)
    for spec in SPECS:
        windows = (None,) if spec.aggregate == "open" else spec.windows or (None,)
        values = compute_spec(con, spec, GRID)
        for window, (name, got) in zip(windows, values.items(), strict=True):
            np.testing.assert_allclose(got, naive(con, spec, window), rtol=1e-9,
                                       err_msg=name)
